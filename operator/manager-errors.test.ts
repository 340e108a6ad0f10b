// A ModelDeployment whose owned objects the apiserver refuses to create must
// say so where the user looks, even on its very first reconcile: a
// Reconciled=False condition with the apiserver's message, and an Event.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type RunningManager, startManager } from "./manager.ts";
import { silentLogger } from "./runtime/logger.ts";
import { createRegistry } from "./runtime/metrics.ts";
import { FakeApiServer, sendStatus, waitFor } from "./testing/fake-apiserver.ts";

const NS = "ns";
const MDEPS = `/apis/modelops.io/v1alpha1/namespaces/${NS}/modeldeployments`;
const FULL = "Internal error occurred: failed to allocate a serviceIP: range is full";

let fake: FakeApiServer;
let manager: RunningManager | undefined;

beforeEach(async () => {
  fake = await new FakeApiServer().start();
});
afterEach(async () => {
  await manager?.stop();
  await fake.stop();
});

async function startOperator(): Promise<RunningManager> {
  return startManager({
    kubeConfig: fake.kubeConfig(),
    logger: silentLogger(),
    namespace: NS,
    metricsBindAddress: "0",
    leaderElect: false,
    leaderElectionNamespace: NS,
    registry: createRegistry({ defaultMetrics: false }),
  });
}

function reconciledOf(name: string): Record<string, string> | undefined {
  const status = fake.getObject(`${MDEPS}/${name}`)?.status as { conditions?: Array<Record<string, string>> };
  return status?.conditions?.find((c) => c.type === "Reconciled");
}

function putFleet(names: string[]): void {
  fake.put(`/apis/modelops.io/v1alpha1/namespaces/${NS}/modelversions/v1`, {
    apiVersion: "modelops.io/v1alpha1",
    kind: "ModelVersion",
    metadata: { name: "v1", namespace: NS },
    spec: {
      modelName: "m",
      version: "1",
      artifact: { uri: "pvc://models/m/1", format: "sklearn" },
      runtime: { name: "mlserver", image: "mlserver:1", protocol: "v2", port: 8080 },
    },
  });
  for (const name of names)
    fake.put(`${MDEPS}/${name}`, {
      apiVersion: "modelops.io/v1alpha1",
      kind: "ModelDeployment",
      metadata: { name, namespace: NS },
      spec: { modelVersion: "v1", replicas: 1 },
    });
}

/** The service IP range is full: every Service write is refused. */
function refuseServices(): void {
  fake.interceptors.push((r, res) => {
    if (!r.path.includes("/services/") || r.method === "GET") return false;
    sendStatus(res, 500, "InternalError", FULL);
    return true;
  });
}

describe("a refused owned object", () => {
  it("reaches every one of 300 new ModelDeployments within seconds, though retries queue behind the rate limit", async () => {
    refuseServices();
    const names = Array.from({ length: 300 }, (_, i) => `m${i}`);
    putFleet(names);
    manager = await startOperator();
    // The queue's overall limit (10/s after a burst of 100) spaces the retries
    // of 300 failing keys over more than a minute; the report must not wait for them.
    await waitFor(() => names.every((n) => reconciledOf(n) !== undefined), 10_000);
    for (const n of names) expect(reconciledOf(n)).toMatchObject({ status: "False", message: FULL });
  }, 20_000);

  it("becomes Reconciled=False with the apiserver's message and a Warning Event on a new ModelDeployment", async () => {
    refuseServices();
    putFleet(["m"]);
    manager = await startOperator();
    await waitFor(() => reconciledOf("m") !== undefined, 10_000);
    expect(reconciledOf("m")).toMatchObject({ status: "False", reason: "InternalError", message: FULL });
    // The Event follows the status write.
    const reported = () =>
      fake.requests.some((r) => {
        const b = r.body as { reason?: string; note?: string; message?: string } | undefined;
        return (
          r.method === "POST" &&
          r.path.includes("/events") &&
          b?.reason === "ReconcileFailed" &&
          (b.note ?? b.message) === FULL
        );
      });
    await waitFor(reported, 10_000);
    expect(reported()).toBe(true);
  });
});
