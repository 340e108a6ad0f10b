// State lives in the cluster: an operator killed in the middle of a version
// switch resumes and converges; of two instances one leads, and the other
// takes over when the leader dies without releasing its Lease.
import { readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import type { KubeObject } from "../operator/runtime/types.ts";
import { adminClient } from "./harness/client.ts";
import { waitFor } from "./harness/kubectl.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { type OperatorProcess, scrapeMetric, spawnOperator } from "./harness/operator.ts";

const kubeconfig = inject("kubeconfig");
const operatorKubeconfig = inject("operatorKubeconfig");
const kube = adminClient(kubeconfig);
let ns: TestNamespace;
const running: OperatorProcess[] = [];

type Status = { phase?: string; stableVersion?: string; readyReplicas?: number; stableRevision?: string };

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
    await ns.kubectlOk([
      "apply",
      "-f",
      "config/samples/modelversion.yaml",
      "-f",
      "config/samples/modelversion-v2.yaml",
    ]);
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((op) => op.kill()));
  });
  afterAll(async () => {
    await ns?.delete();
  });

  it("converges after being killed in the middle of a version switch", async () => {
    const first = await start("first");
    await ns.kubectlOk(["apply", "-f", "config/samples/modeldeployment.yaml"]);
    const before = await waitServing("iris-classifier", "iris-classifier-v1");

    await ns.kubectlOk([
      "patch",
      "mdep",
      "iris-classifier",
      "--type=merge",
      "-p",
      '{"spec":{"modelVersion":"iris-classifier-v2"}}',
    ]);
    // Kill as soon as the new revision exists: the old one still serves and
    // the switch is half done.
    await waitFor(
      async () => ((await revisionDeployments("iris-classifier")).length === 2 ? true : undefined),
      {
        timeoutMs: 30_000,
        intervalMs: 20,
        description: "the v2 revision's Deployment beside v1's",
      },
    );
    await first.kill();
    // Proof that the kill landed mid-switch: the v1 revision still serves.
    expect((await status("iris-classifier"))?.stableVersion).toBe("iris-classifier-v1");

    await start("second");
    const after = await waitServing("iris-classifier", "iris-classifier-v2");
    expect(after.stableRevision).not.toBe(before.stableRevision);
    const left = await waitFor(
      async () => {
        const d = await revisionDeployments("iris-classifier");
        return d.length === 1 ? d : undefined;
      },
      { timeoutMs: 30_000, description: "only the v2 revision's Deployment left" },
    );
    expect(left[0]?.metadata?.labels?.["modelops.io/version"]).toBe("iris-classifier-v2");
    const svc = await kube.get({
      apiVersion: "v1",
      kind: "Service",
      namespace: ns.name,
      name: "iris-classifier",
    });
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
    expect(await scrapeMetric(standby.metricsUrl, "leader_election_master_status")).toBe(0);

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
