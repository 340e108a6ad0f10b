// Stories on the real node: MLServer pods with the modelops-proxy sidecar,
// started by a real kubelet, reached through a Service by kube-proxy, their
// metrics discovered and scraped by Prometheus, and a load generator calling
// the Service the way a client does, counting every failed request.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoadGenerator, type LoadStats, startLoad } from "../hack/localcluster/load-generator.ts";
import { SERVICE_PORT } from "../operator/api/contract.ts";
import { DEFAULT_MAX_CONNECTION_AGE_MS } from "../operator/proxy/config.ts";
import { onRealNode, type RealNodeWorld, startRealNodeWorld } from "./harness/real-node.ts";
import { type RolloutStatus, rolloutStatus, serviceRevision, waitStatus } from "./harness/rollout.ts";

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

  it("a v2 whose model really errs is rolled back by the built-in analysis; clients see errors only from its pods, and only until the rollback", async () => {
    const t0 = Date.now();
    const strategy = `
canary:
  analysis: {interval: 5s, metrics: [${errorRate}]}
  steps:
  - setWeight: 25
  - pause: {duration: 10m}`;
    await apply(manifest("bad", "iris-v1", strategy));
    await serving("bad", "iris-v1");
    const client = await load("bad");
    await apply(manifest("bad", "iris-bad", strategy));
    const started = await waitStatus(world.ns, "bad", (s) => !!s.canaryRevision, "canary started");
    const canary = started.canaryRevision as string;
    const rolledBack = await waitStatus(
      world.ns,
      "bad",
      (s) => s.phase === "RolledBack",
      "rolled back",
      POD_START_MS,
    );
    const stable = rolledBack.stableRevision as string;
    // The history records the rollback to the second; count from its start.
    const rollbackAt = Date.parse(rolledBack.history?.[0]?.time ?? "");
    await expect.poll(() => serviceRevision(world.ns, "bad"), { timeout: 10_000 }).toBe(stable);
    // The canary's pods stay up for debugging (retiringRevisions), out of the
    // Service: keep-alive clients leave them when the proxy recycles their connection.
    await new Promise((r) => setTimeout(r, DEFAULT_MAX_CONNECTION_AGE_MS + 5000));
    const stats = await stopLoad(client);
    report("bad canary", stats, t0);
    const lastFailure = Math.max(...stats.failures.map((f) => f.at));
    console.log(
      `[story] bad canary: ${stats.failed} failures, the last ${((lastFailure - rollbackAt) / 1000).toFixed(1)}s after the recorded rollback`,
    );
    expect(rolledBack.history?.[0]?.result).toBe("RolledBack");
    expect(rolledBack.stableVersion).toBe("iris-v1");
    expect(rolledBack.retiringRevisions?.map((r) => r.revision)).toContain(canary);
    // The model really erred, through the real proxy, and the analysis saw it.
    expect(stats.failed).toBeGreaterThan(0);
    // Every failed request was answered, with the model's own 500, by the canary's pods ...
    expect(new Set(stats.failures.map((f) => f.revision))).toEqual(new Set([canary]));
    expect(stats.failures.every((f) => f.status === 500)).toBe(true);
    // ... and none was sent after the rollback had been recorded for longer
    // than a client connection lives (plus a second of history rounding and
    // a second for the Service change to reach kube-proxy).
    expect(lastFailure - rollbackAt).toBeLessThan(DEFAULT_MAX_CONNECTION_AGE_MS + 2000);
    expect(stats.byRevision[stable]).toBeGreaterThan(0);
  }, 900_000);

  it("blue-green: the preview is analysed on real requests to <name>-preview, then switched with zero failed client requests", async () => {
    const t0 = Date.now();
    const strategy = `
blueGreen:
  scaleDownDelaySeconds: 5
  prePromotionAnalysis: {interval: 5s, count: 3, metrics: [${errorRate}]}`;
    await apply(manifest("bg", "iris-v1", strategy));
    const v1 = await serving("bg", "iris-v1");
    const client = await load("bg");
    await apply(manifest("bg", "iris-v2", strategy));
    const preview = await waitStatus(
      world.ns,
      "bg",
      (s) => s.stage === "PrePromotionAnalysis",
      "analysing the preview",
      POD_START_MS,
    );
    const previewClient = await load("bg-preview");
    const previewRun = (s: RolloutStatus) =>
      s.analysisRuns?.find((r) => r.revision === preview.canaryRevision);
    // The analysis measures what the preview's own proxies saw of those requests.
    const measuring = await waitStatus(
      world.ns,
      "bg",
      (s) => s.stage === "PrePromotionAnalysis" && (previewRun(s)?.successful ?? 0) >= 1,
      "a successful measurement of the preview",
    );
    const v2 = await serving("bg", "iris-v2");
    await onlyPodsOf("bg", v2.stableRevision as string);
    await new Promise((r) => setTimeout(r, 3000));
    const [stats, previewStats] = [await stopLoad(client), await stopLoad(previewClient)];
    report("blue-green (clients)", stats, t0);
    report("blue-green (preview)", previewStats, t0);
    expect(v2.stableRevision).toBe(preview.canaryRevision);
    expect(stats.failures).toEqual([]);
    expect(stats.byRevision[v1.stableRevision as string]).toBeGreaterThan(0);
    expect(stats.byRevision[v2.stableRevision as string]).toBeGreaterThan(0);
    // The preview Service served the new revision only, without a failure
    // while it was the preview (after the switch it goes away with the rollout) ...
    const promotedAt = Date.parse(v2.history?.[0]?.time ?? "");
    expect(previewStats.failures.filter((f) => f.at < promotedAt)).toEqual([]);
    expect(Object.keys(previewStats.byRevision)).toEqual([preview.canaryRevision]);
    // ... and the analysis measured it: a real error rate of the preview, not "no data".
    const measured = previewRun(measuring)?.metrics?.find((m) => m.name === "error-rate");
    expect(measured?.value).toBe(0);
  }, 900_000);

  it("undo after the previous revision was retired brings it back without a single failed request", async () => {
    const t0 = Date.now();
    const strategy = `
canary:
  scaleDownDelaySeconds: 2
  steps:
  - setWeight: 50`;
    await apply(manifest("undo", "iris-v1", strategy));
    const v1 = await serving("undo", "iris-v1");
    await apply(manifest("undo", "iris-v2", strategy));
    const v2 = await serving("undo", "iris-v2");
    // v1 is retired: no pod of it is left to answer.
    await onlyPodsOf("undo", v2.stableRevision as string);
    const client = await load("undo");
    await new Promise((r) => setTimeout(r, 3000));
    await world.ns.kubectlOk(["annotate", "mdep", "undo", "modelops.io/action=undo@story", "--overwrite"]);
    const restoring = await waitStatus(
      world.ns,
      "undo",
      (s) => !!s.restoring || s.stableVersion === "iris-v1",
      "undo started",
    );
    const back = await waitStatus(
      world.ns,
      "undo",
      (s) => s.stableVersion === "iris-v1" && !s.restoring,
      "iris-v1 serving again",
      POD_START_MS,
    );
    await expect.poll(() => serviceRevision(world.ns, "undo"), { timeout: 10_000 }).toBe(back.stableRevision);
    // v2 stays warm for a while (retiringRevisions); clients leave it as their connections are recycled.
    await new Promise((r) => setTimeout(r, DEFAULT_MAX_CONNECTION_AGE_MS + 3000));
    const stats = await stopLoad(client);
    report("undo of a retired revision", stats, t0);
    // It waited for v1's new pods instead of switching to none.
    expect(restoring.restoring?.revision ?? back.stableRevision).toBe(v1.stableRevision);
    expect(back.stableRevision).toBe(v1.stableRevision);
    expect(stats.failures).toEqual([]);
    expect(stats.byRevision[v2.stableRevision as string]).toBeGreaterThan(0);
    expect(stats.byRevision[v1.stableRevision as string]).toBeGreaterThan(0);
  }, 900_000);
});
