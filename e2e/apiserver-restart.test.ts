// The operator across a real kube-apiserver outage: the shared cluster's
// apiserver is SIGKILLed and started again; the operator's watches must
// reconnect by themselves (backoff capped at 30 s), notice what changed
// meanwhile, and reconcile again.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { apiConnection } from "../hack/localcluster/api.ts";
import { kubectlOk, waitFor } from "../hack/localcluster/kubectl.ts";
import { nodesReady } from "../hack/localcluster/nodes.ts";
import type { RunningManager } from "../operator/manager.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { startInProcess } from "./harness/operator.ts";
import { type Restarted, restartComponent } from "./harness/restart-component.ts";
import { withStandInApiserver } from "./harness/standin-apiserver.ts";

const kubeconfig = inject("kubeconfig");
const binDir = inject("binDir");
const clusterDir = inject("clusterDir");
const auditLogPath = inject("auditLogPath");

type Mdep = {
  metadata: { uid: string };
  status?: { replicas?: number; readyReplicas?: number; conditions?: { type: string; status: string }[] };
};
type Obj = { metadata: { uid: string }; spec: { replicas?: number } };

let ns: TestNamespace;
let operator: RunningManager;

async function waitAvailable(replicas: number, timeoutMs: number): Promise<Mdep> {
  return waitFor(
    async () => {
      const m = await ns.getJson<Mdep>("mdep", "iris-classifier");
      const available = m?.status?.conditions?.some((c) => c.type === "Available" && c.status === "True");
      return available && m?.status?.readyReplicas === replicas && m.status.replicas === replicas
        ? m
        : undefined;
    },
    { timeoutMs, description: `iris-classifier Available with ${replicas} ready replicas` },
  );
}

/** When the operator's first list or watch of Services reached the apiserver after `since`. */
function firstServiceWatchAfter(since: Date): Date | undefined {
  for (const line of readFileSync(auditLogPath, "utf8").split("\n")) {
    if (!line.includes("modelops-operator")) continue;
    const e = JSON.parse(line) as {
      verb: string;
      user: { username: string };
      objectRef?: { resource?: string };
      requestReceivedTimestamp: string;
    };
    const t = new Date(e.requestReceivedTimestamp);
    const isServiceRead = e.objectRef?.resource === "services" && (e.verb === "watch" || e.verb === "list");
    if (e.user.username === "modelops-operator" && isServiceRead && t >= since) return t;
  }
  return undefined;
}

describe("the operator across a kube-apiserver restart", () => {
  let restart: Restarted;

  beforeAll(async () => {
    ns = await createTestNamespace("apirestart", kubeconfig, binDir);
    // Pods created before the models claim is bound fail scheduling and wait
    // for the scheduler's retry (10+ s), which is not what this file measures.
    await waitFor(
      async () =>
        (await ns.getJson<{ status?: { phase?: string } }>("pvc", "models"))?.status?.phase === "Bound",
      { timeoutMs: 60_000, description: "PVC models Bound" },
    );
    operator = await startInProcess({ kubeconfig: inject("operatorKubeconfig"), namespace: ns.name });
  });
  afterAll(async () => {
    await operator?.stop();
    await ns?.delete();
  });

  it("serves the sample before the outage", async () => {
    await ns.kubectlOk([
      "apply",
      "-f",
      "config/samples/modelversion.yaml",
      "-f",
      "config/samples/modeldeployment.yaml",
    ]);
    await waitAvailable(2, 90_000);
  });

  it("recreates the Service deleted while its apiserver was down", async () => {
    const before = await ns.getJson<Obj>("service", "iris-classifier");
    expect(before).toBeDefined();
    let deletedAt: Date | undefined;
    // The delete goes through a second apiserver on the same etcd while the
    // operator's one is dead, so the operator cannot have seen it happen: it
    // must find out by re-listing or resuming its watch after the restart.
    restart = await restartComponent(clusterDir, "kube-apiserver", {
      log: console.log,
      whileDown: (down) =>
        withStandInApiserver(
          down,
          async (standIn) => {
            await kubectlOk(["-n", ns.name, "delete", "service", "iris-classifier"], {
              kubeconfig: standIn,
              binDir,
            });
            deletedAt = new Date();
          },
          console.log,
        ),
    });
    const after = await waitFor(
      async () => {
        const s = await ns.getJson<Obj>("service", "iris-classifier");
        return s && s.metadata.uid !== before?.metadata.uid ? s : undefined;
      },
      { timeoutMs: 60_000, description: "Service iris-classifier recreated by the operator" },
    );
    expect(after.metadata.uid).not.toBe(before?.metadata.uid);
    // The test's premise: the operator's Service watch was not back before the delete.
    const watchBack = firstServiceWatchAfter(restart.killedAt);
    console.log(
      `[test] apiserver down ${restart.downMs}ms; Service deleted at ${deletedAt?.toISOString()}; ` +
        `operator's Service list/watch back at ${watchBack?.toISOString()}`,
    );
    expect(deletedAt).toBeDefined();
    expect(watchBack?.getTime()).toBeGreaterThan(deletedAt?.getTime() ?? Number.POSITIVE_INFINITY);
  });

  it("follows kubectl scale after the restart to the Deployment and status", async () => {
    await ns.kubectlOk(["scale", "mdep", "iris-classifier", "--replicas=4"]);
    const mdep = await waitAvailable(4, 60_000);
    const deployments = JSON.parse(
      await ns.kubectlOk([
        "get",
        "deployments",
        "-l",
        "modelops.io/deployment=iris-classifier",
        "-o",
        "json",
      ]),
    ) as { items: Obj[] };
    expect(deployments.items.map((d) => d.spec.replicas)).toEqual([4]);
    expect(mdep.status?.readyReplicas).toBe(4);
  });

  it("leaves the cluster healthy for the files after it: nodes Ready", async () => {
    const pki = join(clusterDir, "pki");
    const conn = apiConnection(
      inject("apiserverUrl"),
      join(pki, "ca.crt"),
      join(pki, "client-admin.crt"),
      join(pki, "client-admin.key"),
    );
    await waitFor(() => nodesReady(conn, 3), { timeoutMs: 60_000, description: "3 kwok nodes Ready" });
  });
});
