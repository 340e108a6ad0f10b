// One measurement of an analysis: the only I/O in analysis, kept thin. The
// reconciler calls it when isMeasurementDue says so, then recordMeasurement.
import { type Analysis, type AnalysisMetric, parseDurationMs } from "../api/index.ts";
import { type JudgeContext, judgeMetric, type MetricJudgement } from "./judge.ts";
import type { MetricProvider, MetricResult, QueryOptions } from "./provider.ts";
import { builtinQuery, formatPromDuration, type QueryVariables, renderQuery } from "./queries.ts";

export interface MeasureContext {
  namespace: string;
  /** The ModelDeployment. */
  name: string;
  /** Revision under analysis (canary, preview or shadow). */
  revision: string;
  stableRevision?: string | undefined;
  /** ModelVersion of the revision under analysis. */
  version: string;
  /** ModelVersion of the stable revision, for {{version}} in a user query compared with stable. */
  stableVersion?: string | undefined;
  /**
   * Measure the stable side as of this time. A post-promotion guard compares
   * the promoted revision with the one it replaced, which no longer gets
   * traffic: its honest baseline is the window before the switch.
   */
  stableAt?: Date | undefined;
}

type MeasuredAnalysis = Pick<Analysis, "interval"> & { metrics: AnalysisMetric[] };

/**
 * Queries every metric for the revision (and for stable, when a metric is
 * bounded relative to it) in parallel, and judges each. Never throws.
 */
export async function measureAnalysis(
  provider: MetricProvider,
  analysis: MeasuredAnalysis,
  ctx: MeasureContext,
  options: QueryOptions = {},
): Promise<MetricJudgement[]> {
  let interval: string;
  try {
    interval = formatPromDuration(parseDurationMs(analysis.interval));
  } catch (err) {
    const message = `analysis interval: ${(err as Error).message}`;
    return analysis.metrics.map((m) => ({ metric: m.name, phase: "Error", message }));
  }
  const judgeCtx: JudgeContext = { revision: ctx.revision, stableRevision: ctx.stableRevision, interval };
  return Promise.all(
    analysis.metrics.map(async (metric) => {
      const [canary, stable] = await Promise.all([
        measureSide(provider, metric, canaryVariables(ctx, interval), options),
        metric.maxRatioToStable === undefined
          ? undefined
          : measureStable(provider, metric, ctx, interval, options),
      ]);
      return judgeMetric(metric, canary, stable, judgeCtx);
    }),
  );
}

function canaryVariables(ctx: MeasureContext, interval: string): QueryVariables {
  return { ...ctx, interval };
}

async function measureStable(
  provider: MetricProvider,
  metric: AnalysisMetric,
  ctx: MeasureContext,
  interval: string,
  options: QueryOptions,
): Promise<MetricResult | undefined> {
  // No stable revision (a first rollout): judgement explains the missing comparison.
  if (ctx.stableRevision === undefined) return undefined;
  const vars: QueryVariables = {
    ...ctx,
    revision: ctx.stableRevision,
    version: ctx.stableVersion,
    interval,
  };
  return measureSide(provider, metric, vars, { ...options, time: ctx.stableAt });
}

/** Runs the metric's query for the revision in `vars.revision`. */
function measureSide(
  provider: MetricProvider,
  metric: AnalysisMetric,
  vars: QueryVariables,
  options: QueryOptions,
): Promise<MetricResult> {
  const query = metricQuery(metric, vars);
  if (!query.ok) return Promise.resolve({ kind: "error", message: query.message });
  return provider.query(query.query, options).catch((err: unknown) => ({
    // A substituted provider might throw; a measurement still must not.
    kind: "error" as const,
    message: `metric provider failed: ${(err as Error)?.message ?? String(err)}`,
  }));
}

export function metricQuery(
  metric: Pick<AnalysisMetric, "builtin" | "query">,
  vars: QueryVariables,
): { ok: true; query: string } | { ok: false; message: string } {
  if (metric.builtin) {
    return {
      ok: true,
      query: builtinQuery(metric.builtin, {
        namespace: vars.namespace,
        deployment: vars.name,
        revision: vars.revision,
        interval: vars.interval,
      }),
    };
  }
  if (metric.query === undefined) return { ok: false, message: "the metric sets neither builtin nor query" };
  return renderQuery(metric.query, vars);
}
