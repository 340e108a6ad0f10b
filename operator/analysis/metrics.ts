// The operator's own view of analysis for Grafana and alerts: the last value
// of every analysed metric, for the new revision and for stable side by side.
import type { Registry } from "prom-client";
import { gaugeOn } from "../runtime/metrics.ts";
import type { MetricJudgement } from "./judge.ts";

export const ANALYSIS_METRIC_VALUE = "modelops_analysis_metric_value";

const LABELS = ["namespace", "deployment", "analysis", "metric", "revision"] as const;

export interface AnalysisSeries {
  namespace: string;
  deployment: string;
  /** Name of the analysis run, e.g. step-2 or background. */
  analysis: string;
  revision: string;
  stableRevision?: string | undefined;
}

/**
 * Sets the gauge from one measurement. A metric without a value (no data,
 * query error) has its series removed: a stale number would look measured.
 */
export function recordAnalysisMetricValues(
  registry: Registry,
  series: AnalysisSeries,
  results: MetricJudgement[],
): void {
  const gauge = gaugeOn(registry, {
    name: ANALYSIS_METRIC_VALUE,
    help: "Last measured value of an analysis metric, per revision (new and stable).",
    labelNames: LABELS,
  });
  for (const result of results) {
    const base = { namespace: series.namespace, deployment: series.deployment, analysis: series.analysis };
    const canary = { ...base, metric: result.metric, revision: series.revision };
    if (result.value === undefined) gauge.remove(canary);
    else gauge.set(canary, result.value);
    if (series.stableRevision === undefined) continue;
    const stable = { ...base, metric: result.metric, revision: series.stableRevision };
    if (result.stableValue === undefined) gauge.remove(stable);
    else gauge.set(stable, result.stableValue);
  }
}
