// The operator's own view of analysis for Grafana and alerts: the last value
// of every analysed metric, for the new revision and for stable side by side.
// A run's series live while the run is part of the rollout (listed in
// status.analysisRuns) and go with it, so cardinality does not grow with
// every rollout.
import type { Registry } from "prom-client";
import { type HeldValue, heldSeries } from "../runtime/held-series.ts";
import { gaugeOn } from "../runtime/metrics.ts";
import type { MetricJudgement } from "./judge.ts";

export const ANALYSIS_METRIC_VALUE = "modelops_analysis_metric_value";

const LABELS = ["namespace", "deployment", "analysis", "metric", "revision"] as const;
type Label = (typeof LABELS)[number];

/** The ModelDeployment whose analyses the series describe. */
export interface AnalysedDeployment {
  namespace: string;
  deployment: string;
}

export interface AnalysisSeries extends AnalysedDeployment {
  /** Name of the analysis run, e.g. step-2 or background. */
  analysis: string;
  revision: string;
  stableRevision?: string | undefined;
}

/** The status fields of a run that identify it. */
export type RunIdentity = { name: string; revision?: string | undefined };

function values(registry: Registry) {
  return heldSeries(
    gaugeOn(registry, {
      name: ANALYSIS_METRIC_VALUE,
      help: "Last measured value of an analysis metric, per revision (new and stable).",
      labelNames: LABELS,
    }),
  );
}

const ownerOf = (d: AnalysedDeployment) => `${d.namespace}/${d.deployment}`;
/** A run is its name and the revision it analyses: step-1 of the next rollout is another run. */
const holderOf = (analysis: string, revision: string) => `${analysis}\n${revision}`;

/**
 * Sets the gauge from one measurement. A metric without a value (no data,
 * query error) has its series removed: a stale number would look measured.
 */
export function recordAnalysisMetricValues(
  registry: Registry,
  series: AnalysisSeries,
  results: MetricJudgement[],
): void {
  const measured: HeldValue<Label>[] = [];
  for (const result of results) {
    const base = { namespace: series.namespace, deployment: series.deployment, analysis: series.analysis };
    if (result.value !== undefined)
      measured.push({
        labels: { ...base, metric: result.metric, revision: series.revision },
        value: result.value,
      });
    if (series.stableRevision !== undefined && result.stableValue !== undefined) {
      const labels = { ...base, metric: result.metric, revision: series.stableRevision };
      measured.push({ labels, value: result.stableValue });
    }
  }
  values(registry).hold(ownerOf(series), holderOf(series.analysis, series.revision), measured);
}

/** Keeps the series of `runs` (the rollout's status.analysisRuns) and removes the deployment's others. */
export function retainAnalysisSeries(
  registry: Registry,
  deployment: AnalysedDeployment,
  runs: RunIdentity[],
): void {
  const live = new Set(runs.map((r) => holderOf(r.name, r.revision ?? "")));
  values(registry).retain(ownerOf(deployment), (holder) => live.has(holder));
}

/** Removes every analysis series of a deleted ModelDeployment. */
export function forgetAnalysisSeries(registry: Registry, deployment: AnalysedDeployment): void {
  values(registry).forget(ownerOf(deployment));
}
