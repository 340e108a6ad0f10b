// A drift episode's actions (rollback, retraining Job, webhook) run once even
// when the reconcile reads a stale cache: the informer may not have delivered
// the status that says they ran when the next evaluation is due.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { MetricProvider } from "../../analysis/provider.ts";
import { createRouters } from "../../rollout/routers/index.ts";
import { KubeClient } from "../../runtime/kube.ts";
import { silentLogger } from "../../runtime/logger.ts";
import { createRegistry } from "../../runtime/metrics.ts";
import { outboundPolicy } from "../../runtime/outbound.ts";
import { Store } from "../../runtime/store.ts";
import type { KubeObject } from "../../runtime/types.ts";
import { FakeApiServer } from "../../testing/fake-apiserver.ts";
import { enforceResourceVersion } from "../../testing/resource-version.ts";
import type { DriftDeps } from "./deps.ts";
import { reconcileDriftMonitor } from "./reconciler.ts";

const NS = "ml";
const API = `/apis/modelops.io/v1alpha1/namespaces/${NS}`;

/** Every live value of x lies above the reference's range: Critical drift. */
const drifted: MetricProvider = {
  query: async () => ({ kind: "noData", reason: "unused" }),
  queryVector: async () => ({
    kind: "vector",
    samples: [
      { labels: { le: "1" }, value: 0 },
      { labels: { le: "2" }, value: 0 },
      { labels: { le: "3" }, value: 0 },
      { labels: { le: "+Inf" }, value: 1000 },
    ],
  }),
};

let fake: FakeApiServer;
let webhook: Server;
let webhookCalls: number;
let clock: Date;
let deps: DriftDeps;
const TRAINER = { serviceAccountName: "trainer", containers: [{ name: "train" }] };

/** Replaces the stored DriftMonitor's retraining pod spec (in the fake and the cache). */
function setRetrainPod(pod: Record<string, unknown>): void {
  const path = `${API}/driftmonitors/scorer`;
  const dm = structuredClone(fake.getObject(path)) as KubeObject & {
    spec: { actions: Record<string, unknown> };
  };
  dm.spec.actions.retrainJob = { template: { spec: { template: { spec: pod } } } };
  deps.stores.driftMonitors.set(fake.put(path, dm));
}

function objects(webhookUrl: string): Record<string, KubeObject> {
  const meta = (name: string) => ({ name, namespace: NS });
  return {
    [`${API}/modelversions/scorer-v2`]: {
      apiVersion: "modelops.io/v1alpha1",
      kind: "ModelVersion",
      metadata: meta("scorer-v2"),
      spec: {
        reference: {
          sampleSize: 10000,
          features: [
            { name: "x", type: "numeric", edges: [0, 1, 2, 3, 4], fractions: [0.25, 0.25, 0.25, 0.25] },
          ],
        },
      },
    },
    [`${API}/modeldeployments/scorer`]: {
      apiVersion: "modelops.io/v1alpha1",
      kind: "ModelDeployment",
      metadata: meta("scorer"),
      spec: { modelVersion: "scorer-v2" },
      status: { stableVersion: "scorer-v2", previousVersion: "scorer-v1" },
    },
    [`${API}/driftmonitors/scorer`]: {
      apiVersion: "modelops.io/v1alpha1",
      kind: "DriftMonitor",
      metadata: meta("scorer"),
      spec: {
        targetRef: { name: "scorer" },
        interval: "1m",
        predictions: false,
        actions: {
          rollback: true,
          retrainJob: { template: { spec: { template: { spec: TRAINER } } } },
          webhook: { url: webhookUrl },
        },
      },
    },
  };
}

beforeEach(async () => {
  webhookCalls = 0;
  webhook = createServer((_req, res) => {
    webhookCalls++;
    res.writeHead(204).end();
  });
  await new Promise<void>((r) => webhook.listen(0, "127.0.0.1", r));
  fake = await new FakeApiServer().start();
  enforceResourceVersion(fake);
  const kube = new KubeClient(fake.kubeConfig());
  const stores = {
    modelVersions: new Store<KubeObject>(),
    modelDeployments: new Store<KubeObject>(),
    deployments: new Store<KubeObject>(),
    services: new Store<KubeObject>(),
    hpas: new Store<KubeObject>(),
    driftMonitors: new Store<KubeObject>(),
  };
  const url = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/drift`;
  for (const [path, obj] of Object.entries(objects(url))) {
    const stored = fake.put(path, obj);
    if (obj.kind === "ModelVersion") stores.modelVersions.set(stored);
    if (obj.kind === "ModelDeployment") stores.modelDeployments.set(stored);
    if (obj.kind === "DriftMonitor") stores.driftMonitors.set(stored);
  }
  clock = new Date("2026-01-01T00:00:00Z");
  deps = {
    kube,
    stores,
    events: { event: () => undefined },
    log: silentLogger(),
    now: () => clock,
    registry: createRegistry({ defaultMetrics: false }),
    prometheus: drifted,
    prometheusAddress: undefined,
    routers: createRouters(kube),
    // The test's webhook listens on loopback: allowed, as an admin would allow an in-cluster receiver.
    outbound: outboundPolicy({ allow: "127.0.0.1" }),
  };
});

afterEach(async () => {
  await fake.stop();
  await new Promise((r) => webhook.close(r));
});

describe("DriftMonitor actions under a stale cache", () => {
  it("run once when the same stale DriftMonitor is reconciled twice", async () => {
    const key = { namespace: NS, name: "scorer" };
    await reconcileDriftMonitor(deps, key);
    expect(fake.getObject(`${API}/driftmonitors/scorer`)?.status).toMatchObject({ verdict: "Critical" });

    // The cache still holds the DriftMonitor without lastActionTime.
    clock = new Date(clock.getTime() + 1000);
    await expect(reconcileDriftMonitor(deps, key)).rejects.toMatchObject({ status: 409 });

    expect(webhookCalls).toBe(1);
    const jobs = fake.requests.filter((r) => r.method === "POST" && r.path.endsWith("/jobs"));
    expect(jobs).toHaveLength(1);
    const undo = fake.requests.filter(
      (r) => r.method === "PATCH" && r.path === `${API}/modeldeployments/scorer`,
    );
    expect(undo).toHaveLength(1);
  });
});

describe("DriftMonitor actions the operator will not take for the author", () => {
  const jobsCreated = () => fake.requests.filter((r) => r.method === "POST" && r.path.endsWith("/jobs"));

  it("sends no webhook to loopback unless --outbound-allow names it, and says why", async () => {
    deps.outbound = outboundPolicy();
    await reconcileDriftMonitor(deps, { namespace: NS, name: "scorer" });
    expect(webhookCalls).toBe(0);
    const status = fake.getObject(`${API}/driftmonitors/scorer`)?.status as { lastActionResult?: string };
    expect(status.lastActionResult).toMatch(
      /webhook failed: refused to send to 127\.0\.0\.1: it is a loopback address; allow it with the operator flag --outbound-allow/,
    );
    expect(jobsCreated()).toHaveLength(1); // the other actions still ran
  });

  it("creates no Job from a privileged template or one without a ServiceAccount", async () => {
    for (const pod of [
      { ...TRAINER, containers: [{ name: "train", securityContext: { privileged: true } }] },
      { containers: [{ name: "train" }] },
    ]) {
      setRetrainPod(pod);
      clock = new Date(clock.getTime() + 120_000);
      const dm = fake.getObject(`${API}/driftmonitors/scorer`) as KubeObject;
      // A new episode each time: the previous one is forgotten.
      deps.stores.driftMonitors.set(fake.put(`${API}/driftmonitors/scorer`, { ...dm, status: {} }));
      await reconcileDriftMonitor(deps, { namespace: NS, name: "scorer" });
      const status = fake.getObject(`${API}/driftmonitors/scorer`)?.status as {
        lastActionResult?: string;
        conditions?: { type: string; status: string; message: string }[];
      };
      expect(status.lastActionResult).toMatch(/retraining Job refused: /);
      expect(status.conditions?.find((c) => c.type === "RetrainJobAllowed")?.status).toBe("False");
    }
    expect(jobsCreated()).toHaveLength(0);
    expect(webhookCalls).toBe(2); // the allowed webhook still went
  });
});
