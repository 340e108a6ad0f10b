import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../runtime/apply.ts";
import {
  type HttpRule,
  mirrorPercentPruned,
  observeHttpRoute,
  refersToService,
  setHttpRouteTraffic,
} from "./httproute.ts";
import type { RouteTarget, TrafficSplit } from "./types.ts";

const t: RouteTarget = {
  namespace: "ml",
  mdepName: "iris",
  routeName: "iris-route",
  stableService: "iris-stable",
  canaryService: "iris-canary",
};

// As the apiserver stores them: defaults filled in.
const svc = (name: string, weight: number) => ({ group: "", kind: "Service", name, port: 80, weight });
const userRules = (): HttpRule[] => [
  {
    name: "predict",
    matches: [{ path: { type: "PathPrefix", value: "/v2/models/iris" } }],
    timeouts: { request: "10s" },
    filters: [
      { type: "RequestHeaderModifier", requestHeaderModifier: { set: [{ name: "x-a", value: "b" }] } },
    ],
    backendRefs: [svc("iris-stable", 100), svc("iris-canary", 0)],
  },
  { matches: [{ path: { type: "PathPrefix", value: "/health" } }], backendRefs: [svc("health", 1)] },
];

function apply(rules: HttpRule[], split: TrafficSplit): HttpRule[] {
  const r = setHttpRouteTraffic(rules, t, split);
  if (!r.ok) throw new Error(r.message);
  return r.list;
}

describe("setHttpRouteTraffic", () => {
  it.each([
    [0, 100, 0],
    [20, 80, 20],
    [50, 50, 50],
    [100, 0, 100],
  ])("weight %i sets stable %i / canary %i and leaves everything else", (w, stable, canary) => {
    const before = userRules();
    const after = apply(before, { canaryWeight: w, mirrorPercent: 0 });
    expect(after[0]?.backendRefs).toEqual([svc("iris-stable", stable), svc("iris-canary", canary)]);
    const { backendRefs: _a, ...restAfter } = after[0] as HttpRule;
    const { backendRefs: _b, ...restBefore } = before[0] as HttpRule;
    expect(restAfter).toEqual(restBefore);
    expect(after[1]).toBe(before[1]);
    expect(observeHttpRoute(after, t)).toEqual({ canaryWeight: w, mirrorPercent: 0 });
  });

  it("is a no-op on its own output (so a resync writes nothing)", () => {
    const once = apply(userRules(), { canaryWeight: 20, mirrorPercent: 30 });
    const twice = apply(structuredClone(once), { canaryWeight: 20, mirrorPercent: 30 });
    expect(canonicalJson(twice)).toBe(canonicalJson(once));
    expect(canonicalJson(apply(userRules(), { canaryWeight: 0, mirrorPercent: 0 }))).toBe(
      canonicalJson(userRules()),
    );
  });

  it("adds the canary ref with the stable ref's port when the user wrote only stable", () => {
    const rules: HttpRule[] = [{ backendRefs: [{ ...svc("iris-stable", 1), port: 8080 }] }];
    expect(apply(rules, { canaryWeight: 10, mirrorPercent: 0 })[0]?.backendRefs).toEqual([
      { ...svc("iris-stable", 90), port: 8080 },
      { ...svc("iris-canary", 10), port: 8080 },
    ]);
  });

  it("adds, updates and removes its RequestMirror filter, keeping the user's filters", () => {
    const mirrored = apply(userRules(), { canaryWeight: 0, mirrorPercent: 30 });
    expect(mirrored[0]?.filters).toEqual([
      userRules()[0]?.filters?.[0],
      {
        type: "RequestMirror",
        requestMirror: {
          backendRef: { group: "", kind: "Service", name: "iris-canary", port: 80 },
          percent: 30,
        },
      },
    ]);
    expect(observeHttpRoute(mirrored, t)).toEqual({ canaryWeight: 0, mirrorPercent: 30 });
    const full = apply(mirrored, { canaryWeight: 0, mirrorPercent: 100 });
    expect(full[0]?.filters?.[1]?.requestMirror).not.toHaveProperty("percent");
    expect(observeHttpRoute(full, t)).toEqual({ canaryWeight: 0, mirrorPercent: 100 });
    const off = apply(full, { canaryWeight: 0, mirrorPercent: 0 });
    expect(off[0]?.filters).toEqual(userRules()[0]?.filters);
  });

  it("drops the filters key it made non-empty, so the route matches a manifest without filters", () => {
    const rules: HttpRule[] = [{ backendRefs: [svc("iris-stable", 100), svc("iris-canary", 0)] }];
    const off = apply(apply(rules, { canaryWeight: 0, mirrorPercent: 5 }), {
      canaryWeight: 0,
      mirrorPercent: 0,
    });
    expect(off).toEqual(rules);
  });

  it("manages every rule that refers to the model's Services", () => {
    const rules = [...userRules(), { backendRefs: [svc("iris-stable", 1)] }];
    const after = apply(rules, { canaryWeight: 40, mirrorPercent: 0 });
    expect(after[2]?.backendRefs?.map((r) => r.weight)).toEqual([60, 40]);
  });

  it("explains how to write the route when no rule refers to the model's Services", () => {
    const r = setHttpRouteTraffic([{ backendRefs: [svc("iris", 1)] }], t, {
      canaryWeight: 10,
      mirrorPercent: 0,
    });
    expect(r).toMatchObject({ ok: false, reason: "RouteHasNoManagedBackends" });
    expect(!r.ok && r.message).toMatch(
      /name: iris-stable, port: 80, weight: 100.*Rule 0 refers to Service iris,/,
    );
  });

  it("refuses a rule that mixes the model's Services with another backend", () => {
    const rules: HttpRule[] = [{ backendRefs: [svc("iris-stable", 1), svc("legacy", 1)] }];
    const r = setHttpRouteTraffic(rules, t, { canaryWeight: 10, mirrorPercent: 0 });
    expect(r).toMatchObject({ ok: false, reason: "RouteUnsupported" });
    expect(!r.ok && r.message).toMatch(/move legacy to a rule of its own/);
  });
});

describe("helpers", () => {
  it("matches a Service ref only in the route's namespace and core group", () => {
    expect(refersToService({ name: "iris-stable" }, "iris-stable", "ml")).toBe(true);
    expect(refersToService({ name: "iris-stable", namespace: "other" }, "iris-stable", "ml")).toBe(false);
    expect(
      refersToService({ name: "iris-stable", group: "x.io", kind: "Backend" }, "iris-stable", "ml"),
    ).toBe(false);
  });

  it("observes unset weights as Gateway API defaults them (1) and fractions as percent", () => {
    const rules: HttpRule[] = [
      {
        backendRefs: [{ name: "iris-stable" }, { name: "iris-canary" }],
        filters: [
          {
            type: "RequestMirror",
            requestMirror: {
              backendRef: { name: "iris-canary" },
              fraction: { numerator: 1, denominator: 4 },
            },
          },
        ],
      },
    ];
    expect(observeHttpRoute(rules, t)).toEqual({ canaryWeight: 50, mirrorPercent: 25 });
  });

  it("detects a percent the apiserver pruned", () => {
    const full = apply(userRules(), { canaryWeight: 0, mirrorPercent: 100 });
    expect(mirrorPercentPruned(full, t, { canaryWeight: 0, mirrorPercent: 30 })).toBe(true);
    const kept = apply(userRules(), { canaryWeight: 0, mirrorPercent: 30 });
    expect(mirrorPercentPruned(kept, t, { canaryWeight: 0, mirrorPercent: 30 })).toBe(false);
    expect(mirrorPercentPruned(full, t, { canaryWeight: 0, mirrorPercent: 100 })).toBe(false);
  });
});
