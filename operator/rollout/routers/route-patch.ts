// Reads a user's route and rewrites the one list the operator edits in it.
//
// Why not server-side apply: in both CRDs the lists that hold the weights and
// mirrors are atomic (HTTPRoute spec.rules, rules[].backendRefs, filters:
// x-kubernetes-list-type atomic in Gateway API v1.3..v1.7; VirtualService
// spec.http and http[].route: no list type, which for a CRD means atomic). An
// apply of one weight would have to carry the whole list and would make us
// co-owner of every match, timeout and filter the user wrote, so a later
// change of those in git would conflict with us. Instead we send a JSON merge
// patch of that one list, computed from the live object and guarded by its
// metadata.resourceVersion (the apiserver answers 409 if anyone wrote in
// between; we re-read and recompute). Everything outside the list
// (hostnames, parentRefs, annotations, other spec fields) is not in the patch
// at all, and inside it only weights, our canary backend and our mirror change.

import { ROUTER_FIELD_MANAGER } from "../../api/contract.ts";
import { canonicalJson } from "../../runtime/apply.ts";
import { isConflict, isNotFound, KubeApiError, type KubeClient } from "../../runtime/kube.ts";
import type { KubeObject } from "../../runtime/types.ts";
import { type RouterError, type RouteTarget, routerError } from "./types.ts";

export interface RouteKind {
  /** e.g. "HTTPRoute". */
  kind: string;
  group: string;
  /** Tried in order until the apiserver serves one. */
  versions: string[];
  /** The spec list the router rewrites. */
  listField: string;
  /** What to install when no version is served. */
  installHint: string;
}

export type Route = KubeObject & { spec?: Record<string, unknown> };

export type LoadedRoute = { ok: true; route: Route; list: unknown[] };

/** Rewrites the live list; returns it unchanged (same JSON) when nothing is to do. */
export type ListMutation = (list: unknown[], route: Route) => { ok: true; list: unknown[] } | RouterError;

const MAX_ATTEMPTS = 5;

export class RoutePatcher {
  private readonly kube: KubeClient;
  private readonly routeKind: RouteKind;
  /** The first served version found; discovery costs a 404 per missing version, so it is remembered. */
  private servedVersion: string | undefined;

  constructor(kube: KubeClient, routeKind: RouteKind) {
    this.kube = kube;
    this.routeKind = routeKind;
  }

  async load(target: RouteTarget): Promise<LoadedRoute | RouterError> {
    const { kind, group, listField } = this.routeKind;
    const versions = this.servedVersion ? [this.servedVersion] : this.routeKind.versions;
    for (const version of versions) {
      const ref = {
        apiVersion: `${group}/${version}`,
        kind,
        namespace: target.namespace,
        name: target.routeName,
      };
      try {
        const route = await this.kube.get<Route>(ref);
        this.servedVersion = version;
        const list = route.spec?.[listField];
        return { ok: true, route, list: Array.isArray(list) ? list : [] };
      } catch (err) {
        if (isNotFound(err) && namesObject(err, target.routeName)) {
          this.servedVersion = version;
          return routeNotFound(this.routeKind, target);
        }
        if (!isNotFound(err)) return apiError(err, `reading ${kind} ${target.namespace}/${target.routeName}`);
      }
    }
    this.servedVersion = undefined;
    const tried = this.routeKind.versions.map((v) => `${group}/${v}`).join(", ");
    return routerError(
      "RouteKindNotInstalled",
      `the apiserver serves no ${kind} (tried ${tried}): ${this.routeKind.installHint}`,
    );
  }

  /**
   * Applies `mutate` to the live list and writes it back only if it changed.
   * Returns the route as stored after the write (or as read when unchanged).
   */
  async update(
    target: RouteTarget,
    mutate: ListMutation,
  ): Promise<{ ok: true; changed: boolean; route: Route } | RouterError> {
    const what = `${this.routeKind.kind} ${target.namespace}/${target.routeName}`;
    for (let attempt = 1; ; attempt++) {
      const loaded = await this.load(target);
      if (!loaded.ok) return loaded;
      const next = mutate(structuredClone(loaded.list), loaded.route);
      if (!next.ok) return next;
      if (canonicalJson(next.list) === canonicalJson(loaded.list)) {
        return { ok: true, changed: false, route: loaded.route };
      }
      const patch = {
        metadata: { resourceVersion: loaded.route.metadata?.resourceVersion },
        spec: { [this.routeKind.listField]: next.list },
      };
      try {
        const route = await this.kube.mergePatch<Route>(refOf(loaded.route), patch, {
          fieldManager: ROUTER_FIELD_MANAGER,
        });
        return { ok: true, changed: true, route };
      } catch (err) {
        if (isConflict(err) && attempt < MAX_ATTEMPTS) continue;
        if (isConflict(err)) {
          return routerError(
            "RouteUpdateConflict",
            `${what} changed under every one of ${MAX_ATTEMPTS} attempts to set weights; something else ` +
              "rewrites it continuously (a GitOps tool with self-heal on the weight fields?); the next reconcile retries",
          );
        }
        if (isNotFound(err)) return routeNotFound(this.routeKind, target);
        return apiError(err, `updating ${what}`);
      }
    }
  }
}

function refOf(route: Route) {
  return {
    apiVersion: route.apiVersion ?? "",
    kind: route.kind ?? "",
    namespace: route.metadata?.namespace,
    name: route.metadata?.name,
  };
}

// A missing object answers 404 with details.name; an unserved group/version answers 404 without it.
function namesObject(err: unknown, name: string): boolean {
  const details = (err as KubeApiError).details as { name?: string } | undefined;
  return details?.name === name;
}

function routeNotFound(k: RouteKind, target: RouteTarget): RouterError {
  return routerError(
    "RouteNotFound",
    `${k.kind} ${target.routeName} not found in namespace ${target.namespace}: create it there with a ` +
      `backend for Service ${target.stableService} (the operator adds ${target.canaryService} and sets ` +
      `the weights), or point spec.trafficRouting at the ${k.kind} you have`,
  );
}

function apiError(err: unknown, doing: string): RouterError {
  if (err instanceof KubeApiError && (err.status === 422 || err.status === 400)) {
    return routerError("RouteRejected", `the apiserver rejected ${doing}: ${err.message}`);
  }
  if (err instanceof KubeApiError && err.status === 403) {
    return routerError(
      "RouterApiError",
      `forbidden ${doing}: grant the operator's service account get and patch on this kind (${err.message})`,
    );
  }
  const detail = err instanceof KubeApiError ? `${err.status} ${err.reason}: ${err.message}` : String(err);
  return routerError("RouterApiError", `failed ${doing}: ${detail}`);
}
