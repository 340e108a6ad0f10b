// Entry point for the rollout shell: one long-lived router per kind (they
// remember which API version is served), and the target of a ModelDeployment.

import { canaryServiceName, stableServiceName } from "../../api/contract.ts";
import type { ModelDeployment } from "../../api/index.ts";
import type { KubeClient } from "../../runtime/kube.ts";
import { GatewayApiRouter } from "./gateway-api.ts";
import { IstioRouter } from "./istio.ts";
import type { RouteTarget, TrafficRouter } from "./types.ts";

export { GatewayApiRouter } from "./gateway-api.ts";
export { IstioRouter } from "./istio.ts";
export { type ReplicaSplit, replicaSplit } from "./replicas.ts";
export * from "./types.ts";

export interface Routers {
  gatewayAPI: TrafficRouter;
  istio: TrafficRouter;
}

export function createRouters(kube: KubeClient): Routers {
  return { gatewayAPI: new GatewayApiRouter(kube), istio: new IstioRouter(kube) };
}

/**
 * The router and route of a ModelDeployment, or undefined for the replicas
 * router (no route to edit: see replicaSplit).
 */
export function routeOf(
  mdep: ModelDeployment,
  routers: Routers,
): { router: TrafficRouter; target: RouteTarget } | undefined {
  const routing = mdep.spec.trafficRouting;
  const name = mdep.metadata.name;
  const base = {
    namespace: mdep.metadata.namespace ?? "",
    mdepName: name,
    stableService: stableServiceName(name),
    canaryService: canaryServiceName(name),
  };
  if (routing?.gatewayAPI) {
    return { router: routers.gatewayAPI, target: { ...base, routeName: routing.gatewayAPI.httpRoute } };
  }
  if (routing?.istio) {
    return { router: routers.istio, target: { ...base, routeName: routing.istio.virtualService } };
  }
  return undefined;
}
