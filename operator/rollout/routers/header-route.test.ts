// The header route in both routes: added before each managed rule, kept
// idempotent, observed back, removed when the split has none, and refused
// where the user's rule already matches the same header.
import { describe, expect, it } from "vitest";
import type { HeaderRouteMatch } from "../../api/index.ts";
import { canonicalJson } from "../../runtime/apply.ts";
import { cookieRegex, parseCookieRegex } from "./header-match.ts";
import { type HttpRule, observeHttpRoute, setHttpRouteTraffic } from "./httproute.ts";
import type { RouteTarget, TrafficSplit } from "./types.ts";
import { type HttpRoute, observeVirtualService, setVirtualServiceTraffic } from "./virtualservice.ts";

const t: RouteTarget = {
  namespace: "ml",
  mdepName: "iris",
  routeName: "iris",
  stableService: "iris-stable",
  canaryService: "iris-canary",
};
const BETA: HeaderRouteMatch[] = [{ header: "x-cohort", value: "beta" }];
const COOKIE: HeaderRouteMatch[] = [
  { cookie: "cohort", value: "beta" },
  { header: "x-team", regex: "ml|data" },
];

describe("cookieRegex", () => {
  const cases: [string, boolean][] = [
    ["cohort=beta", true],
    ["a=1; cohort=beta", true],
    ["a=1;cohort=beta; b=2", true],
    ["cohort=beta2", false],
    ["xcohort=beta", false],
    ["a=cohort=beta", false],
    ["cohort=bet", false],
  ];
  it.each(cases)("Cookie: %s → %s (JavaScript reads these anchored RE2 expressions alike)", (header, hit) => {
    expect(new RegExp(cookieRegex("cohort", "beta")).test(header)).toBe(hit);
  });

  it("escapes regex characters in names and values, and parses back", () => {
    const re = cookieRegex("a.b", "x+y(1)");
    expect(new RegExp(re).test("a.b=x+y(1)")).toBe(true);
    expect(new RegExp(re).test("aXb=xxy1")).toBe(false);
    expect(parseCookieRegex(re)).toEqual({ cookie: "a.b", value: "x+y(1)" });
    expect(parseCookieRegex("beta|alpha")).toBeUndefined();
  });
});

// As the apiserver stores them: defaults filled in.
const ref = (name: string, weight: number) => ({ group: "", kind: "Service", name, port: 80, weight });
const rules = (): HttpRule[] => [
  {
    name: "predict",
    matches: [{ path: { type: "PathPrefix", value: "/v2/models/iris" }, method: "POST" }],
    timeouts: { request: "10s" },
    filters: [
      { type: "RequestHeaderModifier", requestHeaderModifier: { set: [{ name: "x-a", value: "b" }] } },
    ],
    backendRefs: [ref("iris-stable", 100), ref("iris-canary", 0)],
  },
  { matches: [{ path: { type: "PathPrefix", value: "/docs" } }], backendRefs: [ref("docs", 1)] },
];

function applyHttp(list: HttpRule[], split: TrafficSplit): HttpRule[] {
  const r = setHttpRouteTraffic(list, t, split);
  if (!r.ok) throw new Error(r.message);
  return r.list;
}

describe("HTTPRoute header rule", () => {
  it("goes before the managed rule: its matches plus the headers, the canary alone, its filters but not our mirror", () => {
    const after = applyHttp(rules(), { canaryWeight: 20, mirrorPercent: 30, headerRoute: BETA });
    expect(after).toHaveLength(3);
    expect(after[0]).toEqual({
      matches: [
        {
          path: { type: "PathPrefix", value: "/v2/models/iris" },
          method: "POST",
          headers: [{ name: "x-cohort", type: "Exact", value: "beta" }],
        },
      ],
      timeouts: { request: "10s" },
      filters: [
        { type: "RequestHeaderModifier", requestHeaderModifier: { set: [{ name: "x-a", value: "b" }] } },
      ],
      backendRefs: [ref("iris-canary", 100)],
    });
    expect(after[1]?.backendRefs).toEqual([ref("iris-stable", 80), ref("iris-canary", 20)]);
    expect(after[1]?.filters?.map((f) => f.type)).toEqual(["RequestHeaderModifier", "RequestMirror"]);
    expect(after[2]).toEqual(rules()[1]);
    expect(observeHttpRoute(after, t)).toEqual({ canaryWeight: 20, mirrorPercent: 30, headerRoute: BETA });
  });

  it("writes a cookie as a Cookie header expression and a regex as RegularExpression; observes both back", () => {
    const after = applyHttp(rules(), { canaryWeight: 0, mirrorPercent: 0, headerRoute: COOKIE });
    expect(after[0]?.matches?.[0]?.headers).toEqual([
      { name: "cookie", type: "RegularExpression", value: cookieRegex("cohort", "beta") },
      { name: "x-team", type: "RegularExpression", value: "ml|data" },
    ]);
    expect(observeHttpRoute(after, t)).toMatchObject({ headerRoute: COOKIE });
  });

  it("is a no-op on its own output, replaces a changed match, and is removed with the header route", () => {
    const once = applyHttp(rules(), { canaryWeight: 20, mirrorPercent: 0, headerRoute: BETA });
    const again = applyHttp(structuredClone(once), { canaryWeight: 20, mirrorPercent: 0, headerRoute: BETA });
    expect(canonicalJson(again)).toBe(canonicalJson(once));
    const changed = applyHttp(once, { canaryWeight: 20, mirrorPercent: 0, headerRoute: COOKIE });
    expect(changed).toHaveLength(3);
    expect(observeHttpRoute(changed, t)).toMatchObject({ headerRoute: COOKIE });
    const removed = applyHttp(changed, { canaryWeight: 0, mirrorPercent: 0 });
    expect(canonicalJson(removed)).toBe(canonicalJson(rules()));
    expect(observeHttpRoute(removed, t)).toEqual({ canaryWeight: 0, mirrorPercent: 0 });
  });

  it("matches every path of a rule written without matches", () => {
    const bare: HttpRule[] = [{ backendRefs: [ref("iris-stable", 100)] }];
    const after = applyHttp(bare, { canaryWeight: 0, mirrorPercent: 0, headerRoute: BETA });
    expect(after[0]?.matches).toEqual([
      {
        path: { type: "PathPrefix", value: "/" },
        headers: [{ name: "x-cohort", type: "Exact", value: "beta" }],
      },
    ]);
  });

  it("refuses a rule that already matches the same header, saying how to fix it", () => {
    const list = rules();
    (list[0] as HttpRule).matches = [{ headers: [{ name: "X-Cohort", value: "alpha" }] }];
    const r = setHttpRouteTraffic(list, t, { canaryWeight: 0, mirrorPercent: 0, headerRoute: BETA });
    expect(r).toMatchObject({ ok: false, reason: "RouteUnsupported" });
    expect(!r.ok && r.message).toMatch(/rule 0 already matches header X-Cohort.*match another header/);
  });
});

const FQDN = ".ml.svc.cluster.local";
const dest = (service: string, weight: number) => ({
  destination: { host: `${service}${FQDN}`, port: { number: 80 } },
  weight,
});
const http = (): HttpRoute[] => [
  {
    name: "predict",
    match: [{ uri: { prefix: "/v2/models/iris" } }, { uri: { prefix: "/v1/iris" } }],
    timeout: "10s",
    route: [dest("iris-stable", 100)],
  },
  { name: "rest", route: [{ destination: { host: "other" } }] },
];

function applyVs(list: HttpRoute[], split: TrafficSplit): HttpRoute[] {
  const r = setVirtualServiceTraffic(list, t, split);
  if (!r.ok) throw new Error(r.message);
  return r.list;
}

describe("VirtualService header route", () => {
  it("goes first (Istio takes the first match): each match plus the headers, the canary alone, no mirror", () => {
    const after = applyVs(http(), { canaryWeight: 10, mirrorPercent: 50, headerRoute: BETA });
    expect(after).toHaveLength(3);
    expect(after[0]).toEqual({
      match: [
        { uri: { prefix: "/v2/models/iris" }, headers: { "x-cohort": { exact: "beta" } } },
        { uri: { prefix: "/v1/iris" }, headers: { "x-cohort": { exact: "beta" } } },
      ],
      timeout: "10s",
      route: [{ destination: { host: `iris-canary${FQDN}`, port: { number: 80 } }, weight: 100 }],
    });
    expect(after[1]?.route).toEqual([dest("iris-stable", 90), dest("iris-canary", 10)]);
    expect(after[1]?.mirror?.host).toBe(`iris-canary${FQDN}`);
    expect(observeVirtualService(after, t)).toEqual({
      canaryWeight: 10,
      mirrorPercent: 50,
      headerRoute: BETA,
    });
  });

  it("writes a cookie and a regex as regex matches, and observes them back", () => {
    const after = applyVs(http(), { canaryWeight: 0, mirrorPercent: 0, headerRoute: COOKIE });
    expect(after[0]?.match?.[0]?.headers).toEqual({
      cookie: { regex: cookieRegex("cohort", "beta") },
      "x-team": { regex: "ml|data" },
    });
    expect(observeVirtualService(after, t)).toMatchObject({ headerRoute: COOKIE });
  });

  it("is a no-op on its own output and is removed with the header route", () => {
    const once = applyVs(http(), { canaryWeight: 30, mirrorPercent: 0, headerRoute: BETA });
    const again = applyVs(structuredClone(once), { canaryWeight: 30, mirrorPercent: 0, headerRoute: BETA });
    expect(canonicalJson(again)).toBe(canonicalJson(once));
    const removed = applyVs(once, { canaryWeight: 0, mirrorPercent: 0, headerRoute: [] });
    expect(removed).toHaveLength(2);
    expect(removed[0]?.route).toEqual([dest("iris-stable", 100), dest("iris-canary", 0)]);
    expect(observeVirtualService(removed, t)).toEqual({ canaryWeight: 0, mirrorPercent: 0 });
  });

  it("matches every request of a route written without match", () => {
    const after = applyVs([{ route: [dest("iris-stable", 100)] }], {
      canaryWeight: 0,
      mirrorPercent: 0,
      headerRoute: BETA,
    });
    expect(after[0]?.match).toEqual([{ headers: { "x-cohort": { exact: "beta" } } }]);
  });

  it("refuses a route that already matches the same header, saying how to fix it", () => {
    const list = http();
    (list[0] as HttpRoute).match = [{ headers: { cookie: { regex: "sid=.*" } } }];
    const r = setVirtualServiceTraffic(list, t, { canaryWeight: 0, mirrorPercent: 0, headerRoute: COOKIE });
    expect(r).toMatchObject({ ok: false, reason: "RouteUnsupported" });
    expect(!r.ok && r.message).toMatch(/http\[0\] already matches header cookie.*match another header/);
  });
});
