import type { ModelDeployment } from "../../api/index.ts";
import type { RouterKind } from "../types.ts";

/** Which router splits a ModelDeployment's traffic; replicas unless a route is named. */
export function routerKind(mdep: ModelDeployment): RouterKind {
  const routing = mdep.spec.trafficRouting;
  return routing?.gatewayAPI ? "gatewayAPI" : routing?.istio ? "istio" : "replicas";
}
