// Rollout metrics an SRE alerts on: the phase and weight of every
// ModelDeployment, and finished rollouts by outcome.
import type { Registry } from "prom-client";
import { MODEL_DEPLOYMENT_PHASES, type ModelDeployment } from "../../api/index.ts";
import type { EngineEvent, Status } from "../../rollout/types.ts";
import { counterOn, gaugeOn } from "../../runtime/metrics.ts";

const OUTCOME_BY_EVENT: Record<string, string> = {
  Promoted: "promoted",
  RolledBack: "rolled_back",
  RolloutSuperseded: "superseded",
};

export function recordRolloutMetrics(
  registry: Registry,
  mdep: ModelDeployment,
  status: Status,
  events: EngineEvent[],
): void {
  const series = { namespace: mdep.metadata.namespace ?? "", name: mdep.metadata.name };
  const phase = gaugeOn(registry, {
    name: "modelops_rollout_phase",
    help: "1 for the phase the ModelDeployment is in, 0 for the others.",
    labelNames: ["namespace", "name", "phase"],
  });
  for (const p of MODEL_DEPLOYMENT_PHASES) phase.set({ ...series, phase: p }, status.phase === p ? 1 : 0);
  gaugeOn(registry, {
    name: "modelops_rollout_canary_weight",
    help: "Percentage of traffic sent to the revision being rolled out.",
    labelNames: ["namespace", "name"],
  }).set(series, status.canaryWeight ?? 0);
  const total = counterOn(registry, {
    name: "modelops_rollout_total",
    help: "Finished rollouts by outcome: promoted, rolled_back, superseded.",
    labelNames: ["namespace", "name", "outcome"],
  });
  for (const e of events) {
    const outcome = OUTCOME_BY_EVENT[e.reason];
    if (outcome) total.inc({ ...series, outcome });
  }
}

/** Forget a deleted ModelDeployment's series. */
export function forgetRolloutMetrics(registry: Registry, namespace: string, name: string): void {
  for (const metric of ["modelops_rollout_phase", "modelops_rollout_canary_weight"]) {
    const m = registry.getSingleMetric(metric) as
      | { remove?: (labels: Record<string, string>) => void }
      | undefined;
    if (!m?.remove) continue;
    if (metric === "modelops_rollout_phase")
      for (const phase of MODEL_DEPLOYMENT_PHASES) m.remove({ namespace, name, phase });
    else m.remove({ namespace, name });
  }
}
