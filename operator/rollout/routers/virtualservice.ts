// Pure edits of an Istio VirtualService's spec.http. Managed HTTP routes are
// those with a destination whose host is Service <mdep>-stable or
// <mdep>-canary, written short (`name`), `name.ns`, `name.ns.svc` or fully
// qualified (`name.ns.svc.<cluster domain>`). In them the operator owns the
// two destinations' weights, the canary destination (added in the host form
// the user used for stable), and `mirror` + `mirrorPercentage` while `mirror`
// points at the canary. Everything else is returned as it came.
//
// A header route adds, just before each managed HTTP route (Istio takes the
// first that matches), a copy of it whose matches also require the headers
// and whose one destination is the canary: the operator's header route,
// recognised by that shape.
import type { HeaderRouteMatch } from "../../api/index.ts";
import { headerCondition, matchOfCondition } from "./header-match.ts";
import {
  isRouterError,
  type RouterError,
  type RouteTarget,
  routerError,
  type TrafficSplit,
} from "./types.ts";

type Json = Record<string, unknown>;
export interface Destination extends Json {
  host: string;
  subset?: string;
  port?: { number?: number };
}
export interface RouteDestination extends Json {
  destination: Destination;
  weight?: number;
}
type StringMatch = { exact?: string; prefix?: string; regex?: string };
export interface HttpMatchRequest extends Json {
  headers?: Record<string, StringMatch>;
}
export interface HttpRoute extends Json {
  match?: HttpMatchRequest[];
  route?: RouteDestination[];
  mirror?: Destination;
  mirrorPercentage?: { value?: number };
  /** Deprecated integer form; still read, removed when we take the mirror off. */
  mirrorPercent?: number;
}

/** True when `host` names Service `service` of namespace `ns` in any of Istio's accepted forms. */
export function hostIsService(host: string, service: string, ns: string): boolean {
  return (
    host === service ||
    host === `${service}.${ns}` ||
    host === `${service}.${ns}.svc` ||
    host.startsWith(`${service}.${ns}.svc.`)
  );
}

const isStable = (d: RouteDestination, t: RouteTarget) =>
  hostIsService(d.destination?.host ?? "", t.stableService, t.namespace);
const isCanary = (d: RouteDestination, t: RouteTarget) =>
  hostIsService(d.destination?.host ?? "", t.canaryService, t.namespace);
const isManaged = (r: HttpRoute, t: RouteTarget) =>
  (r.route ?? []).some((d) => isStable(d, t) || isCanary(d, t)) && !isHeaderRoute(r, t);

/** The operator's header route: its one destination is the canary and every match requires headers. */
function isHeaderRoute(r: HttpRoute, t: RouteTarget): boolean {
  const dests = r.route ?? [];
  const matches = r.match ?? [];
  return (
    dests.length === 1 &&
    isCanary(dests[0] as RouteDestination, t) &&
    matches.length > 0 &&
    matches.every((m) => Object.keys(m.headers ?? {}).length > 0)
  );
}
const mirrorIsOurs = (r: HttpRoute, t: RouteTarget) =>
  r.mirror !== undefined && hostIsService(r.mirror.host, t.canaryService, t.namespace);

/** The host of `service` written like `like` (a host of the other managed Service). */
function sameFormHost(like: string, from: string, to: string): string {
  return like.startsWith(from) ? `${to}${like.slice(from.length)}` : to;
}

export function setVirtualServiceTraffic(
  http: HttpRoute[],
  t: RouteTarget,
  split: TrafficSplit,
): { ok: true; list: HttpRoute[] } | RouterError {
  if (!http.some((r) => isManaged(r, t))) return noManagedRoute(http, t);
  const out: HttpRoute[] = [];
  for (const [i, route] of http.entries()) {
    if (isHeaderRoute(route, t)) continue; // rebuilt below from its route, or gone with the header route
    if (!isManaged(route, t)) {
      out.push(route);
      continue;
    }
    const foreign = (route.route ?? []).find((d) => !isStable(d, t) && !isCanary(d, t));
    if (foreign) {
      return routerError(
        "RouteUnsupported",
        `VirtualService ${t.routeName} http[${i}] also routes to ${foreign.destination?.host}, so weights there ` +
          `are not percentages of the model's traffic: move it to an http route of its own`,
      );
    }
    if (split.mirrorPercent > 0 && route.mirror && !mirrorIsOurs(route, t)) {
      return routerError(
        "RouteUnsupported",
        `VirtualService ${t.routeName} http[${i}] already mirrors to ${route.mirror.host}; Istio allows one ` +
          `mirror per route, so the shadow rollout cannot mirror to ${t.canaryService}: remove that mirror`,
      );
    }
    const weighted = withWeights(route, t, split.canaryWeight);
    if (split.headerRoute && split.headerRoute.length > 0) {
      const header = headerRoute(route, weighted, t, split.headerRoute, i);
      if (isRouterError(header)) return header;
      out.push(header);
    }
    out.push(withMirror(weighted, t, split.mirrorPercent));
  }
  return { ok: true, list: out };
}

/** The route's copy that sends requests meeting `match` to the canary only; our mirror is not copied. */
function headerRoute(
  route: HttpRoute,
  weighted: HttpRoute,
  t: RouteTarget,
  match: HeaderRouteMatch[],
  index: number,
): HttpRoute | RouterError {
  const headers: Record<string, StringMatch> = {};
  for (const m of match) {
    const c = headerCondition(m);
    headers[c.name] = c.regex !== undefined ? { regex: c.regex } : { exact: c.exact ?? "" };
  }
  const matches: HttpMatchRequest[] = [];
  for (const m of route.match && route.match.length > 0 ? route.match : [{}]) {
    const clash = Object.keys(m.headers ?? {}).find((h) => h.toLowerCase() in headers);
    if (clash) {
      return routerError(
        "RouteUnsupported",
        `VirtualService ${t.routeName} http[${index}] already matches header ${clash}, which the ` +
          `setHeaderRoute step also matches: match another header or cookie in the step, or drop it from the route`,
      );
    }
    matches.push({ ...m, headers: { ...(m.headers ?? {}), ...headers } });
  }
  const canary = weighted.route?.find((d) => isCanary(d, t)) as RouteDestination;
  const {
    name: _n,
    match: _m,
    route: _r,
    mirror: _mi,
    mirrorPercentage: _p,
    mirrorPercent: _l,
    ...rest
  } = route;
  const keptMirror = mirrorIsOurs(route, t) ? {} : mirrorFields(route);
  return { ...rest, ...keptMirror, match: matches, route: [{ ...canary, weight: 100 }] };
}

/** A mirror the user set elsewhere, which the header route's requests keep. */
function mirrorFields(route: HttpRoute): Partial<HttpRoute> {
  const { mirror, mirrorPercentage, mirrorPercent } = route;
  return {
    ...(mirror ? { mirror } : {}),
    ...(mirrorPercentage ? { mirrorPercentage } : {}),
    ...(mirrorPercent !== undefined ? { mirrorPercent } : {}),
  };
}

function withWeights(route: HttpRoute, t: RouteTarget, canaryWeight: number): HttpRoute {
  const dests = [...(route.route ?? [])];
  const template = dests.find((d) => isStable(d, t) || isCanary(d, t)) as RouteDestination;
  const templateName = isStable(template, t) ? t.stableService : t.canaryService;
  for (const name of [t.stableService, t.canaryService]) {
    if (!dests.some((d) => hostIsService(d.destination?.host ?? "", name, t.namespace))) {
      const host = sameFormHost(template.destination.host, templateName, name);
      const port = template.destination.port;
      dests.push({ destination: port ? { host, port } : { host }, weight: 0 });
    }
  }
  const weighted = dests.map((d) => {
    if (isStable(d, t)) return { ...d, weight: 100 - canaryWeight };
    if (isCanary(d, t)) return { ...d, weight: canaryWeight };
    return d;
  });
  return { ...route, route: weighted };
}

function withMirror(route: HttpRoute, t: RouteTarget, percent: number): HttpRoute {
  if (percent === 0) {
    if (!mirrorIsOurs(route, t)) return route;
    const { mirror: _m, mirrorPercentage: _p, mirrorPercent: _legacy, ...rest } = route;
    return rest;
  }
  const stable = route.route?.find((d) => isStable(d, t))?.destination;
  const host =
    route.mirror?.host ?? sameFormHost(stable?.host ?? t.canaryService, t.stableService, t.canaryService);
  const port = route.mirror?.port ?? stable?.port;
  const { mirrorPercent: _legacy, ...rest } = route;
  // Percentage always set: without it Istio mirrors 100%, and being explicit keeps observe() trivial.
  return { ...rest, mirror: port ? { host, port } : { host }, mirrorPercentage: { value: percent } };
}

function noManagedRoute(http: HttpRoute[], t: RouteTarget): RouterError {
  const plain = http.findIndex((r) =>
    (r.route ?? []).some((d) => hostIsService(d.destination?.host ?? "", t.mdepName, t.namespace)),
  );
  const hint =
    plain >= 0
      ? ` http[${plain}] routes to ${t.mdepName}, which always selects the serving revision and cannot be ` +
        `split: change that destination host to ${t.stableService}.`
      : "";
  return routerError(
    "RouteHasNoManagedBackends",
    `VirtualService ${t.routeName} has no http route with a destination host ${t.stableService} or ` +
      `${t.canaryService}: in the http route that should carry the model's traffic write route ` +
      `[{destination: {host: ${t.stableService}}, weight: 100}, {destination: {host: ${t.canaryService}}, weight: 0}].${hint}`,
  );
}

export function observeVirtualService(http: HttpRoute[], t: RouteTarget): TrafficSplit | RouterError {
  const route = http.find((r) => isManaged(r, t));
  if (!route) return noManagedRoute(http, t);
  const dests = route.route ?? [];
  // Istio: a lone destination takes everything; among several, an unset weight is 0.
  const weightOf = (d: RouteDestination | undefined) =>
    d ? (d.weight ?? (dests.length === 1 ? 100 : 0)) : 0;
  const stable = weightOf(dests.find((d) => isStable(d, t)));
  const canary = weightOf(dests.find((d) => isCanary(d, t)));
  const canaryWeight = stable + canary === 0 ? 0 : Math.round((100 * canary) / (stable + canary));
  const mirrorPercent = mirrorIsOurs(route, t)
    ? (route.mirrorPercentage?.value ?? route.mirrorPercent ?? 100)
    : 0;
  const headerRoute = observeHeaderRoute(http, route, t);
  return headerRoute.length > 0
    ? { canaryWeight, mirrorPercent, headerRoute }
    : { canaryWeight, mirrorPercent };
}

/** The header route of the operator's route before `route`: the headers its first match adds. */
function observeHeaderRoute(http: HttpRoute[], route: HttpRoute, t: RouteTarget): HeaderRouteMatch[] {
  const at = http.indexOf(route);
  const header = at > 0 ? http[at - 1] : undefined;
  if (!header || !isHeaderRoute(header, t)) return [];
  const own = new Set(Object.keys(route.match?.[0]?.headers ?? {}).map((h) => h.toLowerCase()));
  return Object.entries(header.match?.[0]?.headers ?? {})
    .filter(([name]) => !own.has(name.toLowerCase()))
    .map(([name, cond]) => matchOfCondition(name, cond));
}
