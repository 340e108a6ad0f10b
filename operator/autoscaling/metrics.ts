// The builtin autoscaler's gauges, per ModelDeployment: what it asked for and
// the load it measured. They live as long as the ModelDeployment uses the
// builtin provider; the reconciler forgets them when it is deleted, so a
// deleted ModelDeployment leaves no series behind.
import type { Registry } from "prom-client";
import { AUTOSCALING_TARGET_TYPES, type AutoscalingTarget } from "../api/index.ts";
import { gaugeOn } from "../runtime/metrics.ts";

const DESIRED = {
  name: "modelops_autoscaler_desired_replicas",
  help: "Pods the builtin autoscaler asked for.",
  labelNames: ["namespace", "name"],
} as const;
const METRIC_VALUE = {
  name: "modelops_autoscaler_metric_value",
  help: "Client load the builtin autoscaler measured over its stable window, per target type; absent without data.",
  labelNames: ["namespace", "name", "type"],
} as const;

export type Measurement = { type: AutoscalingTarget["type"]; value: number | undefined };

export function recordAutoscalerMetrics(
  registry: Registry,
  mdep: { namespace: string; name: string },
  desired: number,
  measured: Measurement[],
): void {
  gaugeOn(registry, { ...DESIRED, labelNames: [...DESIRED.labelNames] }).set(mdep, desired);
  const value = gaugeOn(registry, { ...METRIC_VALUE, labelNames: [...METRIC_VALUE.labelNames] });
  for (const m of measured) {
    // Without data the series goes away rather than show the last value as if it were current.
    if (m.value === undefined) value.remove({ ...mdep, type: m.type });
    else value.set({ ...mdep, type: m.type }, m.value);
  }
}

/** Forgets a ModelDeployment's series: on delete, or when another provider (or none) takes over. */
export function forgetAutoscalerMetrics(registry: Registry, namespace: string, name: string): void {
  const series = { namespace, name };
  gauge(registry, DESIRED.name)?.remove(series);
  const value = gauge(registry, METRIC_VALUE.name);
  for (const type of AUTOSCALING_TARGET_TYPES) value?.remove({ ...series, type });
}

/** The gauge if it was ever created; forgetting never creates one. */
function gauge(
  registry: Registry,
  name: string,
): { remove(labels: Record<string, string>): void } | undefined {
  return registry.getSingleMetric(name) as { remove(labels: Record<string, string>): void } | undefined;
}
