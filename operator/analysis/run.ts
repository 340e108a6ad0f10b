// Progression of one analysis run, pure and deterministic given `now`: the
// whole state is the status object, so an operator restarted between two
// measurements resumes exactly where it stopped.
import { type AnalysisRunStatus, parseDurationMs, STATUS_LIMITS } from "../api/index.ts";
import { kubeTime } from "../runtime/conditions.ts";
import type { JudgementPhase, MetricJudgement } from "./judge.ts";

/**
 * Query errors in a row after which the run fails. Argo Rollouts' default;
 * a few blips are tolerated, a Prometheus that stays down never lets a new
 * version be promoted.
 */
export const CONSECUTIVE_ERROR_LIMIT = 4;

export interface MeasuredMetric {
  name: string;
  phase: JudgementPhase;
  value?: number;
  stableValue?: number;
}

export type MeasurementRecord = NonNullable<AnalysisRunStatus["measurements"]>[number];

export type AnalysisRun = AnalysisRunStatus;

/** The parts of an analysis spec the progression reads (an Analysis fits). */
export interface RunLimits {
  interval: string;
  count?: number | undefined;
  failureLimit?: number | undefined;
  inconclusiveLimit?: number | undefined;
}

export interface RunOptions {
  /**
   * Measurements after which the run succeeds when the spec sets no count:
   * 3 for step and pre/post-promotion analyses; omit for background
   * analyses, which run until the rollout ends.
   */
  defaultCount?: number;
  consecutiveErrorLimit?: number;
}

export function startRun(name: string, revision: string, now: Date): AnalysisRun {
  return {
    name,
    revision,
    phase: "Running",
    startTime: kubeTime(now),
    successful: 0,
    failed: 0,
    inconclusive: 0,
    consecutiveErrors: 0,
    errors: 0,
    message: "waiting for the first measurement",
  };
}

function isActive(run: AnalysisRun): boolean {
  // An inconclusive run keeps measuring so that data arriving resumes it.
  return run.phase === "Running" || run.phase === "Inconclusive";
}

/**
 * When the next measurement is due; undefined once the run is decided. The
 * first one is one interval after the start, not at once: each built-in
 * query looks back one interval, and at the start of a step the new weight
 * has not sent any traffic yet, which would read as "no data".
 */
export function nextMeasurementAt(run: AnalysisRun, analysis: RunLimits): Date | undefined {
  if (!isActive(run)) return undefined;
  const base = Date.parse(run.lastMeasurementTime ?? run.startTime ?? "");
  if (Number.isNaN(base)) return new Date(0);
  return new Date(base + parseDurationMs(analysis.interval));
}

export function isMeasurementDue(run: AnalysisRun, analysis: RunLimits, now: Date): boolean {
  const due = nextMeasurementAt(run, analysis);
  return due !== undefined && now.getTime() >= due.getTime();
}

const SEVERITY: Record<JudgementPhase, number> = { Successful: 0, Inconclusive: 1, Error: 2, Failed: 3 };

/** A measurement is as bad as its worst metric: Failed > Error > Inconclusive > Successful. */
export function measurementPhase(results: MetricJudgement[]): JudgementPhase {
  if (results.length === 0) return "Error";
  return results.reduce<JudgementPhase>(
    (worst, r) => (SEVERITY[r.phase] > SEVERITY[worst] ? r.phase : worst),
    "Successful",
  );
}

/** Records one measurement (the judgements of every metric) and decides the run's phase. */
export function recordMeasurement(
  run: AnalysisRun,
  analysis: RunLimits,
  results: MetricJudgement[],
  now: Date,
  options: RunOptions = {},
): AnalysisRun {
  if (!isActive(run)) return run;
  const phase = measurementPhase(results);
  const time = kubeTime(now);
  const counted = countMeasurement(run, phase);
  const next: AnalysisRun = {
    ...counted,
    lastMeasurementTime: time,
    metrics: mergeMetricResults(run.metrics ?? [], results),
    measurements: [...(run.measurements ?? []), { time, phase, metrics: results.map(measuredMetric) }].slice(
      -STATUS_LIMITS.measurements,
    ),
  };
  return decide(next, analysis, phase, results, options);
}

function countMeasurement(run: AnalysisRun, phase: JudgementPhase): AnalysisRun {
  const next: AnalysisRun = {
    ...run,
    successful: run.successful ?? 0,
    failed: run.failed ?? 0,
    inconclusive: run.inconclusive ?? 0,
    errors: run.errors ?? 0,
    consecutiveErrors: phase === "Error" ? (run.consecutiveErrors ?? 0) + 1 : 0,
  };
  if (phase === "Successful") next.successful = (next.successful ?? 0) + 1;
  if (phase === "Failed") next.failed = (next.failed ?? 0) + 1;
  if (phase === "Inconclusive") next.inconclusive = (next.inconclusive ?? 0) + 1;
  if (phase === "Error") next.errors = (next.errors ?? 0) + 1;
  // Data arrived for a paused (inconclusive) run: it goes on by itself, and
  // the inconclusive budget starts again.
  if (run.phase === "Inconclusive" && phase === "Successful") next.inconclusive = 0;
  return next;
}

function decide(
  run: AnalysisRun,
  analysis: RunLimits,
  phase: JudgementPhase,
  results: MetricJudgement[],
  options: RunOptions,
): AnalysisRun {
  const errorLimit = options.consecutiveErrorLimit ?? CONSECUTIVE_ERROR_LIMIT;
  const failureLimit = analysis.failureLimit ?? 0;
  const inconclusiveLimit = analysis.inconclusiveLimit ?? 0;
  const count = analysis.count ?? options.defaultCount;
  const failed = run.failed ?? 0;
  const inconclusive = run.inconclusive ?? 0;
  const taken = (run.successful ?? 0) + failed + inconclusive;
  const latest = describe(results, phase);

  if ((run.consecutiveErrors ?? 0) >= errorLimit) {
    return {
      ...run,
      phase: "Failed",
      message: `${run.consecutiveErrors} measurements in a row could not be taken (limit ${errorLimit}): ${latest}`,
    };
  }
  if (failed > failureLimit) {
    return {
      ...run,
      phase: "Failed",
      message: `${failed} failed measurement(s), more than failureLimit ${failureLimit}: ${latest}`,
    };
  }
  if (inconclusive > inconclusiveLimit) {
    return {
      ...run,
      phase: "Inconclusive",
      message:
        `${inconclusive} inconclusive measurement(s), more than inconclusiveLimit ${inconclusiveLimit}: ${latest}. ` +
        "Waiting for data or for a human to promote or abort.",
    };
  }
  if (count !== undefined && taken >= count) {
    return { ...run, phase: "Successful", message: `${taken} of ${count} measurements done: ${latest}` };
  }
  const progress = count === undefined ? `measurement ${taken}` : `measurement ${taken} of ${count}`;
  return { ...run, phase: "Running", message: `${progress}: ${latest}` };
}

// The metrics that made the measurement what it is, or all when it passed.
function describe(results: MetricJudgement[], phase: JudgementPhase): string {
  if (results.length === 0) return "no metric was measured";
  const relevant = phase === "Successful" ? results : results.filter((r) => r.phase === phase);
  return relevant.map((r) => r.message).join("; ");
}

function measuredMetric(result: MetricJudgement): MeasuredMetric {
  const metric: MeasuredMetric = { name: result.metric, phase: result.phase };
  if (result.value !== undefined) metric.value = result.value;
  if (result.stableValue !== undefined) metric.stableValue = result.stableValue;
  return metric;
}

type MetricResultStatus = NonNullable<AnalysisRunStatus["metrics"]>[number];

/** Last result per metric; metrics no longer measured keep their last result. */
function mergeMetricResults(
  previous: MetricResultStatus[],
  results: MetricJudgement[],
): MetricResultStatus[] {
  const byName = new Map(previous.map((m) => [m.name, m]));
  for (const result of results) byName.set(result.metric, metricResultStatus(result));
  return [...byName.values()];
}

function metricResultStatus(result: MetricJudgement): MetricResultStatus {
  const status: MetricResultStatus = {
    name: result.metric,
    phase: result.phase,
    message: result.message,
  };
  if (result.value !== undefined) status.value = result.value;
  if (result.stableValue !== undefined) status.stableValue = result.stableValue;
  return status;
}
