// PromQL for autoscaling targets: the client load of a ModelDeployment, the
// total over all its pods (every revision) over a window.
//
// A shadow revision's proxies also serve mirrored copies of live requests and
// count them in the same series; they count them again in the MIRRORED_*
// series, which are subtracted here. So each client request counts once, by
// the proxy that answers it, whichever revisions serve during the window (a
// filter on revisions would lose the old stable's share of the window right
// after a promotion, and scale down then).
import { escapePromQLString } from "../analysis/queries.ts";
import type { AutoscalingTarget, ModelDeployment } from "../api/index.ts";
import {
  INFLIGHT_REQUESTS,
  MIRRORED_INFLIGHT_REQUESTS,
  MIRRORED_REQUESTS_TOTAL,
  REQUESTS_TOTAL,
} from "../api/metric-names.ts";

export function totalQuery(mdep: ModelDeployment, t: AutoscalingTarget, window: string): string {
  const ns = escapePromQLString(mdep.metadata.namespace ?? "");
  const name = escapePromQLString(mdep.metadata.name);
  const sel = `{namespace="${ns}",deployment="${name}"}[${window}]`;
  // "or vector(0)": pods without mirrored series (a proxy older than them, a
  // fixture) subtract nothing; without any requests series it is still no data.
  const clientLoad = (fn: string, all: string, mirrored: string) =>
    `sum(${fn}(${all}${sel})) - (sum(${fn}(${mirrored}${sel})) or vector(0))`;
  if (t.type === "rps") return clientLoad("rate", REQUESTS_TOTAL, MIRRORED_REQUESTS_TOTAL);
  if (t.type === "concurrency")
    return clientLoad("avg_over_time", INFLIGHT_REQUESTS, MIRRORED_INFLIGHT_REQUESTS);
  return (t.query ?? "").replaceAll("{{namespace}}", ns).replaceAll("{{name}}", name);
}
