// Which Services a ModelDeployment owns for the traffic the engine decided,
// and which revision each selects. Pure.
import type { V1Service } from "@kubernetes/client-node";
import {
  canaryServiceName,
  clientServiceName,
  type ModelDeployment,
  previewServiceName,
  stableServiceName,
} from "../../api/index.ts";
import { desiredService, type Owned } from "../../core/workload.ts";
import type { RouterKind, Traffic } from "../../rollout/types.ts";

export function desiredServices(
  mdep: ModelDeployment,
  traffic: Traffic,
  router: RouterKind,
): Owned<V1Service>[] {
  const name = mdep.metadata.name;
  const stable = traffic.stableRevision;
  if (!stable) return [];
  // Without a mesh the weight is the replica ratio behind one Service, which
  // selects the canary alone at 100 (rollout/routers/replicas.ts).
  const canary = router === "replicas" && traffic.canaryWeight > 0 ? traffic.canaryRevision : undefined;
  const clientSelects = canary === undefined ? stable : traffic.canaryWeight >= 100 ? canary : undefined;
  const services = [desiredService(mdep, clientServiceName(name), clientSelects)];
  if (traffic.previewRevision)
    services.push(desiredService(mdep, previewServiceName(name), traffic.previewRevision));
  if (router !== "replicas") {
    services.push(desiredService(mdep, stableServiceName(name), stable));
    services.push(desiredService(mdep, canaryServiceName(name), traffic.canaryRevision ?? stable));
  } else if (traffic.canaryRevision !== undefined && traffic.mirrorPercent > 0) {
    // The target the proxies mirror to while a shadow rollout mirrors (core/proxy-sidecar.ts).
    services.push(desiredService(mdep, canaryServiceName(name), traffic.canaryRevision));
  }
  return services;
}
