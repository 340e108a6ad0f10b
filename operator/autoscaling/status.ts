// When the builtin autoscaler rewrites status.autoscaling: only when its
// decision changes. The measured totals move a little at every evaluation
// (rate() over a sliding window); written each time, a steady load would
// cost a status write every 2 s, and a watch event for every client that
// watches ModelDeployments. So status keeps the values behind the last change
// of decision; the live ones are the modelops_autoscaler_metric_value gauges. Pure.
import type { ModelDeploymentStatus } from "../api/index.ts";
import { canonicalJson } from "../runtime/apply.ts";

export type AutoscalingStatus = NonNullable<ModelDeploymentStatus["autoscaling"]>;

/** `next`, or `previous` as it stands when the two differ only in measured values. */
export function statusToWrite(
  previous: AutoscalingStatus | undefined,
  next: AutoscalingStatus,
): AutoscalingStatus {
  return previous && canonicalJson(decisionOf(previous)) === canonicalJson(decisionOf(next))
    ? previous
    : next;
}

/** Everything but the measured values; whether a target had data at all is part of the decision. */
function decisionOf(s: AutoscalingStatus): unknown {
  return { ...s, metrics: s.metrics?.map(({ value, ...m }) => ({ ...m, measured: value !== undefined })) };
}
