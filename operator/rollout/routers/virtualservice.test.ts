import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../runtime/apply.ts";
import type { RouteTarget, TrafficSplit } from "./types.ts";
import {
  type HttpRoute,
  hostIsService,
  observeVirtualService,
  setVirtualServiceTraffic,
} from "./virtualservice.ts";

const t: RouteTarget = {
  namespace: "ml",
  mdepName: "iris",
  routeName: "iris-vs",
  stableService: "iris-stable",
  canaryService: "iris-canary",
};
const FQDN = ".ml.svc.cluster.local";
const dest = (service: string, weight: number) => ({
  destination: { host: `${service}${FQDN}`, port: { number: 80 } },
  weight,
});
const userHttp = (): HttpRoute[] => [
  {
    name: "predict",
    match: [{ uri: { prefix: "/v2/models/iris" } }],
    timeout: "10s",
    retries: { attempts: 2 },
    route: [dest("iris-stable", 100), dest("iris-canary", 0)],
  },
  { name: "rest", route: [{ destination: { host: "other" } }] },
];

function apply(http: HttpRoute[], split: TrafficSplit): HttpRoute[] {
  const r = setVirtualServiceTraffic(http, t, split);
  if (!r.ok) throw new Error(r.message);
  return r.list;
}

describe("setVirtualServiceTraffic", () => {
  it.each([
    [0, 100, 0],
    [20, 80, 20],
    [50, 50, 50],
    [100, 0, 100],
  ])("weight %i sets stable %i / canary %i and leaves everything else", (w, stable, canary) => {
    const before = userHttp();
    const after = apply(before, { canaryWeight: w, mirrorPercent: 0 });
    expect(after[0]?.route).toEqual([dest("iris-stable", stable), dest("iris-canary", canary)]);
    expect({ ...after[0], route: undefined }).toEqual({ ...before[0], route: undefined });
    expect(after[1]).toBe(before[1]);
    expect(observeVirtualService(after, t)).toEqual({ canaryWeight: w, mirrorPercent: 0 });
  });

  it("is a no-op on its own output", () => {
    const once = apply(userHttp(), { canaryWeight: 20, mirrorPercent: 30 });
    expect(canonicalJson(apply(structuredClone(once), { canaryWeight: 20, mirrorPercent: 30 }))).toBe(
      canonicalJson(once),
    );
    expect(canonicalJson(apply(userHttp(), { canaryWeight: 0, mirrorPercent: 0 }))).toBe(
      canonicalJson(userHttp()),
    );
  });

  it("adds the canary destination in the host form the user wrote for stable", () => {
    for (const suffix of ["", ".ml", ".ml.svc", FQDN]) {
      const http: HttpRoute[] = [{ route: [{ destination: { host: `iris-stable${suffix}` } }] }];
      const after = apply(http, { canaryWeight: 10, mirrorPercent: 0 });
      expect(after[0]?.route).toEqual([
        { destination: { host: `iris-stable${suffix}` }, weight: 90 },
        { destination: { host: `iris-canary${suffix}` }, weight: 10 },
      ]);
    }
  });

  it("sets and removes mirror with mirrorPercentage", () => {
    const mirrored = apply(userHttp(), { canaryWeight: 0, mirrorPercent: 30 });
    expect(mirrored[0]).toMatchObject({
      mirror: { host: `iris-canary${FQDN}`, port: { number: 80 } },
      mirrorPercentage: { value: 30 },
    });
    expect(observeVirtualService(mirrored, t)).toEqual({ canaryWeight: 0, mirrorPercent: 30 });
    const off = apply(mirrored, { canaryWeight: 0, mirrorPercent: 0 });
    expect(off).toEqual(userHttp());
  });

  it("refuses to replace a mirror the user points elsewhere", () => {
    const http: HttpRoute[] = [{ ...userHttp()[0], mirror: { host: "recorder" } }];
    const r = setVirtualServiceTraffic(http, t, { canaryWeight: 0, mirrorPercent: 10 });
    expect(r).toMatchObject({ ok: false, reason: "RouteUnsupported" });
    // Without a mirror to set, the user's mirror is theirs and stays.
    expect(apply(http, { canaryWeight: 10, mirrorPercent: 0 })[0]?.mirror).toEqual({ host: "recorder" });
  });

  it("explains how to write the route when no destination is the model's", () => {
    const r = setVirtualServiceTraffic([{ route: [{ destination: { host: "iris" } }] }], t, {
      canaryWeight: 10,
      mirrorPercent: 0,
    });
    expect(r).toMatchObject({ ok: false, reason: "RouteHasNoManagedBackends" });
    expect(!r.ok && r.message).toMatch(
      /host: iris-stable}, weight: 100.*change that destination host to iris-stable/,
    );
  });

  it("refuses an http route mixing the model with another destination", () => {
    const http: HttpRoute[] = [
      { route: [dest("iris-stable", 50), { destination: { host: "legacy" }, weight: 50 }] },
    ];
    expect(setVirtualServiceTraffic(http, t, { canaryWeight: 10, mirrorPercent: 0 })).toMatchObject({
      ok: false,
      reason: "RouteUnsupported",
    });
  });
});

describe("hostIsService", () => {
  it.each([
    ["iris-stable", true],
    ["iris-stable.ml", true],
    ["iris-stable.ml.svc", true],
    ["iris-stable.ml.svc.cluster.local", true],
    ["iris-stable.ml.svc.corp.example", true],
    ["iris-stable.other.svc.cluster.local", false],
    ["iris-stable-2", false],
    ["iris-stablex.ml", false],
  ])("%s → %s", (host, expected) => {
    expect(hostIsService(host, "iris-stable", "ml")).toBe(expected);
  });

  it("observes a lone destination without weight as 100% and the legacy mirrorPercent", () => {
    const http: HttpRoute[] = [
      {
        route: [{ destination: { host: "iris-canary" } }],
        mirror: { host: "iris-canary" },
        mirrorPercent: 7,
      },
    ];
    expect(observeVirtualService(http, t)).toEqual({ canaryWeight: 100, mirrorPercent: 7 });
  });
});
