// Rollout safety in a world where pods take time to become ready or never do
// (hack/kwok/stages.yaml, chosen per ModelVersion by its runtime image) and
// client traffic reaches only what Services and routes really send it to
// (hack/localcluster/cluster-traffic.ts). The operator runs in-process.
// - A canary whose pods need ~15 s to load gets no traffic before they are
//   Ready: on the replicas router its pods are in the client Service but not
//   among its ready endpoints, and the rollout does not pass the setWeight
//   step; on the gatewayAPI router the route's canary weight stays 0.
// - A canary whose pods never become ready is rolled back by the progress
//   deadline, and never receives a request.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ClusterTraffic } from "../hack/localcluster/cluster-traffic.ts";
import { waitFor } from "../hack/localcluster/kubectl.ts";
import { simulatedImage } from "../hack/localcluster/pod-life.ts";
import { adminClient } from "./harness/client.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { type Observed, startObserved } from "./harness/observed.ts";
import {
  mdepManifest,
  type RolloutStatus,
  rolloutStatus,
  serviceRevision,
  waitStatus,
} from "./harness/rollout.ts";
import { installRouterCrds } from "./harness/router-crds.ts";
import {
  firstSampleMs,
  isPodReady,
  listPods,
  readyEndpointPods,
  readySinceMs,
  revisionRates,
  revisionsWithSeries,
} from "./harness/world.ts";

const kubeconfig = inject("kubeconfig");
const binDir = inject("binDir");
const admin = adminClient(kubeconfig);
const LOAD_SECONDS = 15;
const RPS = 20;
const CANARY_50 = "canary:\n  steps:\n    - setWeight: 50\n    - pause: {}";

let ns: TestNamespace;
let observed: Observed;
let traffic: ClusterTraffic;
let removeRouterCrds: () => Promise<void> = async () => {};

/** A copy of the sample v2 whose model server image gives its pods the named life. */
function versionWithImage(name: string, image: string): string {
  return readFileSync("config/samples/modelversion-v2.yaml", "utf8")
    .replace("name: iris-classifier-v2", `name: ${name}`)
    .replace("image: seldonio/mlserver:1.7.1", `image: "${image}"`);
}

beforeAll(async () => {
  ns = await createTestNamespace("readiness", kubeconfig, binDir);
  await ns.applySampleVersions();
  await ns.kubectlOk(
    ["apply", "-f", "-"],
    [
      versionWithImage("iris-slow", simulatedImage.readyAfter(LOAD_SECONDS)),
      versionWithImage("iris-never", simulatedImage.neverReady),
    ].join("\n---\n"),
  );
  removeRouterCrds = await installRouterCrds(kubeconfig, binDir);
  observed = await startObserved({ namespace: ns.name, binDir, kubeconfig: inject("operatorKubeconfig") });
  traffic = new ClusterTraffic(observed.exporter, admin);
});

afterAll(async () => {
  await traffic?.close();
  await observed?.stop();
  await ns?.delete();
  await removeRouterCrds();
});

/** Serves v1 with client traffic flowing to it, then changes the version; returns the rollout's first status. */
async function rollTo(name: string, manifest: (version: string) => string, version: string) {
  await ns.kubectlOk(["apply", "-f", "-"], manifest("iris-classifier-v1"));
  const v1 = await waitStatus(ns, name, (s) => s.phase === "Available", "v1 Available");
  const clients = traffic.serve({ namespace: ns.name, mdep: name, rps: RPS });
  await expectRates(name, { [v1.stableRevision as string]: RPS });
  await ns.kubectlOk(["apply", "-f", "-"], manifest(version));
  const startedAt = Date.now();
  const started = await waitStatus(ns, name, (s) => s.canaryRevision !== undefined, "rollout started");
  return {
    clients,
    started,
    startedAt,
    stable: v1.stableRevision as string,
    canary: started.canaryRevision as string,
  };
}

async function expectRates(mdep: string, expected: Record<string, number>): Promise<void> {
  await waitFor(
    async () => {
      const rates = await revisionRates(observed.prom.url, ns.name, mdep);
      const moving = Object.fromEntries(Object.entries(rates).filter(([, v]) => v > 0.01));
      const close = Object.entries(expected).every(
        ([r, want]) => Math.abs((moving[r] ?? 0) - want) <= want * 0.15,
      );
      if (close && Object.keys(moving).every((r) => r in expected)) return true;
      throw new Error(`rates ${JSON.stringify(moving)}, want ${JSON.stringify(expected)}`);
    },
    { timeoutMs: 30_000, intervalMs: 500, description: `${mdep}'s request rates` },
  );
}

/**
 * The canary's first request sample in Prometheus is not older than its first
 * pod's Ready transition. Asked once the canary serves, so the series exists:
 * asked earlier, the operator could already be routing to the pods that just
 * turned Ready, and an empty answer would prove nothing.
 */
async function expectNoSeriesBeforeReady(name: string, canary: string): Promise<void> {
  const pods = await listPods(
    admin,
    ns.name,
    `modelops.io/deployment=${name},modelops.io/revision=${canary}`,
  );
  const readyAt = Math.min(...pods.map((p) => readySinceMs(p) ?? Number.POSITIVE_INFINITY));
  const firstSample = (await firstSampleMs(observed.prom.url, ns.name, name))[canary];
  expect(firstSample, "the canary's request series").toBeDefined();
  // lastTransitionTime is truncated to the second, so it is never later than the true transition.
  expect(firstSample).toBeGreaterThanOrEqual(readyAt);
}

/**
 * Polls until every canary pod is Ready; returns what `check` found wrong at
 * the polls where none was. `check` reads before the pods are listed, so a
 * pod that turns Ready between the two reads cannot make a false alarm.
 */
async function whileCanaryUnready(
  name: string,
  canary: string,
  check: (status: RolloutStatus) => Promise<string[]>,
): Promise<{ problems: string[]; unreadyPolls: number }> {
  const problems: string[] = [];
  let unreadyPolls = 0;
  await waitFor(
    async () => {
      const found = await check(await rolloutStatus(ns, name));
      const selector = `modelops.io/deployment=${name},modelops.io/revision=${canary}`;
      const pods = await listPods(admin, ns.name, selector);
      if (pods.length > 0 && pods.every(isPodReady)) return true;
      if (pods.some(isPodReady)) return false; // between the first and the last: no claim either way
      unreadyPolls++;
      problems.push(...found);
      return false;
    },
    { timeoutMs: (LOAD_SECONDS + 45) * 1000, intervalMs: 500, description: `${name}'s canary pods Ready` },
  );
  return { problems: [...new Set(problems)], unreadyPolls };
}

describe("a canary whose pods take 15 s to become ready", () => {
  it("replicas router: gets no traffic and does not pass setWeight until its pods are Ready", async () => {
    const name = "slow";
    const { clients, startedAt, stable, canary } = await rollTo(
      name,
      (v) => mdepManifest(name, v, CANARY_50),
      "iris-slow",
    );
    const statusWeights = new Set<number>();
    const { problems, unreadyPolls } = await whileCanaryUnready(name, canary, async (s) => {
      const found: string[] = [];
      statusWeights.add(s.canaryWeight ?? 0);
      const endpoints = await readyEndpointPods(admin, ns.name, name);
      if (endpoints.some((p) => p.startsWith(`${name}-${canary}-`)))
        found.push(`ready endpoints of ${name} include canary pods: ${endpoints.join(", ")}`);
      if (clients.loads().some((l) => l.revision === canary)) found.push("the canary received requests");
      if ((s.currentStepIndex ?? 0) > 0)
        found.push(`the rollout passed setWeight (step ${s.currentStepIndex})`);
      return found;
    });
    const readyAfterS = (Date.now() - startedAt) / 1000;
    // Informational: on this router the weight is a replica ratio, so status may state it before pods are ready.
    console.log(
      `[readiness] replicas: canary Ready ${readyAfterS.toFixed(1)} s after the version change; ` +
        `status.canaryWeight meanwhile: ${[...statusWeights].join(", ")}`,
    );
    expect(problems).toEqual([]);
    expect(unreadyPolls).toBeGreaterThan(5);
    expect(readyAfterS).toBeGreaterThan(LOAD_SECONDS - 3);

    // Ready: the step completes and the Service's 2 stable + 2 canary pods split the clients evenly.
    await waitStatus(ns, name, (s) => s.currentStepIndex === 1, "past setWeight");
    await expectRates(name, { [stable]: RPS / 2, [canary]: RPS / 2 });
    await expectNoSeriesBeforeReady(name, canary);
    clients.stop();
  });

  it("gatewayAPI router: the route's canary weight stays 0 until its pods are Ready", async () => {
    const name = "routed";
    await ns.kubectlOk(["apply", "-f", "-"], httpRoute(name));
    const manifest = (v: string) =>
      `${mdepManifest(name, v, CANARY_50)}  trafficRouting:\n    gatewayAPI: {httpRoute: ${name}}\n`;
    const { clients, canary, stable } = await rollTo(name, manifest, "iris-slow");
    const { problems, unreadyPolls } = await whileCanaryUnready(name, canary, async (s) => {
      const found: string[] = [];
      const weight = await routeCanaryWeight(name);
      if (weight !== 0) found.push(`the route gives the canary weight ${weight}`);
      if ((s.canaryWeight ?? 0) !== 0) found.push(`status.canaryWeight is ${s.canaryWeight}`);
      if (clients.loads().some((l) => l.revision === canary)) found.push("the canary received requests");
      return found;
    });
    expect(problems).toEqual([]);
    expect(unreadyPolls).toBeGreaterThan(5);

    await expect.poll(() => routeCanaryWeight(name), { timeout: 30_000, interval: 500 }).toBe(50);
    await expectRates(name, { [stable]: RPS / 2, [canary]: RPS / 2 });
    await expectNoSeriesBeforeReady(name, canary);
    clients.stop();
  });
});

describe("a canary whose pods never become ready", () => {
  it("is rolled back by the progress deadline without ever receiving a request", async () => {
    const name = "stuck";
    const DEADLINE_S = 10;
    const manifest = (v: string) =>
      mdepManifest(name, v, CANARY_50).replace(
        "progressDeadlineSeconds: 120",
        `progressDeadlineSeconds: ${DEADLINE_S}`,
      );
    const { clients, startedAt, stable, canary } = await rollTo(name, manifest, "iris-never");
    const rolledBack = await waitStatus(ns, name, (s) => s.phase === "RolledBack", "rolled back", 90_000);
    const afterS = (Date.now() - startedAt) / 1000;
    console.log(`[readiness] never-ready canary rolled back ${afterS.toFixed(1)} s after the version change`);
    expect(afterS).toBeGreaterThanOrEqual(DEADLINE_S - 1);
    expect(rolledBack.message).toContain("ProgressDeadlineExceeded");
    expect(rolledBack.history?.[0]).toMatchObject({ version: "iris-never", result: "RolledBack" });
    expect(rolledBack.stableRevision).toBe(stable);
    await expect.poll(() => serviceRevision(ns, name), { timeout: 10_000 }).toBe(stable);
    expect(await revisionsWithSeries(observed.prom.url, ns.name, name)).toEqual([stable]);
    expect(clients.loads().map((l) => l.revision)).not.toContain(canary);
    await expectRates(name, { [stable]: RPS });
    clients.stop();
  });
});

/** A user's HTTPRoute naming both Services, stable at 100 (operator/rollout/routers/README.md). */
function httpRoute(name: string): string {
  return `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}}
spec:
  parentRefs: [{name: public-gateway}]
  rules:
  - backendRefs:
    - {name: ${name}-stable, port: 80, weight: 100}
    - {name: ${name}-canary, port: 80, weight: 0}
`;
}

async function routeCanaryWeight(name: string): Promise<number | undefined> {
  type Route = { spec: { rules: Array<{ backendRefs?: Array<{ name: string; weight?: number }> }> } };
  const route = (await admin.get({
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    namespace: ns.name,
    name,
  })) as unknown as Route;
  return route.spec.rules[0]?.backendRefs?.find((b) => b.name === `${name}-canary`)?.weight;
}
