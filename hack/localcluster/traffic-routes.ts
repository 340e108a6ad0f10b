// Reads the parts of live objects that decide where a model's traffic goes:
// the weights and mirror of an HTTPRoute's or a VirtualService's rules, and a
// modelops-proxy's shadow target. Pure, on the objects' JSON.
import { CONFIG_ENV } from "../../operator/api/proxy-config.ts";
import type { RouteRule } from "./traffic-split.ts";

// biome-ignore lint/suspicious/noExplicitAny: routes and pods are read as loose JSON
type Json = Record<string, any>;

/** "iris-canary", "iris-canary.ns", "iris-canary.ns.svc.cluster.local" all name the Service iris-canary. */
export function serviceOfHost(host: string): string {
  return host.split(".")[0] ?? host;
}

/** Only rules that name one of `managed` carry the model's traffic; the others serve something else. */
function isManaged(rule: RouteRule, managed: ReadonlySet<string>): boolean {
  return rule.backends.some((b) => managed.has(b.service));
}

/** Gateway API semantics: a backendRef without weight weighs 1; a mirror without percent or fraction copies all. */
export function httpRouteRules(route: Json, managed: ReadonlySet<string>): RouteRule[] {
  const rules: RouteRule[] = [];
  for (const rule of (route.spec?.rules ?? []) as Json[]) {
    const backends = ((rule.backendRefs ?? []) as Json[])
      .filter((b) => (b.kind ?? "Service") === "Service" && (b.group ?? "") === "")
      .map((b) => ({ service: String(b.name), weight: Number(b.weight ?? 1) }));
    const mirror = ((rule.filters ?? []) as Json[]).find((f) => f.type === "RequestMirror")?.requestMirror;
    const parsed: RouteRule = { backends };
    if (mirror?.backendRef?.name) {
      parsed.mirror = { service: String(mirror.backendRef.name), percent: mirrorPercent(mirror) };
    }
    if (isManaged(parsed, managed)) rules.push(parsed);
  }
  return rules;
}

function mirrorPercent(mirror: Json): number {
  if (mirror.percent !== undefined) return Number(mirror.percent);
  if (mirror.fraction)
    return (100 * Number(mirror.fraction.numerator)) / Number(mirror.fraction.denominator ?? 100);
  return 100;
}

/** Istio semantics: a single destination takes 100 without a weight; a mirror without a percentage copies all. */
export function virtualServiceRules(vs: Json, managed: ReadonlySet<string>): RouteRule[] {
  const rules: RouteRule[] = [];
  for (const http of (vs.spec?.http ?? []) as Json[]) {
    const route = (http.route ?? []) as Json[];
    const backends = route.map((r) => ({
      service: serviceOfHost(String(r.destination?.host ?? "")),
      weight: Number(r.weight ?? (route.length === 1 ? 100 : 0)),
    }));
    const parsed: RouteRule = { backends };
    if (http.mirror?.host) {
      parsed.mirror = {
        service: serviceOfHost(String(http.mirror.host)),
        percent: Number(http.mirrorPercentage?.value ?? 100),
      };
    }
    if (isManaged(parsed, managed)) rules.push(parsed);
  }
  return rules;
}

/** The shadow target a pod's modelops-proxy mirrors to, from the config the operator put in its env. */
export function proxyShadowOf(pod: Json): { service: string; percent: number } | undefined {
  for (const container of (pod.spec?.containers ?? []) as Json[]) {
    const value = ((container.env ?? []) as Json[]).find((e) => e.name === CONFIG_ENV)?.value;
    if (typeof value !== "string") continue;
    try {
      const shadow = (JSON.parse(value) as Json).shadow;
      if (!shadow?.url || !(Number(shadow.percent) > 0)) return undefined;
      return {
        service: serviceOfHost(new URL(String(shadow.url)).hostname),
        percent: Number(shadow.percent),
      };
    } catch {
      return undefined; // a config the proxy itself would refuse: it would mirror nothing
    }
  }
  return undefined;
}
