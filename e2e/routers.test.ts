import { readFileSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { kubectlOk, waitFor } from "../hack/localcluster/kubectl.ts";
import { GatewayApiRouter } from "../operator/rollout/routers/gateway-api.ts";
import { cookieRegex } from "../operator/rollout/routers/header-match.ts";
import { IstioRouter, VIRTUALSERVICE_KIND } from "../operator/rollout/routers/istio.ts";
import { RoutePatcher } from "../operator/rollout/routers/route-patch.ts";
import type { RouteTarget, TrafficRouter, TrafficSplit } from "../operator/rollout/routers/types.ts";
import { KubeClient } from "../operator/runtime/kube.ts";
import type { ResourceRef } from "../operator/runtime/paths.ts";
import type { KubeObject } from "../operator/runtime/types.ts";
import { adminClient } from "./harness/client.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { installRouterCrds, routerCrdPaths } from "./harness/router-crds.ts";

const kubeconfig = inject("kubeconfig");
const binDir = inject("binDir");
const admin = adminClient(kubeconfig);
const ARGO = ["apply", "--server-side", "--field-manager=argocd-controller"];

// biome-ignore lint/suspicious/noExplicitAny: route JSON is probed freely
type Json = Record<string, any>;
type Observed = { stable: number | undefined; canary: number | undefined; mirror: number };

interface RouterCase {
  label: string;
  fixture: string;
  resource: string;
  apiVersion: string;
  kind: string;
  makeRouter(kube: KubeClient): TrafficRouter;
  observe(route: Json): Observed;
  /** The route without the fields the operator owns: must never change under the router. */
  userFields(route: Json): Json;
  /** A user's later edit of the manifest in git. */
  gitEdit(manifest: string): string;
  /** The managed list, and of its first entry the header conditions of each match and the backends' hosts/names. */
  headerEntry(route: Json): { size: number; headers: unknown[]; backends: string[] };
}

const isCanaryHost = (h: string) => h.startsWith("iris-canary");
const CASES: RouterCase[] = [
  {
    label: "gatewayAPI (HTTPRoute)",
    fixture: "e2e/fixtures/routers/httproute.yaml",
    resource: "httproute",
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    makeRouter: (kube) => new GatewayApiRouter(kube),
    gitEdit: (m) =>
      m
        .replace("hostnames: [", "hostnames: [iris.new.example.test, ")
        .replace("request: 10s", "request: 20s"),
    observe: (r) => {
      const rule = r.spec.rules[0];
      const weight = (n: string) => rule.backendRefs.find((b: Json) => b.name === n)?.weight;
      const mirror = rule.filters?.find((f: Json) => f.type === "RequestMirror")?.requestMirror;
      return {
        stable: weight("iris-stable"),
        canary: weight("iris-canary"),
        mirror: mirror ? (mirror.percent ?? 100) : 0,
      };
    },
    headerEntry: (r) => ({
      size: r.spec.rules.length,
      headers: r.spec.rules[0].matches.map((m: Json) => m.headers),
      backends: r.spec.rules[0].backendRefs.map((b: Json) => `${b.name}:${b.weight}`),
    }),
    userFields: (r) => ({
      labels: r.metadata.labels,
      annotations: r.metadata.annotations,
      spec: {
        ...r.spec,
        rules: r.spec.rules.map((rule: Json) => ({
          ...rule,
          backendRefs: rule.backendRefs.map(({ weight: _w, ...b }: Json) => b),
          filters: rule.filters?.filter((f: Json) => f.type !== "RequestMirror"),
        })),
      },
    }),
  },
  {
    label: "istio (VirtualService)",
    fixture: "e2e/fixtures/routers/virtualservice.yaml",
    resource: "virtualservice",
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    makeRouter: (kube) => new IstioRouter(kube),
    gitEdit: (m) =>
      m.replace("hosts: [", "hosts: [iris.new.example.test, ").replace("timeout: 10s", "timeout: 20s"),
    observe: (r) => {
      const http = r.spec.http[0];
      const weight = (canary: boolean) =>
        http.route.find((d: Json) => isCanaryHost(d.destination.host) === canary)?.weight;
      return {
        stable: weight(false),
        canary: weight(true),
        mirror: http.mirror ? http.mirrorPercentage.value : 0,
      };
    },
    headerEntry: (r) => ({
      size: r.spec.http.length,
      headers: r.spec.http[0].match.map((m: Json) => m.headers),
      backends: r.spec.http[0].route.map((d: Json) => `${d.destination.host.split(".")[0]}:${d.weight}`),
    }),
    userFields: (r) => ({
      annotations: r.metadata.annotations,
      spec: {
        ...r.spec,
        http: r.spec.http.map(({ mirror: _m, mirrorPercentage: _p, ...h }: Json) => ({
          ...h,
          route: h.route
            .filter((d: Json) => !isCanaryHost(d.destination.host))
            .map(({ weight: _w, ...d }: Json) => d),
        })),
      },
    }),
  },
];

let ns: TestNamespace;
let removeRouterCrds: () => Promise<void> = async () => {};

beforeAll(async () => {
  removeRouterCrds = await installRouterCrds(kubeconfig, binDir);
  ns = await createTestNamespace("routers", kubeconfig, binDir);
});

afterAll(async () => {
  await ns?.delete();
  await removeRouterCrds();
});

describe.each(CASES)("$label router", (c) => {
  let manifest: string;
  let target: RouteTarget;
  const kube = adminClient(inject("operatorKubeconfig"));
  const router = c.makeRouter(kube);
  const read = async () =>
    (await admin.get({ apiVersion: c.apiVersion, kind: c.kind, namespace: ns.name, name: "iris" })) as Json;

  beforeAll(async () => {
    manifest = readFileSync(c.fixture, "utf8").replaceAll("__NAMESPACE__", ns.name);
    await ns.kubectlOk([...ARGO, "-f", "-"], manifest);
    target = {
      namespace: ns.name,
      mdepName: "iris",
      routeName: "iris",
      stableService: "iris-stable",
      canaryService: "iris-canary",
    };
  });

  /** Sets the split, checks the route and the user's fields, then that a repeat writes nothing. */
  async function step(split: TrafficSplit, userBefore: Json): Promise<void> {
    const result = await router.setTraffic(target, split);
    expect(result, JSON.stringify(result)).toMatchObject({ ok: true });
    const live = await read();
    const { canaryWeight: w, mirrorPercent: m } = split;
    expect(c.observe(live)).toEqual({ stable: 100 - w, canary: w, mirror: m });
    expect(c.userFields(live)).toEqual(userBefore);
    expect(await router.currentTraffic(target)).toEqual({ ok: true, ...split });
    const writes = kube.writeCount();
    expect(await router.setTraffic(target, split)).toEqual({ ok: true, changed: false });
    expect(kube.writeCount()).toBe(writes);
  }

  it("walks weight 0 → 20 → 50 → 100 → 0 and mirror 30% → 0, keeping the user's fields", async () => {
    const userBefore = c.userFields(await read());
    const writesBefore = kube.writeCount();
    for (const canaryWeight of [0, 20, 50, 100, 0])
      await step({ canaryWeight, mirrorPercent: 0 }, userBefore);
    for (const mirrorPercent of [30, 0]) await step({ canaryWeight: 0, mirrorPercent }, userBefore);
    // 20, 50, 100, 0, mirror on, mirror off (+ adding the canary destination where the user had none).
    expect(kube.writeCount() - writesBefore).toBeGreaterThanOrEqual(6);
    const managers = ((await read()).metadata.managedFields as Json[]).map(
      (f) => `${f.manager}/${f.operation}`,
    );
    expect(managers).toEqual(
      expect.arrayContaining(["argocd-controller/Apply", "modelops-operator-router/Update"]),
    );
  });

  it("heals a GitOps re-apply of the user's manifest, and keeps the user's new edits", async () => {
    expect(await router.setTraffic(target, { canaryWeight: 50, mirrorPercent: 30 })).toMatchObject({
      ok: true,
    });
    // The weights live in an atomic list we last wrote, so a plain apply of other values conflicts with us;
    // Argo CD applies with force (and needs ignoreDifferences on the weights to not undo a rollout).
    const plain = await ns.kubectl([...ARGO, "-f", "-"], manifest);
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toMatch(/conflict.*modelops-operator-router/is);
    await ns.kubectlOk([...ARGO, "--force-conflicts", "-f", "-"], c.gitEdit(manifest));
    expect(c.observe(await read())).toMatchObject({ mirror: 0 });
    const userAfterGit = c.userFields(await read());

    const healed = await router.setTraffic(target, { canaryWeight: 50, mirrorPercent: 30 });
    expect(healed).toEqual({ ok: true, changed: true });
    const live = await read();
    expect(c.observe(live)).toEqual({ stable: 50, canary: 50, mirror: 30 });
    expect(c.userFields(live)).toEqual(userAfterGit);
    expect(JSON.stringify(live.spec)).toContain('"20s"');
    expect(JSON.stringify(live.spec)).toContain("iris.new.example.test");
  });

  it("writes a header route the apiserver's schema accepts, before the managed rule, and removes it", async () => {
    await router.setTraffic(target, { canaryWeight: 0, mirrorPercent: 0 });
    const before = await read();
    const size = c.headerEntry(before).size;
    const headerRoute = [
      { header: "x-cohort", value: "beta" },
      { cookie: "cohort", value: "beta" },
    ];
    const split = { canaryWeight: 20, mirrorPercent: 30, headerRoute };
    expect(await router.setTraffic(target, split)).toEqual({ ok: true, changed: true });
    const live = await read();
    const entry = c.headerEntry(live);
    expect(entry.size).toBe(size + 1);
    expect(entry.backends).toEqual(["iris-canary:100"]);
    const cookie = cookieRegex("cohort", "beta");
    expect(entry.headers).toEqual(
      c.kind === "HTTPRoute"
        ? [
            [
              { name: "x-cohort", type: "Exact", value: "beta" },
              { name: "cookie", type: "RegularExpression", value: cookie },
            ],
          ]
        : [{ "x-cohort": { exact: "beta" }, cookie: { regex: cookie } }],
    );
    // The apiserver stores a VirtualService's headers map with sorted keys: the conditions come back as a set.
    const observed = await router.currentTraffic(target);
    expect(observed).toEqual({ ok: true, ...split, headerRoute: expect.arrayContaining(headerRoute) });
    expect(observed.ok && observed.headerRoute).toHaveLength(headerRoute.length);
    const writes = kube.writeCount();
    expect(await router.setTraffic(target, split)).toEqual({ ok: true, changed: false });
    expect(kube.writeCount()).toBe(writes);

    expect(await router.setTraffic(target, { canaryWeight: 0, mirrorPercent: 0 })).toEqual({
      ok: true,
      changed: true,
    });
    const after = await read();
    expect(c.headerEntry(after).size).toBe(size);
    expect(after.spec).toEqual(before.spec);
    expect(await router.currentTraffic(target)).toEqual({ ok: true, canaryWeight: 0, mirrorPercent: 0 });
  });

  it("re-reads and retries when someone writes between its read and its patch", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(inject("operatorKubeconfig"));
    const racing = new RacingClient(kc);
    const result = await c.makeRouter(racing).setTraffic(target, { canaryWeight: 10, mirrorPercent: 0 });
    expect(result).toEqual({ ok: true, changed: true });
    expect(racing.requestCounts.patch).toBe(2); // the first was refused with 409
    const live = await read();
    expect(live.metadata.annotations["test.example/racer"]).toBe("was here");
    expect(c.observe(live)).toMatchObject({ stable: 90, canary: 10 });
  });

  it("reports a missing route with how to fix it, without throwing", async () => {
    const absent = { ...target, routeName: "no-such-route" };
    const result = await router.setTraffic(absent, { canaryWeight: 10, mirrorPercent: 0 });
    expect(result).toMatchObject({ ok: false, reason: "RouteNotFound" });
    expect(!result.ok && result.message).toMatch(
      new RegExp(
        `${c.kind} no-such-route not found in namespace ${ns.name}: create it there with a backend for Service iris-stable`,
      ),
    );
    expect(await router.currentTraffic(absent)).toMatchObject({ ok: false, reason: "RouteNotFound" });
  });
});

describe("API version discovery", () => {
  const kube = adminClient(inject("operatorKubeconfig"));
  const target = () => ({
    namespace: ns.name,
    mdepName: "iris",
    routeName: "iris",
    stableService: "iris-stable",
    canaryService: "iris-canary",
  });

  it("falls back to the next version when one is not served", async () => {
    const patcher = new RoutePatcher(kube, { ...VIRTUALSERVICE_KIND, versions: ["v9alpha1", "v1beta1"] });
    const loaded = await patcher.load(target());
    expect(loaded).toMatchObject({ ok: true, route: { apiVersion: "networking.istio.io/v1beta1" } });
  });

  it("says what to install when no version is served", async () => {
    const patcher = new RoutePatcher(kube, { ...VIRTUALSERVICE_KIND, versions: ["v9alpha1"] });
    const loaded = await patcher.load(target());
    expect(loaded).toMatchObject({ ok: false, reason: "RouteKindNotInstalled" });
    expect(!loaded.ok && loaded.message).toMatch(/tried networking.istio.io\/v9alpha1\): install Istio/);
  });
});

describe("gatewayAPI router on Gateway API CRDs older than v1.3 (no RequestMirror percent)", () => {
  const kube = adminClient(inject("operatorKubeconfig"));
  const router = new GatewayApiRouter(kube);
  const opts = () => ({ kubeconfig, binDir });
  const target = () => ({
    namespace: ns.name,
    mdepName: "iris",
    routeName: "iris",
    stableService: "iris-stable",
    canaryService: "iris-canary",
  });
  const installHttpRoute = async (env: Record<string, string>) => {
    const { HTTPROUTE_CRD } = await routerCrdPaths(env);
    await kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", `${HTTPROUTE_CRD}`], opts());
  };
  // The apiserver swaps a CRD's schema asynchronously: wait until a server-side dry run sees the new one.
  const percentAccepted = async () => {
    const route = readFileSync(CASES[0]?.fixture ?? "", "utf8").replace(
      "    backendRefs:\n    - {name: iris-stable",
      "    - {type: RequestMirror, requestMirror: {backendRef: {name: m, port: 80}, percent: 5}}\n" +
        "    backendRefs:\n    - {name: iris-stable",
    );
    const r = await ns.kubectl(["apply", "--dry-run=server", "--validate=strict", "-f", "-"], route);
    return r.code === 0;
  };

  beforeAll(async () => {
    await installHttpRoute({ GATEWAY_API_VERSION: "v1.2.1" });
    await waitFor(async () => !(await percentAccepted()), {
      description: "the v1.2.1 HTTPRoute schema in effect",
    });
  });
  afterAll(async () => {
    await installHttpRoute({});
    await waitFor(percentAccepted, { description: "the pinned HTTPRoute schema back in effect" });
  });

  it("refuses a partial mirror, takes the mirror off again, and says how to fix it", async () => {
    const writes = kube.writeCount();
    const result = await router.setTraffic(target(), { canaryWeight: 0, mirrorPercent: 30 });
    expect(result).toMatchObject({ ok: false, reason: "MirrorPercentUnsupported" });
    expect(!result.ok && result.message).toMatch(
      /mirror was removed again.*Upgrade the Gateway API CRDs to v1.3/,
    );
    expect(kube.writeCount() - writes).toBe(2);
    expect(await router.currentTraffic(target())).toEqual({ ok: true, canaryWeight: 0, mirrorPercent: 0 });
  });

  it("still mirrors 100%, which needs no percent", async () => {
    expect(await router.setTraffic(target(), { canaryWeight: 0, mirrorPercent: 100 })).toEqual({
      ok: true,
      changed: true,
    });
    expect(await router.currentTraffic(target())).toEqual({ ok: true, canaryWeight: 0, mirrorPercent: 100 });
    expect(await router.setTraffic(target(), { canaryWeight: 0, mirrorPercent: 0 })).toMatchObject({
      ok: true,
    });
  });
});

/** Lets another writer change the route just before the router's first patch. */
class RacingClient extends KubeClient {
  private raced = false;
  override async mergePatch<T extends KubeObject = KubeObject>(
    ref: ResourceRef,
    patch: unknown,
    opts: { fieldManager?: string } = {},
  ): Promise<T> {
    if (!this.raced) {
      this.raced = true;
      await admin.mergePatch(ref, { metadata: { annotations: { "test.example/racer": "was here" } } });
    }
    return super.mergePatch<T>(ref, patch, opts);
  }
}
