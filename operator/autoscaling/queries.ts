// PromQL for autoscaling targets: the total over every pod of a
// ModelDeployment (all revisions), over a window.

import { escapePromQLString } from "../analysis/queries.ts";
import type { AutoscalingTarget, ModelDeployment } from "../api/index.ts";
import { INFLIGHT_REQUESTS, REQUESTS_TOTAL } from "../api/metric-names.ts";

export function totalQuery(mdep: ModelDeployment, t: AutoscalingTarget, window: string): string {
  const ns = escapePromQLString(mdep.metadata.namespace ?? "");
  const name = escapePromQLString(mdep.metadata.name);
  const sel = `namespace="${ns}",deployment="${name}"`;
  if (t.type === "rps") return `sum(rate(${REQUESTS_TOTAL}{${sel}}[${window}]))`;
  if (t.type === "concurrency") return `sum(avg_over_time(${INFLIGHT_REQUESTS}{${sel}}[${window}]))`;
  return (t.query ?? "").replaceAll("{{namespace}}", ns).replaceAll("{{name}}", name);
}
