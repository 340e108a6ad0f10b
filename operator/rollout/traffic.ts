// Turning a canary weight into pods and routes. With the replicas router the
// weight is a replica ratio (stable is never scaled down, so the canary is
// added beside it); with an exact router the canary gets enough pods for its
// share and the route carries the weight.
import { describeHeaderRoute, type HeaderRouteMatch } from "../api/index.ts";
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

/**
 * The header route a canary step asks for, as the route may carry it now:
 * only once the canary has a ready pod (matching requests would otherwise go
 * nowhere), and never on the replicas router, which cannot see headers (the
 * spec is refused there; this keeps an object that slipped past it safe).
 */
export function headerRouteFor(t: Tick, target: Revision, match: HeaderRouteMatch[]): HeaderRouteMatch[] {
  return match.length > 0 && t.input.router !== "replicas" && isReady(t, target.revision, 1) ? match : [];
}

/** Sets the header route in force and says so in status.trafficMessage (after applyCanaryWeight's part). */
export function applyHeaderRoute(t: Tick, target: Revision, match: HeaderRouteMatch[]): void {
  t.traffic.headerRoute = headerRouteFor(t, target, match);
  if (match.length === 0 || t.input.router === "replicas") return;
  const what = describeHeaderRoute(match);
  const note =
    t.traffic.headerRoute.length > 0
      ? `requests with ${what} all go to ${target.version}`
      : `requests with ${what} go to ${target.version} once one of its pods is ready`;
  t.st.trafficMessage = t.st.trafficMessage ? `${t.st.trafficMessage}; ${note}` : note;
}
