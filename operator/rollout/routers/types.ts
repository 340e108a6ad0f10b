// The contract between the rollout engine and the mesh/gateway routers. A
// router error is data (a condition on the ModelDeployment), never a throw:
// a crashing router is how peers end up with aborts that never fire.
import type { HeaderRouteMatch } from "../../api/index.ts";

/** What to edit: the user's route and the two Services the engine owns. */
export interface RouteTarget {
  namespace: string;
  mdepName: string;
  /** Name of the user's HTTPRoute or VirtualService (spec.trafficRouting). */
  routeName: string;
  /** `<mdep>-stable`: selects the stable revision. */
  stableService: string;
  /** `<mdep>-canary`: selects the canary revision. */
  canaryService: string;
}

export interface TrafficSplit {
  /** Percent (0..100) of requests served by the canary revision. */
  canaryWeight: number;
  /** Percent (0..100) of requests copied to the canary revision; responses are discarded. */
  mirrorPercent: number;
  /**
   * Requests meeting all of these go to the canary revision in full, ahead of the weights. Omitted or
   * empty: no header route (and any the operator wrote before is removed).
   */
  headerRoute?: HeaderRouteMatch[];
}

/** Reasons are CamelCase so they can go straight into a condition. */
export type RouterErrorReason =
  | "RouteNotFound"
  | "RouteKindNotInstalled"
  | "RouteHasNoManagedBackends"
  | "RouteUnsupported"
  | "MirrorPercentUnsupported"
  | "RouteRejected"
  | "RouteUpdateConflict"
  | "RouterApiError"
  | "InvalidSplit";

export interface RouterError {
  ok: false;
  reason: RouterErrorReason;
  /** Says what is wrong and how to fix it. */
  message: string;
}

export type RouterResult = { ok: true; changed: boolean } | RouterError;

/** What a route does now; `ok` tells it apart from a RouterError. */
export type ObservedTraffic = { ok: true } & TrafficSplit;

export interface TrafficRouter {
  readonly kind: "gatewayAPI" | "istio";
  /** Sets weights and mirror on the route; writes only when something would change. Never throws. */
  setTraffic(target: RouteTarget, split: TrafficSplit): Promise<RouterResult>;
  /** Reads the split in place (from the first managed rule). Never throws. */
  currentTraffic(target: RouteTarget): Promise<ObservedTraffic | RouterError>;
}

export function isRouterError(x: unknown): x is RouterError {
  return (x as RouterError).ok === false;
}

export function routerError(reason: RouterErrorReason, message: string): RouterError {
  return { ok: false, reason, message };
}

/** Rejects what the CRDs already forbid, so a bug upstream reads as a condition, not a bad route. */
export function checkSplit(split: TrafficSplit): RouterError | undefined {
  for (const [field, v] of Object.entries({
    canaryWeight: split.canaryWeight,
    mirrorPercent: split.mirrorPercent,
  })) {
    if (!Number.isInteger(v) || v < 0 || v > 100) {
      return routerError("InvalidSplit", `${field} must be an integer 0..100, got ${String(v)}`);
    }
  }
  return undefined;
}
