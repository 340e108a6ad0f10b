import { readFileSync } from "node:fs";
import yaml from "js-yaml";
import { describe, expect, it } from "vitest";
import { CONFIG_ENV } from "../../operator/api/proxy-config.ts";
import { httpRouteRules, proxyShadowOf, virtualServiceRules } from "./traffic-routes.ts";
import { type ClusterView, type PodView, type RouteRule, revisionLoads } from "./traffic-split.ts";

const pod = (name: string, revision: string, extra: Partial<PodView> = {}): PodView => ({
  name,
  revision,
  version: `v-${revision}`,
  ...extra,
});
// Stable revision "s" with two pods, canary "c" with one, and a pod of "c" that is not ready.
const pods = [pod("s-1", "s"), pod("s-2", "s"), pod("c-1", "c"), pod("c-2", "c")];
const managed = new Set(["iris-stable", "iris-canary"]);

function loads(view: Partial<ClusterView>, rps = 60) {
  return revisionLoads(
    { entry: { kind: "service", service: "iris" }, pods, readyEndpoints: {}, ...view },
    rps,
  );
}

function routed(rules: RouteRule[], readyEndpoints: Record<string, string[]>, viewPods = pods) {
  return loads({ entry: { kind: "route", name: "iris", rules }, readyEndpoints, pods: viewPods });
}

const byRevision = (l: ReturnType<typeof loads>) =>
  Object.fromEntries(l.map((x) => [x.revision, { served: x.servedRps, mirrored: x.mirroredRps }]));

describe("revisionLoads", () => {
  it("replicas router: shares follow the ready pods the client Service selects", () => {
    // c-2 is not ready; a pod of another revision the Service does not select is ignored.
    const l = loads({ readyEndpoints: { iris: ["s-1", "s-2", "c-1"] } });
    expect(byRevision(l)).toEqual({ s: { served: 40, mirrored: 0 }, c: { served: 20, mirrored: 0 } });
    expect(l.find((x) => x.revision === "c")?.version).toBe("v-c");
  });

  it("gives nothing to anyone when the Service has no ready endpoint", () => {
    expect(loads({ readyEndpoints: { iris: [] } })).toEqual([]);
    expect(loads({ readyEndpoints: {} })).toEqual([]);
  });

  it("route: shares follow the weights, spread over each Service's ready pods", () => {
    const rule = {
      backends: [
        { service: "iris-stable", weight: 75 },
        { service: "iris-canary", weight: 25 },
      ],
    };
    const l = routed([rule], { "iris-stable": ["s-1", "s-2"], "iris-canary": ["c-1"] });
    expect(byRevision(l)).toEqual({ s: { served: 45, mirrored: 0 }, c: { served: 15, mirrored: 0 } });
  });

  it("route: a weighted Service without ready pods loses its share (the gateway fails those requests)", () => {
    const rule = {
      backends: [
        { service: "iris-stable", weight: 50 },
        { service: "iris-canary", weight: 50 },
      ],
    };
    expect(byRevision(routed([rule], { "iris-stable": ["s-1"], "iris-canary": [] }))).toEqual({
      s: { served: 30, mirrored: 0 },
    });
  });

  it("route: weights summing to 0, no managed rule, or a missing route send nothing", () => {
    const zero = { backends: [{ service: "iris-stable", weight: 0 }] };
    expect(routed([zero], { "iris-stable": ["s-1"] })).toEqual([]);
    expect(routed([], { "iris-stable": ["s-1"] })).toEqual([]);
    expect(
      loads({ entry: { kind: "missing-route", name: "iris" }, readyEndpoints: { iris: ["s-1"] } }),
    ).toEqual([]);
  });

  it("route mirror: the mirror Service's ready pods get the copied share on top", () => {
    const rule = {
      backends: [
        { service: "iris-stable", weight: 100 },
        { service: "iris-canary", weight: 0 },
      ],
      mirror: { service: "iris-canary", percent: 50 },
    };
    const l = routed([rule], { "iris-stable": ["s-1", "s-2"], "iris-canary": ["c-1"] });
    expect(byRevision(l)).toEqual({ s: { served: 60, mirrored: 0 }, c: { served: 0, mirrored: 30 } });
  });

  it("proxy shadow: serving pods copy their configured percent to the shadow Service", () => {
    const shadow = { service: "iris-canary", percent: 40 };
    const withShadow = [
      pod("s-1", "s", { proxyShadow: shadow }),
      pod("s-2", "s", { proxyShadow: shadow }),
      pod("c-1", "c"),
    ];
    const l = loads({ pods: withShadow, readyEndpoints: { iris: ["s-1", "s-2"], "iris-canary": ["c-1"] } });
    expect(byRevision(l)).toEqual({ s: { served: 60, mirrored: 0 }, c: { served: 0, mirrored: 24 } });
  });
});

describe("reading routes", () => {
  const fixture = (path: string) =>
    yaml.load(readFileSync(path, "utf8").replaceAll("__NAMESPACE__", "ml")) as Record<string, unknown>;

  it("HTTPRoute: only rules naming the model's Services; weights default to 1; mirror percent or fraction", () => {
    const route = fixture("e2e/fixtures/routers/httproute.yaml");
    expect(httpRouteRules(route, managed)).toEqual([
      {
        backends: [
          { service: "iris-stable", weight: 100 },
          { service: "iris-canary", weight: 0 },
        ],
      },
    ]);
    const mirrored = (requestMirror: object) => ({
      spec: {
        rules: [
          {
            backendRefs: [{ name: "iris-stable" }, { name: "iris-canary" }],
            filters: [{ type: "RequestMirror", requestMirror }],
          },
        ],
      },
    });
    const backendRef = { name: "iris-canary", port: 80 };
    expect(httpRouteRules(mirrored({ backendRef }), managed)[0]).toEqual({
      backends: [
        { service: "iris-stable", weight: 1 },
        { service: "iris-canary", weight: 1 },
      ],
      mirror: { service: "iris-canary", percent: 100 },
    });
    expect(httpRouteRules(mirrored({ backendRef, percent: 30 }), managed)[0]?.mirror?.percent).toBe(30);
    const fraction = { numerator: 1, denominator: 4 };
    expect(httpRouteRules(mirrored({ backendRef, fraction }), managed)[0]?.mirror?.percent).toBe(25);
  });

  it("VirtualService: fully qualified hosts name Services; a lone destination takes 100", () => {
    const vs = fixture("e2e/fixtures/routers/virtualservice.yaml");
    expect(virtualServiceRules(vs, managed)).toEqual([
      { backends: [{ service: "iris-stable", weight: 100 }] },
    ]);
    const split = {
      spec: {
        http: [
          {
            route: [
              { destination: { host: "iris-stable.ml.svc.cluster.local" }, weight: 80 },
              { destination: { host: "iris-canary.ml.svc.cluster.local" }, weight: 20 },
            ],
            mirror: { host: "iris-canary.ml.svc.cluster.local" },
            mirrorPercentage: { value: 10 },
          },
        ],
      },
    };
    expect(virtualServiceRules(split, managed)).toEqual([
      {
        backends: [
          { service: "iris-stable", weight: 80 },
          { service: "iris-canary", weight: 20 },
        ],
        mirror: { service: "iris-canary", percent: 10 },
      },
    ]);
  });

  it("reads a proxy's shadow target from the config the operator wrote", () => {
    const withConfig = (config: object) => ({
      spec: {
        containers: [
          { name: "model" },
          { name: "modelops-proxy", env: [{ name: CONFIG_ENV, value: JSON.stringify(config) }] },
        ],
      },
    });
    expect(
      proxyShadowOf(withConfig({ shadow: { url: "http://iris-canary.ml.svc:80", percent: 40 } })),
    ).toEqual({
      service: "iris-canary",
      percent: 40,
    });
    expect(proxyShadowOf(withConfig({ revision: "s" }))).toBeUndefined();
    expect(proxyShadowOf({ spec: { containers: [{ name: "model" }] } })).toBeUndefined();
  });
});
