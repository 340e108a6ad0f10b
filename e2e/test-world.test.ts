// The integration tier's world behaves as a cluster does for users, not as a
// test would like: pods take time to become ready, some never do, some crash
// and restart (KWOK stages chosen by image, hack/localcluster/pod-life.ts),
// and request series exist only for revisions that the Services and routes
// really send traffic to (hack/localcluster/cluster-traffic.ts). No operator
// runs here: the objects are made by hand, so these tests show the world
// itself; e2e/rollout-readiness.test.ts puts the operator in it.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../hack/localcluster/kubectl.ts";
import { simulatedImage } from "../hack/localcluster/pod-life.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { installRouterCrds } from "./harness/router-crds.ts";
import {
  isPodReady,
  listPods,
  type PodStatus,
  readyEndpointPods,
  readySinceMs,
  revisionDeployment,
  revisionRates,
  revisionsWithSeries,
  serviceManifest,
  startTrafficWorld,
  type TrafficWorld,
} from "./harness/world.ts";

const kubeconfig = inject("kubeconfig");
const binDir = inject("binDir");
const HEALTHY_IMAGE = "seldonio/mlserver:1.7.1";
let ns: TestNamespace;
let world: TrafficWorld;
let removeRouterCrds: () => Promise<void> = async () => {};

beforeAll(async () => {
  ns = await createTestNamespace("world", kubeconfig, binDir);
  world = await startTrafficWorld({ binDir, adminKubeconfig: kubeconfig });
});

afterAll(async () => {
  await world?.stop();
  await ns?.delete();
  await removeRouterCrds();
});

const apply = (...manifests: string[]) => ns.kubectlOk(["apply", "-f", "-"], manifests.join("\n---\n"));
const podsOf = (mdep: string, revision: string) =>
  listPods(world.kube, ns.name, `modelops.io/deployment=${mdep},modelops.io/revision=${revision}`);
const onlyPod = async (mdep: string, revision: string): Promise<PodStatus | undefined> =>
  (await podsOf(mdep, revision))[0];
const modelStatus = (pod: PodStatus) => pod.status.containerStatuses?.find((c) => c.name === "model");
/** A Deployment like revision `revision` of ModelDeployment `mdep`, serving version "v-<revision>". */
const rev = (
  mdep: string,
  revision: string,
  image: string,
  replicas: number,
  labels?: Record<string, string>,
) =>
  revisionDeployment({
    mdep,
    revision,
    version: `v-${revision}`,
    image,
    replicas,
    ...(labels ? { labels } : {}),
  });

describe("pod life chosen per version by the model server image", () => {
  const READY_AFTER_S = 6;
  let createdAt = 0;

  beforeAll(async () => {
    // All three at once: they age together, so the never-ready and crash checks need no wait of their own.
    createdAt = Date.now();
    await apply(
      rev("life", "slow", simulatedImage.readyAfter(READY_AFTER_S), 1),
      rev("life", "never", simulatedImage.neverReady, 1),
      rev("life", "crash", simulatedImage.crashLoop, 1),
    );
  });

  it(`a version marked "ready after ${READY_AFTER_S} s" runs unready for about that long, then is Ready`, async () => {
    let firstRunningUnready: number | undefined;
    const ready = await waitFor(
      async () => {
        const pod = await onlyPod("life", "slow");
        if (pod?.status.phase === "Running" && !isPodReady(pod)) firstRunningUnready ??= Date.now();
        return pod && isPodReady(pod) ? pod : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, description: "the slow pod to become Ready" },
    );
    const seenReadyAt = Date.now();
    expect(firstRunningUnready, "the pod was seen Running and not Ready").toBeDefined();
    expect(modelStatus(ready)).toMatchObject({ ready: true, started: true, restartCount: 0 });
    // The pod's own timestamps (second resolution): started, then Ready N s later.
    const unreadyMs = (readySinceMs(ready) ?? 0) - Date.parse(ready.status.startTime ?? "");
    console.log(`[world] ready-after-${READY_AFTER_S}s pod: Ready ${unreadyMs / 1000} s after it started`);
    expect(unreadyMs).toBeGreaterThanOrEqual((READY_AFTER_S - 1) * 1000);
    expect(unreadyMs).toBeLessThanOrEqual((READY_AFTER_S + 5) * 1000);
    expect(seenReadyAt - (firstRunningUnready ?? seenReadyAt)).toBeGreaterThanOrEqual(
      (READY_AFTER_S - 2) * 1000,
    );
  });

  it("never-ready pods stay unready; crashing pods restart again and again and stay unready", async () => {
    const becameReady: string[] = [];
    let sawBackOff = false;
    const crashing = await waitFor(
      async () => {
        const [never, crash] = await Promise.all([onlyPod("life", "never"), onlyPod("life", "crash")]);
        for (const pod of [never, crash]) if (pod && isPodReady(pod)) becameReady.push(pod.metadata.name);
        if (crash && modelStatus(crash)?.state?.waiting?.reason === "CrashLoopBackOff") sawBackOff = true;
        return crash && (modelStatus(crash)?.restartCount ?? 0) >= 2 ? crash : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 300, description: "the crashing pod to restart twice" },
    );
    expect(becameReady).toEqual([]);
    expect(sawBackOff, "CrashLoopBackOff was seen between restarts").toBe(true);
    expect(crashing.status.phase).toBe("Running");
    expect(isPodReady(crashing)).toBe(false);
    expect(modelStatus(crashing)?.lastState?.terminated).toMatchObject({ exitCode: 1, reason: "Error" });
    await expect.poll(() => ns.eventMessages(crashing.metadata.name, "BackOff")).toContain("Back-off");

    const never = await onlyPod("life", "never");
    expect(Date.now() - createdAt).toBeGreaterThan(READY_AFTER_S * 1000); // longer than the slow one needed
    expect(never?.status.phase).toBe("Running");
    expect(never && isPodReady(never)).toBe(false);
    expect(never && modelStatus(never)).toMatchObject({ ready: false, started: true, restartCount: 0 });
    for (const name of ["life-never", "life-crash"]) {
      const d = await ns.getJson<{ status: { readyReplicas?: number } }>("deployment", name);
      expect(d?.status.readyReplicas ?? 0, name).toBe(0);
    }
  });
});

/** Polls Prometheus until each revision's request rate is within 15% of `expected` (and no other revision has any). */
async function expectRates(mdep: string, expected: Record<string, number>, code?: string): Promise<void> {
  await waitFor(
    async () => {
      const rates = await revisionRates(world.prom.url, ns.name, mdep, code ? { code } : {});
      const moving = Object.fromEntries(Object.entries(rates).filter(([, v]) => v > 0.01));
      const close = Object.entries(expected).every(
        ([r, want]) => Math.abs((moving[r] ?? 0) - want) <= want * 0.15,
      );
      const extra = Object.keys(moving).filter((r) => !(r in expected));
      if (close && extra.length === 0) return true;
      throw new Error(`rates ${JSON.stringify(moving)}, want ${JSON.stringify(expected)}`);
    },
    { timeoutMs: 30_000, intervalMs: 500, description: `${mdep}'s request rates${code ? ` (${code})` : ""}` },
  );
}

describe("traffic derived from the cluster", () => {
  it("a Service's traffic reaches only its ready pods, in proportion to them", async () => {
    const serving = { serving: "true" };
    await apply(
      serviceManifest("world", { "modelops.io/deployment": "world", ...serving }),
      rev("world", "two", HEALTHY_IMAGE, 2, serving),
      rev("world", "one", HEALTHY_IMAGE, 1, serving),
      rev("world", "unready", simulatedImage.neverReady, 1, serving),
      // Ready, but the Service does not select it.
      rev("world", "aside", HEALTHY_IMAGE, 1),
    );
    await waitFor(async () => (await readyEndpointPods(world.kube, ns.name, "world")).length === 3, {
      timeoutMs: 60_000,
      description: "three ready endpoints behind the world Service",
    });
    const clients = world.traffic.serve({
      namespace: ns.name,
      mdep: "world",
      rps: 30,
      versions: { "v-one": { errorRate: 0.5 } },
    });
    await expectRates("world", { two: 20, one: 10 });
    await expectRates("world", { one: 5 }, "5xx"); // v-one answers half its requests with errors
    expect(await revisionsWithSeries(world.prom.url, ns.name, "world")).toEqual(["one", "two"]);
    expect(clients.loads().map((l) => l.revision)).toEqual(["one", "two"]);

    // One more ready pod of "one" shifts the split to 2:2.
    await ns.kubectlOk(["scale", "deployment/world-one", "--replicas=2"]);
    await expectRates("world", { two: 15, one: 15 });
    clients.stop();
  });

  it("a route's weights and mirror decide the split between the stable and canary Services", async () => {
    removeRouterCrds = await installRouterCrds(kubeconfig, binDir);
    // Only read here: no operator runs in this namespace.
    const mdep = {
      apiVersion: "modelops.io/v1alpha1",
      kind: "ModelDeployment",
      metadata: { name: "routed" },
      spec: {
        modelVersion: "iris-classifier-v1",
        replicas: 2,
        trafficRouting: { gatewayAPI: { httpRoute: "routed" } },
      },
    };
    const mirror = (percent: number) =>
      `{type: RequestMirror, requestMirror: {backendRef: {name: routed-canary, port: 80}, percent: ${percent}}}`;
    const route = (stable: number, canary: number, mirrorPercent = 0) => `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: routed}
spec:
  parentRefs: [{name: public-gateway}]
  rules:
  - backendRefs:
    - {name: routed-stable, port: 80, weight: ${stable}}
    - {name: routed-canary, port: 80, weight: ${canary}}
    filters: [${mirrorPercent > 0 ? mirror(mirrorPercent) : ""}]
`;
    await apply(
      JSON.stringify(mdep),
      serviceManifest("routed-stable", { "modelops.io/deployment": "routed", "modelops.io/revision": "old" }),
      serviceManifest("routed-canary", { "modelops.io/deployment": "routed", "modelops.io/revision": "new" }),
      rev("routed", "old", HEALTHY_IMAGE, 2),
      rev("routed", "new", HEALTHY_IMAGE, 1),
      route(75, 25),
    );
    await waitFor(async () => (await readyEndpointPods(world.kube, ns.name, "routed-canary")).length === 1, {
      timeoutMs: 60_000,
      description: "the canary Service's ready endpoint",
    });
    const clients = world.traffic.serve({ namespace: ns.name, mdep: "routed", rps: 40 });
    await expectRates("routed", { old: 30, new: 10 });

    // Weight back to stable, with half the requests mirrored to the canary.
    await apply(route(100, 0, 50));
    await expectRates("routed", { old: 40, new: 20 });
    expect(clients.loads()).toEqual([
      { revision: "new", version: "v-new", servedRps: 0, mirroredRps: 20 },
      { revision: "old", version: "v-old", servedRps: 40, mirroredRps: 0 },
    ]);
    clients.stop();
  });
});
