// Two operator processes split the ModelDeployments by label, as the chart's
// shards do: the main instance (!modelops.io/shard) and shard1
// (modelops.io/shard=shard1), each electing its leader through its own Lease.
// Each serves and rolls out only its own; a ModelDeployment of a shard nobody
// runs stays untouched; relabelling moves one to the other process.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../hack/localcluster/kubectl.ts";
import { leaseNameFor, parseLabelSelector } from "../operator/runtime/sharding.ts";
import type { KubeObject } from "../operator/runtime/types.ts";
import { adminClient } from "./harness/client.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { type OperatorProcess, scrapeMetric, spawnOperator } from "./harness/operator.ts";

const kubeconfig = inject("kubeconfig");
const operatorKubeconfig = inject("operatorKubeconfig");
const kube = adminClient(kubeconfig);
let ns: TestNamespace;
const running: OperatorProcess[] = [];

const MAIN = { identity: "main-op", selector: "!modelops.io/shard" };
const SHARD1 = { identity: "shard1-op", selector: "modelops.io/shard=shard1" };
const OF_MAIN = ["main-a", "main-b"];
const OF_SHARD1 = ["shard1-a", "shard1-b"];
/** Labelled for a shard no process runs. */
const ORPHAN = "shard2-a";

type Status = { phase?: string; stableVersion?: string };
type Event = KubeObject & { reason?: string; reportingInstance?: string; regarding?: { name?: string } };

function manifest(name: string, version: string, shard?: string): string {
  const labels = shard ? `\n  labels: {modelops.io/shard: ${shard}}` : "";
  return `apiVersion: modelops.io/v1alpha1
kind: ModelDeployment
metadata:
  name: ${name}${labels}
spec:
  modelVersion: ${version}
  replicas: 1
  strategy:
    canary:
      steps:
        - setWeight: 50
`;
}

async function status(name: string): Promise<Status | undefined> {
  const obj = await kube.getOrUndefined({
    apiVersion: "modelops.io/v1alpha1",
    kind: "ModelDeployment",
    namespace: ns.name,
    name,
  });
  return obj?.status as Status | undefined;
}

async function waitServing(name: string, version: string): Promise<void> {
  await waitFor(
    async () => {
      const s = await status(name);
      return s?.phase === "Available" && s.stableVersion === version ? true : undefined;
    },
    { timeoutMs: 90_000, description: `${name} Available on ${version}` },
  );
}

async function ownedDeployments(name: string): Promise<number> {
  const list = await kube.list(
    { apiVersion: "apps/v1", kind: "Deployment", namespace: ns.name },
    { labelSelector: `modelops.io/deployment=${name}` },
  );
  return list.items.length;
}

/** reportingInstance of the Events about `name`: the process that wrote them. */
async function reporters(name: string): Promise<{ reasons: string[]; instances: Set<string> }> {
  const list = await kube.list({ apiVersion: "events.k8s.io/v1", kind: "Event", namespace: ns.name });
  const about = (list.items as Event[]).filter((e) => e.regarding?.name === name);
  return {
    reasons: about.map((e) => e.reason ?? ""),
    instances: new Set(about.map((e) => e.reportingInstance ?? "")),
  };
}

async function leaseHolder(name: string): Promise<string | undefined> {
  const lease = await kube.getOrUndefined({
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    namespace: ns.name,
    name,
  });
  return (lease as { spec?: { holderIdentity?: string } } | undefined)?.spec?.holderIdentity;
}

describe("sharding by --watch-label-selector", () => {
  let main: OperatorProcess;
  let shard1: OperatorProcess;

  beforeAll(async () => {
    ns = await createTestNamespace("sharding", kubeconfig, inject("binDir"));
    await ns.applySampleVersions();
    for (const name of OF_MAIN)
      await ns.kubectlOk(["apply", "-f", "-"], manifest(name, "iris-classifier-v1"));
    for (const name of OF_SHARD1)
      await ns.kubectlOk(["apply", "-f", "-"], manifest(name, "iris-classifier-v1", "shard1"));
    await ns.kubectlOk(["apply", "-f", "-"], manifest(ORPHAN, "iris-classifier-v1", "shard2"));
    const start = async (who: { identity: string; selector: string }, args: string[] = []) => {
      const op = await spawnOperator({
        kubeconfig: operatorKubeconfig,
        namespace: ns.name,
        identity: who.identity,
        leaderElect: true,
        args: [`--watch-label-selector=${who.selector}`, ...args],
      });
      running.push(op);
      return op;
    };
    // The main instance names its Lease; shard1's is derived from its selector.
    main = await start(MAIN, ["--leader-election-id=modelops-operator-leader"]);
    shard1 = await start(SHARD1);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(running.splice(0).map((op) => op.kill()));
    await ns?.delete();
  });

  it("each process leads through its own Lease, so neither waits for the other", async () => {
    const shard1Lease = leaseNameFor(parseLabelSelector(SHARD1.selector));
    expect(shard1Lease).not.toBe("modelops-operator-leader");
    await waitFor(
      async () => ((await leaseHolder("modelops-operator-leader")) === MAIN.identity ? true : undefined),
      {
        timeoutMs: 30_000,
        description: "main-op holds modelops-operator-leader",
      },
    );
    await waitFor(async () => ((await leaseHolder(shard1Lease)) === SHARD1.identity ? true : undefined), {
      timeoutMs: 30_000,
      description: `shard1-op holds ${shard1Lease}`,
    });
  });

  it("both shards serve their own ModelDeployments, and nobody touches a shard no process runs", async () => {
    for (const name of [...OF_MAIN, ...OF_SHARD1]) await waitServing(name, "iris-classifier-v1");
    for (const name of [...OF_MAIN, ...OF_SHARD1]) expect(await ownedDeployments(name), name).toBe(1);
    // By now every reconcile of the orphan would have happened too.
    expect(await status(ORPHAN)).toBeUndefined();
    expect(await ownedDeployments(ORPHAN)).toBe(0);
  });

  it("a rollout's Events come only from the process of the ModelDeployment's shard", async () => {
    for (const name of OF_MAIN)
      await ns.kubectlOk(["apply", "-f", "-"], manifest(name, "iris-classifier-v2"));
    for (const name of OF_SHARD1)
      await ns.kubectlOk(["apply", "-f", "-"], manifest(name, "iris-classifier-v2", "shard1"));
    for (const name of [...OF_MAIN, ...OF_SHARD1]) await waitServing(name, "iris-classifier-v2");
    for (const [names, identity] of [
      [OF_MAIN, MAIN.identity],
      [OF_SHARD1, SHARD1.identity],
    ] as const) {
      for (const name of names) {
        const seen = await waitFor(
          async () => {
            const r = await reporters(name);
            return r.reasons.includes("Promoted") ? r : undefined;
          },
          { timeoutMs: 30_000, description: `a Promoted Event about ${name}` },
        );
        expect([...seen.instances], name).toEqual([identity]);
      }
    }
  });

  it("logs and metrics name the shard", async () => {
    for (const [op, who] of [
      [main, MAIN],
      [shard1, SHARD1],
    ] as const) {
      expect(
        await scrapeMetric(op.metricsUrl, "modelops_operator_shard_info", { selector: who.selector }),
      ).toBe(1);
      // Its cache holds its own two ModelDeployments, not the other shard's nor the orphan.
      expect(
        await scrapeMetric(op.metricsUrl, "modelops_operator_cached_objects", { cache: "modelDeployments" }),
        who.identity,
      ).toBe(2);
      const lines = readFileSync(op.logPath, "utf8")
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { msg?: string; shard?: string });
      const synced = lines.find((l) => l.msg === "caches synced; starting controllers");
      expect(synced?.shard, who.identity).toBe(who.selector);
    }
  });

  it("relabelling a ModelDeployment hands it to the other shard", async () => {
    const events = async (name: string, identity: string) => {
      const list = await kube.list({ apiVersion: "events.k8s.io/v1", kind: "Event", namespace: ns.name });
      return (list.items as Event[])
        .filter((e) => e.regarding?.name === name && e.reportingInstance === identity)
        .map((e) => e.metadata?.name ?? "")
        .sort();
    };
    const byMainBefore = await events("main-b", MAIN.identity);
    expect(byMainBefore.length).toBeGreaterThan(0);
    const promotedBefore = (await reporters("main-b")).reasons.filter((x) => x === "Promoted").length;
    // Moved into shard1 and rolled back in one write: only shard1 may roll it out.
    await ns.kubectlOk(["apply", "-f", "-"], manifest("main-b", "iris-classifier-v1", "shard1"));
    await waitServing("main-b", "iris-classifier-v1");
    await waitFor(
      async () => {
        const r = await reporters("main-b");
        const promotions = r.reasons.filter((x) => x === "Promoted").length;
        return promotions > promotedBefore ? true : undefined;
      },
      { timeoutMs: 30_000, description: "a new Promoted Event about main-b" },
    );
    expect(await events("main-b", SHARD1.identity)).not.toEqual([]);
    expect(await events("main-b", MAIN.identity)).toEqual(byMainBefore);
  });
});
