// Pure edits of a Gateway API HTTPRoute's spec.rules. Managed rules are those
// with a backendRef to Service <mdep>-stable or <mdep>-canary; in them the
// operator owns exactly: the weights of those two refs, the canary ref itself
// (added when missing, so the user may write only the stable one), and one
// RequestMirror rule filter whose backendRef is <mdep>-canary. Everything
// else in the rule (matches, timeouts, other filters, names) and every other
// rule is returned as it came.
import type { RouterError, RouteTarget, TrafficSplit } from "./types.ts";
import { routerError } from "./types.ts";

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
export interface HttpRule extends Json {
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
  return refs.some((r) => isStable(r, t) || isCanary(r, t));
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
    out.push(withMirror(withWeights(rule, t, split.canaryWeight), t, split.mirrorPercent));
  }
  return { ok: true, list: out };
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
  return { canaryWeight, mirrorPercent: mirrorPercentOf(rule.filters?.find((f) => isOurMirror(f, t))) };
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
