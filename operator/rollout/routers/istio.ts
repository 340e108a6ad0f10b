// The istio router: destination weights and mirror on the user's
// VirtualService. networking.istio.io/v1 is served from Istio 1.22; older
// installs serve v1beta1, which has the same fields, so both are tried (the
// served one is remembered). See virtualservice.ts for what it edits and
// route-patch.ts for how it writes.
import type { KubeClient } from "../../runtime/kube.ts";
import { RoutePatcher } from "./route-patch.ts";
import {
  checkSplit,
  type ObservedTraffic,
  type RouterError,
  type RouterResult,
  type RouteTarget,
  type TrafficRouter,
  type TrafficSplit,
} from "./types.ts";
import { type HttpRoute, observeVirtualService, setVirtualServiceTraffic } from "./virtualservice.ts";

export const VIRTUALSERVICE_KIND = {
  kind: "VirtualService",
  group: "networking.istio.io",
  versions: ["v1", "v1beta1"],
  listField: "http",
  installHint: "install Istio (its CRDs come with istioctl install or the istio/base chart)",
};

export class IstioRouter implements TrafficRouter {
  readonly kind = "istio";
  private readonly patcher: RoutePatcher;

  constructor(kube: KubeClient) {
    this.patcher = new RoutePatcher(kube, VIRTUALSERVICE_KIND);
  }

  async setTraffic(target: RouteTarget, split: TrafficSplit): Promise<RouterResult> {
    const invalid = checkSplit(split);
    if (invalid) return invalid;
    const result = await this.patcher.update(target, (list) =>
      setVirtualServiceTraffic(list as HttpRoute[], target, split),
    );
    return result.ok ? { ok: true, changed: result.changed } : result;
  }

  async currentTraffic(target: RouteTarget): Promise<ObservedTraffic | RouterError> {
    const loaded = await this.patcher.load(target);
    if (!loaded.ok) return loaded;
    const observed = observeVirtualService(loaded.list as HttpRoute[], target);
    return "canaryWeight" in observed ? { ok: true, ...observed } : observed;
  }
}
