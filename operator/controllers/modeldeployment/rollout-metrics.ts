// Rollout metrics an SRE alerts on: the phase and weight of every
// ModelDeployment, and finished rollouts by outcome. Each ModelDeployment's
// series go when it is deleted, its analysis series when their run leaves
// the rollout, so cardinality follows what exists.
import type { Registry } from "prom-client";
import { forgetAnalysisSeries, retainAnalysisSeries } from "../../analysis/metrics.ts";
import { MODEL_DEPLOYMENT_PHASES, type ModelDeployment } from "../../api/index.ts";
import type { EngineEvent, Status } from "../../rollout/types.ts";
import { counterOn, gaugeOn } from "../../runtime/metrics.ts";

const PHASE = {
  name: "modelops_rollout_phase",
  help: "1 for the phase the ModelDeployment is in, 0 for the others.",
  labelNames: ["namespace", "name", "phase"],
};
const CANARY_WEIGHT = {
  name: "modelops_rollout_canary_weight",
  help: "Percentage of traffic sent to the revision being rolled out.",
  labelNames: ["namespace", "name"],
};
const TOTAL = {
  name: "modelops_rollout_total",
  help: "Finished rollouts by outcome: promoted, rolled_back, superseded.",
  labelNames: ["namespace", "name", "outcome"],
};

const OUTCOME_BY_EVENT: Record<string, string> = {
  Promoted: "promoted",
  RolledBack: "rolled_back",
  RolloutSuperseded: "superseded",
};
const OUTCOMES = Object.values(OUTCOME_BY_EVENT);

export function recordRolloutMetrics(
  registry: Registry,
  mdep: ModelDeployment,
  status: Status,
  events: EngineEvent[],
): void {
  const series = { namespace: mdep.metadata.namespace ?? "", name: mdep.metadata.name };
  const phase = gaugeOn(registry, PHASE);
  for (const p of MODEL_DEPLOYMENT_PHASES) phase.set({ ...series, phase: p }, status.phase === p ? 1 : 0);
  gaugeOn(registry, CANARY_WEIGHT).set(series, status.canaryWeight ?? 0);
  const total = counterOn(registry, TOTAL);
  // Every outcome is exported from the first reconcile, at 0 until it happens:
  // increase() cannot see a counter whose first sample is already 1.
  for (const outcome of OUTCOMES) total.inc({ ...series, outcome }, 0);
  for (const e of events) {
    const outcome = OUTCOME_BY_EVENT[e.reason];
    if (outcome) total.inc({ ...series, outcome });
  }
  retainAnalysisSeries(
    registry,
    { namespace: series.namespace, deployment: series.name },
    status.analysisRuns ?? [],
  );
}

/** Forget a deleted ModelDeployment's series. */
export function forgetRolloutMetrics(registry: Registry, namespace: string, name: string): void {
  const series = { namespace, name };
  for (const p of MODEL_DEPLOYMENT_PHASES) existing(registry, PHASE.name)?.remove({ ...series, phase: p });
  existing(registry, CANARY_WEIGHT.name)?.remove(series);
  for (const outcome of OUTCOMES) existing(registry, TOTAL.name)?.remove({ ...series, outcome });
  forgetAnalysisSeries(registry, { namespace, deployment: name });
}

/** The metric if it was ever created; forgetting never creates one. */
function existing(
  registry: Registry,
  name: string,
): { remove(labels: Record<string, string>): void } | undefined {
  return registry.getSingleMetric(name) as { remove(labels: Record<string, string>): void } | undefined;
}
