// The gatewayAPI router: weights and mirror on the user's HTTPRoute
// (gateway.networking.k8s.io/v1). See httproute.ts for what it edits and
// route-patch.ts for how it writes.
//
// Partial mirroring (`percent`) is in the standard channel from Gateway API
// v1.3. Older CRDs prune the unknown field silently, which would turn a 10%
// shadow into a 100% one. Detecting that needs no CRD read permission: after
// a write we look at the stored route; if percent is gone we take the mirror
// off again and report MirrorPercentUnsupported, so the rollout fails
// visibly instead of tripling the canary's load. Full mirroring (100) omits
// percent and works on every version.
import type { KubeClient } from "../../runtime/kube.ts";
import { type HttpRule, mirrorPercentPruned, observeHttpRoute, setHttpRouteTraffic } from "./httproute.ts";
import { type Route, RoutePatcher } from "./route-patch.ts";
import {
  checkSplit,
  type ObservedTraffic,
  type RouterError,
  type RouterResult,
  type RouteTarget,
  routerError,
  type TrafficRouter,
  type TrafficSplit,
} from "./types.ts";

export const HTTPROUTE_KIND = {
  kind: "HTTPRoute",
  group: "gateway.networking.k8s.io",
  versions: ["v1"],
  listField: "rules",
  installHint: "install the Gateway API CRDs (standard channel, v1.3 or newer) and a Gateway implementation",
};

export class GatewayApiRouter implements TrafficRouter {
  readonly kind = "gatewayAPI";
  private readonly patcher: RoutePatcher;

  constructor(kube: KubeClient) {
    this.patcher = new RoutePatcher(kube, HTTPROUTE_KIND);
  }

  async setTraffic(target: RouteTarget, split: TrafficSplit): Promise<RouterResult> {
    const invalid = checkSplit(split);
    if (invalid) return invalid;
    const result = await this.patcher.update(target, (list) =>
      setHttpRouteTraffic(list as HttpRule[], target, split),
    );
    if (!result.ok) return result;
    if (!mirrorPercentPruned(rulesOf(result.route), target, split))
      return { ok: true, changed: result.changed };
    const undone = await this.patcher.update(target, (list) =>
      setHttpRouteTraffic(list as HttpRule[], target, { ...split, mirrorPercent: 0 }),
    );
    const note = undone.ok
      ? "the mirror was removed again"
      : `removing the mirror failed too: ${undone.message}`;
    return routerError(
      "MirrorPercentUnsupported",
      `HTTPRoute ${target.routeName}: the installed Gateway API CRDs do not keep RequestMirror percent ` +
        `(added in v1.3), so mirroring ${split.mirrorPercent}% would mirror every request; ${note}. ` +
        "Upgrade the Gateway API CRDs to v1.3 or newer, or mirror 100%",
    );
  }

  async currentTraffic(target: RouteTarget): Promise<ObservedTraffic | RouterError> {
    const loaded = await this.patcher.load(target);
    if (!loaded.ok) return loaded;
    const observed = observeHttpRoute(loaded.list as HttpRule[], target);
    return "canaryWeight" in observed ? { ok: true, ...observed } : observed;
  }
}

function rulesOf(route: Route): HttpRule[] {
  const rules = route.spec?.rules;
  return Array.isArray(rules) ? (rules as HttpRule[]) : [];
}
