// State lives in the cluster: an operator killed in the middle of a version
// switch resumes and converges; of two instances one leads, and the other
// takes over when the leader dies without releasing its Lease.
import { readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../hack/localcluster/kubectl.ts";
import type { KubeObject } from "../operator/runtime/types.ts";
import { adminClient } from "./harness/client.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { type OperatorProcess, scrapeMetric, spawnOperator } from "./harness/operator.ts";

const kubeconfig = inject("kubeconfig");
const operatorKubeconfig = inject("operatorKubeconfig");
const kube = adminClient(kubeconfig);
let ns: TestNamespace;
const running: OperatorProcess[] = [];

type Status = {
  phase?: string;
  stableVersion?: string;
  stableRevision?: string;
  canaryVersion?: string;
  currentStepIndex?: number;
  history?: { result: string }[];
};

/** A canary without analysis: two weights and two short pauses. */
function canaryManifest(version: string): string {
  return `
apiVersion: modelops.io/v1alpha1
kind: ModelDeployment
metadata: {name: canary}
spec:
  modelVersion: ${version}
  replicas: 2
  strategy:
    canary:
      scaleDownDelaySeconds: 1
      steps:
        - setWeight: 25
        - pause: {duration: 3s}
        - setWeight: 50
        - pause: {duration: 3s}
`;
}

async function promotions(mdep: string): Promise<number> {
  return (await status(mdep))?.history?.filter((h) => h.result === "Promoted").length ?? 0;
}

async function start(identity: string, leaderElect = false): Promise<OperatorProcess> {
  const op = await spawnOperator({
    kubeconfig: operatorKubeconfig,
    namespace: ns.name,
    identity,
    leaderElect,
  });
  running.push(op);
  return op;
}

async function revisionDeployments(mdep: string): Promise<KubeObject[]> {
  const list = await kube.list(
    { apiVersion: "apps/v1", kind: "Deployment", namespace: ns.name },
    { labelSelector: `modelops.io/deployment=${mdep}` },
  );
  return list.items.filter((d) => !d.metadata?.deletionTimestamp);
}

async function status(mdep: string): Promise<Status | undefined> {
  const obj = await kube.getOrUndefined({
    apiVersion: "modelops.io/v1alpha1",
    kind: "ModelDeployment",
    namespace: ns.name,
    name: mdep,
  });
  return obj?.status as Status | undefined;
}

async function waitServing(mdep: string, version: string, timeoutMs = 60_000): Promise<Status> {
  return waitFor(
    async () => {
      const s = await status(mdep);
      return s?.phase === "Available" && s.stableVersion === version ? s : undefined;
    },
    { timeoutMs, description: `${mdep} Available on ${version}` },
  );
}

describe("operator restarts and leader election", () => {
  beforeAll(async () => {
    ns = await createTestNamespace("restart", kubeconfig, inject("binDir"));
    await ns.applySampleVersions();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((op) => op.kill()));
  });
  afterAll(async () => {
    await ns?.delete();
  });

  it.each([0, 1, 2, 3])("finishes a canary the same way when killed at step %i", async (killAt) => {
    let operator = await start(`before-${killAt}`);
    const from = killAt % 2 === 0 ? "iris-classifier-v1" : "iris-classifier-v2";
    const to = killAt % 2 === 0 ? "iris-classifier-v2" : "iris-classifier-v1";
    await ns.kubectlOk(["apply", "-f", "-"], canaryManifest(from));
    await waitServing("canary", from);
    const promotedBefore = await promotions("canary");

    await ns.kubectlOk(["apply", "-f", "-"], canaryManifest(to));
    await waitFor(async () => ((await status("canary"))?.currentStepIndex === killAt ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 20,
      description: `step ${killAt} of the canary to ${to}`,
    });
    await operator.kill();
    const killed = await status("canary");
    expect(killed?.stableVersion).toBe(from); // the kill landed mid-rollout
    expect(killed?.canaryVersion).toBe(to);

    operator = await start(`after-${killAt}`);
    const after = await waitServing("canary", to);
    expect(await promotions("canary")).toBe(promotedBefore + 1); // promoted once, not twice
    const left = await waitFor(
      async () => {
        const d = await revisionDeployments("canary");
        return d.length === 1 ? d : undefined;
      },
      { timeoutMs: 30_000, description: "only the promoted revision's Deployment left" },
    );
    expect(left[0]?.metadata?.labels?.["modelops.io/version"]).toBe(to);
    const svc = await kube.get({ apiVersion: "v1", kind: "Service", namespace: ns.name, name: "canary" });
    const selector = (svc.spec as { selector: Record<string, string> }).selector;
    expect(selector["modelops.io/revision"]).toBe(after.stableRevision);
  });

  it("elects one leader of two, and the other takes over within 15 s of a kill", async () => {
    const ops = [await start("alpha", true), await start("beta", true)];
    const leaseRef = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      namespace: ns.name,
      name: "modelops-operator-leader",
    };
    const holderOf = async () =>
      ((await kube.getOrUndefined(leaseRef))?.spec as { holderIdentity?: string } | undefined)
        ?.holderIdentity;
    const leaderName = await waitFor(
      async () => {
        const h = await holderOf();
        return h === "alpha" || h === "beta" ? h : undefined;
      },
      { timeoutMs: 30_000, description: "a lease holder among alpha and beta" },
    );
    const leader = ops[leaderName === "alpha" ? 0 : 1] as OperatorProcess;
    const standby = ops[leaderName === "alpha" ? 1 : 0] as OperatorProcess;
    await waitFor(
      async () =>
        (await scrapeMetric(leader.metricsUrl, "leader_election_master_status")) === 1 ? true : undefined,
      {
        timeoutMs: 10_000,
        description: "leader_election_master_status 1 on the leader",
      },
    );
    // The standby may still be starting under load: wait for its metrics endpoint, then it must say 0.
    await expect
      .poll(() => scrapeMetric(standby.metricsUrl, "leader_election_master_status"), { timeout: 20_000 })
      .toBe(0);

    const killedAt = Date.now();
    await leader.kill();
    const newHolder = await waitFor(
      async () => {
        const h = await holderOf();
        return h && h !== leaderName ? h : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, description: "the standby holding the lease" },
    );
    const takeoverMs = Date.now() - killedAt;
    console.log(
      `[leader] ${newHolder} took over ${(takeoverMs / 1000).toFixed(1)} s after ${leaderName} was killed`,
    );
    expect(takeoverMs).toBeLessThan(15_000);

    // The new leader really reconciles.
    const manifest = readFileSync("config/samples/modeldeployment.yaml", "utf8").replace(
      "name: iris-classifier\n",
      "name: after-failover\n",
    );
    await ns.kubectlOk(["apply", "-f", "-"], manifest);
    await waitServing("after-failover", "iris-classifier-v1");
  });
});
