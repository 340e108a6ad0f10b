// Stories on the real node: MLServer pods with the modelops-proxy sidecar,
// started by a real kubelet, reached through a Service by kube-proxy, their
// metrics discovered and scraped by Prometheus, and a load generator calling
// the Service the way a client does, counting every failed request.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoadGenerator, type LoadStats, startLoad } from "../hack/localcluster/load-generator.ts";
import { SERVICE_PORT } from "../operator/api/contract.ts";
import { onRealNode, type RealNodeWorld, startRealNodeWorld } from "./harness/real-node.ts";
import { type RolloutStatus, rolloutStatus, waitStatus } from "./harness/rollout.ts";

const RATE = 20;
/** Real pods: MLServer imports scikit-learn and loads the model before it is ready. */
const POD_START_MS = 150_000;
const errorRate = "{name: error-rate, builtin: errorRate, max: 0.05}";

let world: RealNodeWorld;
const loads: LoadGenerator[] = [];

beforeAll(async () => {
  world = await startRealNodeWorld("real-rollouts");
  await world.ns.kubectlOk(
    ["apply", "-f", "-"],
    [
      world.versionManifest("iris-v1", "1", "logreg"),
      world.versionManifest("iris-v2", "2", "tree"),
      world.versionManifest("iris-bad", "3", "erring"),
    ].join("\n---\n"),
  );
}, 1_800_000);

afterAll(async () => {
  for (const l of loads) await l.stop();
  await world?.stop();
});

function manifest(name: string, version: string, strategy: string, replicas = 2): string {
  const indent = (s: string) =>
    s
      .trim()
      .split("\n")
      .map((l) => `  ${l}`)
      .join("\n");
  return `
apiVersion: modelops.io/v1alpha1
kind: ModelDeployment
metadata: {name: ${name}}
spec:
  modelVersion: ${version}
  replicas: ${replicas}
  progressDeadlineSeconds: 300
${indent(onRealNode)}
  strategy:
${indent(strategy)
  .split("\n")
  .map((l) => `  ${l}`)
  .join("\n")}
`;
}

async function apply(yaml: string): Promise<void> {
  await world.ns.kubectlOk(["apply", "-f", "-"], yaml);
}

/** The Service's ClusterIP, as a client in the cluster would call it. */
async function serviceUrl(service: string): Promise<string> {
  const svc = await world.ns.getJson<{ spec: { clusterIP: string } }>("service", service);
  if (!svc) throw new Error(`no Service ${service}`);
  return `http://${svc.spec.clusterIP}:${SERVICE_PORT}`;
}

async function load(service: string): Promise<LoadGenerator> {
  const l = startLoad({
    url: await serviceUrl(service),
    ratePerSecond: RATE,
    log: (m) => console.log(`[${service}] ${m}`),
  });
  loads.push(l);
  return l;
}

async function stopLoad(l: LoadGenerator): Promise<LoadStats> {
  loads.splice(loads.indexOf(l), 1);
  return l.stop();
}

function report(story: string, stats: LoadStats, t0: number): void {
  console.log(
    `[story] ${story}: ${((Date.now() - t0) / 1000).toFixed(0)}s, requests sent ${stats.sent}, ok ${stats.ok}, failed ${stats.failed}, by revision ${JSON.stringify(stats.byRevision)}, p50 ${stats.latencyMs?.p50} ms, p99 ${stats.latencyMs?.p99} ms`,
  );
}

async function serving(name: string, version: string): Promise<RolloutStatus> {
  try {
    return await waitStatus(
      world.ns,
      name,
      (s) => s.phase === "Available" && s.stableVersion === version && !s.canaryRevision,
      `${version} Available`,
      POD_START_MS,
    );
  } catch (err) {
    console.log(await world.describe(name));
    throw err;
  }
}

/** Resolves once only `revision`'s pods are left (the old ones are gone, not just unready). */
async function onlyPodsOf(name: string, revision: string): Promise<void> {
  await waitFor(async () => {
    const out = await world.ns.kubectlOk([
      "get",
      "pods",
      "-l",
      `modelops.io/deployment=${name}`,
      "-o",
      "jsonpath={.items[*].metadata.labels.modelops\\.io/revision}",
    ]);
    const revisions = out.split(" ").filter(Boolean);
    return revisions.length > 0 && revisions.every((r) => r === revision) ? true : undefined;
  }, `${name}: only ${revision} pods left`);
}

async function waitFor<T>(
  check: () => Promise<T | undefined>,
  what: string,
  timeoutMs = POD_START_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe("on a real node", () => {
  it("a good v2 is canaried and promoted under steady load with zero failed client requests, v1's scale-down included", async () => {
    const t0 = Date.now();
    const strategy = `
canary:
  scaleDownDelaySeconds: 5
  analysis: {interval: 5s, metrics: [${errorRate}]}
  steps:
  - setWeight: 50
  - analysis: {interval: 5s, count: 3, metrics: [${errorRate}]}`;
    await apply(manifest("good", "iris-v1", strategy));
    const v1 = await serving("good", "iris-v1");
    const client = await load("good");
    await new Promise((r) => setTimeout(r, 5000));
    await apply(manifest("good", "iris-v2", strategy));
    const v2 = await serving("good", "iris-v2");
    await onlyPodsOf("good", v2.stableRevision as string);
    await new Promise((r) => setTimeout(r, 3000));
    const stats = await stopLoad(client);
    report("good canary", stats, t0);
    expect(stats.failures).toEqual([]);
    expect(stats.byRevision[v1.stableRevision as string]).toBeGreaterThan(0);
    expect(stats.byRevision[v2.stableRevision as string]).toBeGreaterThan(0);
    expect((await rolloutStatus(world.ns, "good")).history?.[0]?.result).toBe("Promoted");
  }, 900_000);
});
