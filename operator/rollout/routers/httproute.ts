// Pure edits of a Gateway API HTTPRoute's spec.rules. Managed rules are those
// with a backendRef to Service <mdep>-stable or <mdep>-canary; in them the
// operator owns exactly: the weights of those two refs, the canary ref itself
// (added when missing, so the user may write only the stable one), and one
// RequestMirror rule filter whose backendRef is <mdep>-canary. Everything
// else in the rule (matches, timeouts, other filters, names) and every other
// rule is returned as it came.
//
// A header route adds, before each managed rule, a copy of it whose matches
// also require the headers and whose only backend is <mdep>-canary: the
// operator's header rule, recognised by that shape (a rule name would be
// pruned by CRDs older than v1.3). Its matches are more specific than the
// rule's, so every implementation prefers it whatever the order.
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
export interface BackendRef extends Json {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
}
export interface HttpFilter extends Json {
  type: string;
  requestMirror?: {
    backendRef: BackendRef;
    percent?: number;
    fraction?: { numerator: number; denominator?: number };
  };
}
export interface HttpHeaderMatch extends Json {
  name: string;
  type?: "Exact" | "RegularExpression";
  value: string;
}
export interface HttpRouteMatch extends Json {
  headers?: HttpHeaderMatch[];
}
export interface HttpRule extends Json {
  matches?: HttpRouteMatch[];
  backendRefs?: BackendRef[];
  filters?: HttpFilter[];
}

/** A backendRef to core Service `name` in the route's own namespace. */
export function refersToService(ref: BackendRef, name: string, routeNamespace: string): boolean {
  return (
    (ref.group ?? "") === "" &&
    (ref.kind ?? "Service") === "Service" &&
    ref.name === name &&
    (ref.namespace ?? routeNamespace) === routeNamespace
  );
}

function isManaged(rule: HttpRule, t: RouteTarget): boolean {
  const refs = rule.backendRefs ?? [];
  return refs.some((r) => isStable(r, t) || isCanary(r, t)) && !isHeaderRule(rule, t);
}

/** The operator's header rule: its one backend is <mdep>-canary and every match requires headers. */
function isHeaderRule(rule: HttpRule, t: RouteTarget): boolean {
  const refs = rule.backendRefs ?? [];
  const matches = rule.matches ?? [];
  return (
    refs.length === 1 &&
    isCanary(refs[0] as BackendRef, t) &&
    matches.length > 0 &&
    matches.every((m) => (m.headers ?? []).length > 0)
  );
}
const isStable = (r: BackendRef, t: RouteTarget) => refersToService(r, t.stableService, t.namespace);
const isCanary = (r: BackendRef, t: RouteTarget) => refersToService(r, t.canaryService, t.namespace);

function isOurMirror(f: HttpFilter, t: RouteTarget): boolean {
  const ref = f.requestMirror?.backendRef;
  return f.type === "RequestMirror" && ref !== undefined && isCanary(ref, t);
}

/** The rules with weights and mirror set for `split`; an unchanged rule keeps its exact JSON. */
export function setHttpRouteTraffic(
  rules: HttpRule[],
  t: RouteTarget,
  split: TrafficSplit,
): { ok: true; list: HttpRule[] } | RouterError {
  if (!rules.some((r) => isManaged(r, t))) return noManagedRule(rules, t);
  const out: HttpRule[] = [];
  for (const [i, rule] of rules.entries()) {
    if (isHeaderRule(rule, t)) continue; // rebuilt below from its rule, or gone with the header route
    if (!isManaged(rule, t)) {
      out.push(rule);
      continue;
    }
    const foreign = (rule.backendRefs ?? []).find((r) => !isStable(r, t) && !isCanary(r, t));
    if (foreign) {
      return routerError(
        "RouteUnsupported",
        `HTTPRoute ${t.routeName} rule ${i} also sends traffic to ${foreign.kind ?? "Service"} ${foreign.name}, ` +
          `so weights there are not percentages of the model's traffic: move ${foreign.name} to a rule of its own`,
      );
    }
    const weighted = withWeights(rule, t, split.canaryWeight);
    if (split.headerRoute && split.headerRoute.length > 0) {
      const header = headerRule(rule, weighted, t, split.headerRoute, i);
      if (isRouterError(header)) return header;
      out.push(header);
    }
    out.push(withMirror(weighted, t, split.mirrorPercent));
  }
  return { ok: true, list: out };
}

/** The rule's copy that sends requests meeting `match` to the canary only; our mirror is not copied. */
function headerRule(
  rule: HttpRule,
  weighted: HttpRule,
  t: RouteTarget,
  match: HeaderRouteMatch[],
  index: number,
): HttpRule | RouterError {
  const headers: HttpHeaderMatch[] = match.map((m) => {
    const c = headerCondition(m);
    return c.regex !== undefined
      ? { name: c.name, type: "RegularExpression", value: c.regex }
      : { name: c.name, type: "Exact", value: c.exact ?? "" };
  });
  // The apiserver defaults a rule without matches to this one; written out, the stored rule equals ours.
  const base =
    rule.matches && rule.matches.length > 0 ? rule.matches : [{ path: { type: "PathPrefix", value: "/" } }];
  const matches: HttpRouteMatch[] = [];
  for (const m of base) {
    const clash = (m.headers ?? []).find((h) => headers.some((o) => o.name === h.name.toLowerCase()));
    if (clash) {
      return routerError(
        "RouteUnsupported",
        `HTTPRoute ${t.routeName} rule ${index} already matches header ${clash.name}, which the setHeaderRoute ` +
          `step also matches: match another header or cookie in the step, or drop it from the rule`,
      );
    }
    matches.push({ ...m, headers: [...(m.headers ?? []), ...headers] });
  }
  const canaryRef = weighted.backendRefs?.find((r) => isCanary(r, t)) as BackendRef;
  const { name: _name, filters: _filters, backendRefs: _refs, matches: _matches, ...rest } = rule;
  const filters = (rule.filters ?? []).filter((f) => !isOurMirror(f, t));
  return {
    ...rest,
    matches,
    ...(filters.length > 0 ? { filters } : {}),
    backendRefs: [{ ...canaryRef, weight: 100 }],
  };
}

function withWeights(rule: HttpRule, t: RouteTarget, canaryWeight: number): HttpRule {
  const refs = [...(rule.backendRefs ?? [])];
  const template = refs.find((r) => isStable(r, t) || isCanary(r, t)) as BackendRef;
  for (const name of [t.stableService, t.canaryService]) {
    if (!refs.some((r) => refersToService(r, name, t.namespace))) {
      // Same port and explicit defaults as the ref the user wrote, so the stored object equals what we send.
      refs.push({ group: "", kind: "Service", name, port: template.port ?? 80, weight: 0 });
    }
  }
  const backendRefs = refs.map((r) => {
    if (isStable(r, t)) return { ...r, weight: 100 - canaryWeight };
    if (isCanary(r, t)) return { ...r, weight: canaryWeight };
    return r;
  });
  return { ...rule, backendRefs };
}

function withMirror(rule: HttpRule, t: RouteTarget, percent: number): HttpRule {
  const filters = [...(rule.filters ?? [])];
  const at = filters.findIndex((f) => isOurMirror(f, t));
  if (percent === 0) {
    if (at < 0) return rule;
    filters.splice(at, 1);
    const { filters: _dropped, ...rest } = rule;
    return filters.length > 0 ? { ...rest, filters } : rest;
  }
  const stableRef = rule.backendRefs?.find((r) => isStable(r, t));
  const backendRef =
    at >= 0
      ? (filters[at]?.requestMirror?.backendRef as BackendRef)
      : { group: "", kind: "Service", name: t.canaryService, port: stableRef?.port ?? 80 };
  // percent is omitted at 100 so full mirroring works even where the schema lacks the field (< v1.3).
  const requestMirror = percent === 100 ? { backendRef } : { backendRef, percent };
  const filter: HttpFilter = { type: "RequestMirror", requestMirror };
  if (at >= 0) filters[at] = filter;
  else filters.push(filter);
  return { ...rule, filters };
}

function noManagedRule(rules: HttpRule[], t: RouteTarget): RouterError {
  const plain = rules.findIndex((r) =>
    (r.backendRefs ?? []).some((b) => refersToService(b, t.mdepName, t.namespace)),
  );
  const hint =
    plain >= 0
      ? ` Rule ${plain} refers to Service ${t.mdepName}, which always selects the serving revision and cannot ` +
        `be split: replace that backendRef with {name: ${t.stableService}, port: 80, weight: 100}.`
      : "";
  return routerError(
    "RouteHasNoManagedBackends",
    `HTTPRoute ${t.routeName} has no rule with a backendRef to Service ${t.stableService} or ` +
      `${t.canaryService}: in the rule that should carry the model's traffic write backendRefs ` +
      `[{name: ${t.stableService}, port: 80, weight: 100}, {name: ${t.canaryService}, port: 80, weight: 0}].${hint}`,
  );
}

/** The split of the first managed rule, as the data plane would apply it. */
export function observeHttpRoute(rules: HttpRule[], t: RouteTarget): TrafficSplit | RouterError {
  const rule = rules.find((r) => isManaged(r, t));
  if (!rule) return noManagedRule(rules, t);
  const refs = rule.backendRefs ?? [];
  // Gateway API defaults an unset weight to 1; a missing ref gets nothing.
  const weightOf = (match: (r: BackendRef) => boolean) => {
    const ref = refs.find(match);
    return ref ? (ref.weight ?? 1) : 0;
  };
  const stable = weightOf((r) => isStable(r, t));
  const canary = weightOf((r) => isCanary(r, t));
  const canaryWeight = stable + canary === 0 ? 0 : Math.round((100 * canary) / (stable + canary));
  const mirrorPercent = mirrorPercentOf(rule.filters?.find((f) => isOurMirror(f, t)));
  const headerRoute = observeHeaderRoute(rules, rule, t);
  return headerRoute.length > 0
    ? { canaryWeight, mirrorPercent, headerRoute }
    : { canaryWeight, mirrorPercent };
}

/** The header route of the header rule before `rule`: the headers its first match adds to the rule's. */
function observeHeaderRoute(rules: HttpRule[], rule: HttpRule, t: RouteTarget): HeaderRouteMatch[] {
  const at = rules.indexOf(rule);
  const header = at > 0 ? rules[at - 1] : undefined;
  if (!header || !isHeaderRule(header, t)) return [];
  const own = new Set((rule.matches?.[0]?.headers ?? []).map((h) => h.name.toLowerCase()));
  return (header.matches?.[0]?.headers ?? [])
    .filter((h) => !own.has(h.name.toLowerCase()))
    .map((h) =>
      matchOfCondition(h.name, h.type === "RegularExpression" ? { regex: h.value } : { exact: h.value }),
    );
}

function mirrorPercentOf(filter: HttpFilter | undefined): number {
  const m = filter?.requestMirror;
  if (!m) return 0;
  if (m.percent !== undefined) return m.percent;
  if (m.fraction) return Math.round((100 * m.fraction.numerator) / (m.fraction.denominator ?? 100));
  return 100;
}

/**
 * True when we asked for a partial mirror but the stored route has a mirror
 * without percent: the installed CRD predates percent (Gateway API < v1.3)
 * and the apiserver pruned it, so the route now mirrors every request.
 */
export function mirrorPercentPruned(rules: HttpRule[], t: RouteTarget, split: TrafficSplit): boolean {
  if (split.mirrorPercent === 0 || split.mirrorPercent === 100) return false;
  const observed = observeHttpRoute(rules, t);
  return "canaryWeight" in observed && observed.mirrorPercent === 100;
}
