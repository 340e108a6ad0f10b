// Turning a canary weight into pods and routes. With the replicas router the
// weight is a replica ratio (stable is never scaled down, so the canary is
// added beside it); with an exact router the canary gets enough pods for its
// share and the route carries the weight.
import { replicaSplit } from "./routers/replicas.ts";
import { isReady, type Tick, totalReplicas } from "./tick.ts";
import type { Revision } from "./types.ts";

export function exactRouterCanaryReplicas(total: number, weight: number): number {
  return Math.max(1, Math.ceil((total * weight) / 100));
}

/** The canary's share of requests over the ready pods the shared Service selects. */
function readyShare(
  t: Tick,
  stable: string | undefined,
  stablePods: number,
  canary: string,
  canaryPods: number,
): number {
  const ready = (rev: string | undefined, planned: number) =>
    Math.min(planned, rev ? (t.input.revisions.get(rev)?.readyReplicas ?? 0) : 0);
  const c = ready(canary, canaryPods);
  const s = ready(stable, stablePods);
  return c + s === 0 ? 0 : Math.round((100 * c) / (c + s));
}

/** Sets pods, traffic and status for `weight` percent to `target`; returns the canary's pod count. */
export function applyCanaryWeight(t: Tick, target: Revision, weight: number): number {
  const total = totalReplicas(t);
  const stableRevision = t.st.stableRevision;
  t.traffic.canaryRevision = target.revision;
  if (t.input.router === "replicas") {
    const split = replicaSplit(total, weight);
    if (stableRevision) t.replicas.set(stableRevision, split.stable);
    t.replicas.set(target.revision, split.canary);
    // 100 means the Service selects the canary alone: only once all its pods are ready.
    const all = split.allTraffic && isReady(t, target.revision, split.canary);
    t.traffic.canaryWeight = all ? 100 : split.realisedWeight;
    // Status says what the Service delivers now: only ready pods get requests.
    t.st.canaryWeight = all
      ? 100
      : readyShare(t, stableRevision, split.stable, target.revision, split.canary);
    t.st.trafficMessage =
      t.st.canaryWeight === t.traffic.canaryWeight
        ? split.message
        : `${split.message}; ${t.st.canaryWeight}% until the canary's pods are ready`;
    return split.canary;
  }
  const canaryPods = exactRouterCanaryReplicas(total, weight);
  if (stableRevision) t.replicas.set(stableRevision, total);
  t.replicas.set(target.revision, canaryPods);
  // A route must not send a weight to pods that are not ready for it: until
  // they are, the canary keeps the weight it already had (none when new).
  const was = t.input.mdep.status;
  const before = was?.canaryRevision === target.revision ? (was.canaryWeight ?? 0) : 0;
  const realised = isReady(t, target.revision, canaryPods) ? weight : Math.min(weight, before);
  t.traffic.canaryWeight = realised;
  t.st.canaryWeight = realised;
  t.st.trafficMessage =
    realised === weight
      ? `${weight}% to ${target.version} through the ${t.input.router} router`
      : `${realised}% to ${target.version} through the ${t.input.router} router until ${canaryPods} of its pods are ready for ${weight}%`;
  return canaryPods;
}
