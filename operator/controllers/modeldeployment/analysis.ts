// Measuring the analyses a rollout runs: before each engine step the shell
// queries Prometheus for every analysis that is due and records the result
// in status, where the engine reads it.

import {
  type MetricJudgement,
  type MetricProvider,
  measureAnalysis,
  nextMeasurementAt,
  recordAnalysisMetricValues,
  recordMeasurement,
} from "../../analysis/index.ts";
import type { ModelDeployment } from "../../api/index.ts";
import { type RunSpec, runSpecs } from "../../rollout/analyses.ts";
import type { AnalysisRun, Status } from "../../rollout/types.ts";
import type { ReconcileDeps } from "../context.ts";

/** Measures every due run; returns the status with their results and when the next one is due. */
export async function measureDueAnalyses(
  deps: ReconcileDeps,
  mdep: ModelDeployment,
  status: Status,
  now: Date,
): Promise<{ status: Status; nextDueMs: number | undefined }> {
  const runs = status.analysisRuns ?? [];
  const specs = runSpecs(mdep);
  let nextDueMs: number | undefined;
  const measured: AnalysisRun[] = [];
  for (const run of runs) {
    const spec = specs.get(run.name);
    let next = run;
    const due = spec ? nextMeasurementAt(run, spec.analysis) : undefined;
    if (spec && due && due.getTime() <= now.getTime()) {
      const results = await measure(deps, mdep, status, run, spec);
      next = recordMeasurement(run, spec.analysis, results, now, { defaultCount: spec.defaultCount });
    }
    const after = spec ? nextMeasurementAt(next, spec.analysis) : undefined;
    if (after) nextDueMs = Math.min(nextDueMs ?? Number.POSITIVE_INFINITY, after.getTime() - now.getTime());
    measured.push(next);
  }
  return { status: runs.length > 0 ? { ...status, analysisRuns: measured } : status, nextDueMs };
}

async function measure(
  deps: ReconcileDeps,
  mdep: ModelDeployment,
  status: Status,
  run: AnalysisRun,
  { id, analysis }: RunSpec,
): Promise<MetricJudgement[]> {
  // The guard compares the promoted revision with the one it replaced.
  const guard = id.kind === "postPromotion";
  const baseline = guard
    ? { revision: status.previousRevision, version: status.previousVersion }
    : { revision: status.stableRevision, version: status.stableVersion };
  const ctx = {
    namespace: mdep.metadata.namespace ?? "",
    name: mdep.metadata.name,
    revision: run.revision ?? "",
    stableRevision: baseline.revision,
    version: (guard ? status.stableVersion : status.canaryVersion) ?? "",
    stableVersion: baseline.version,
    // The guard's run starts at the switch; the previous revision's traffic ends there.
    stableAt: guard && run.startTime ? new Date(run.startTime) : undefined,
  };
  const results = deps.prometheus
    ? await measureAnalysis(deps.prometheus, analysis, ctx)
    : analysis.metrics.map((m) => noProvider(m.name));
  recordAnalysisMetricValues(
    deps.registry,
    {
      namespace: ctx.namespace,
      deployment: ctx.name,
      analysis: run.name,
      revision: ctx.revision,
      stableRevision: ctx.stableRevision,
    },
    results,
  );
  return results;
}

function noProvider(metric: string): MetricJudgement {
  return {
    metric,
    phase: "Error",
    message: `${metric}: no Prometheus to query; start the operator with --prometheus-address`,
  };
}

export type { MetricProvider };
