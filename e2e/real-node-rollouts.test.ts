// Stories on the real node: MLServer pods with the modelops-proxy sidecar,
// started by a real kubelet, reached through a Service by kube-proxy, their
// metrics discovered and scraped by Prometheus, and a load generator calling
// the Service the way a client does, counting every failed request.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failureKinds } from "../hack/localcluster/load-generator.ts";
import { DEFAULT_MAX_CONNECTION_AGE_MS } from "../operator/proxy/config.ts";
import { POD_START_MS, type RealNodeWorld, report, startRealNodeWorld } from "./harness/real-node.ts";
import { type RolloutStatus, rolloutStatus, waitStatus } from "./harness/rollout.ts";

const errorRate = "{name: error-rate, builtin: errorRate, max: 0.05}";

let world: RealNodeWorld;

beforeAll(async () => {
  world = await startRealNodeWorld("real-rollouts");
  await world.apply(
    [
      world.versionManifest("iris-v1", "1", "logreg"),
      world.versionManifest("iris-v2", "2", "tree"),
      world.versionManifest("iris-bad", "3", "erring"),
    ].join("\n---\n"),
  );
}, 1_800_000);

afterAll(async () => {
  await world?.stop();
});

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
    await world.apply(world.deployment("good", "iris-v1", strategy));
    const v1 = await world.serving("good", "iris-v1");
    const client = await world.load("good");
    await new Promise((r) => setTimeout(r, 5000));
    await world.apply(world.deployment("good", "iris-v2", strategy));
    const v2 = await world.serving("good", "iris-v2");
    await world.onlyPodsOf("good", v2.stableRevision as string);
    await new Promise((r) => setTimeout(r, 3000));
    const stats = await world.stopLoad(client);
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
    await world.apply(world.deployment("bad", "iris-v1", strategy));
    await world.serving("bad", "iris-v1");
    const client = await world.load("bad");
    await world.apply(world.deployment("bad", "iris-bad", strategy));
    const started = await waitStatus(world.ns, "bad", (s) => !!s.canaryRevision, "canary started");
    const canary = started.canaryRevision as string;
    await waitStatus(world.ns, "bad", (s) => s.phase === "RolledBack", "rolled back", POD_START_MS);
    const rolledBack = await world.servingAgain("bad", "iris-v1");
    const stable = rolledBack.stableRevision as string;
    // The history records the rollback to the second; count from its start.
    const rollbackAt = Date.parse(rolledBack.history?.[0]?.time ?? "");
    // The canary's pods stay up for debugging (retiringRevisions), out of the
    // Service: keep-alive clients leave them when the proxy recycles their connection.
    await new Promise((r) => setTimeout(r, DEFAULT_MAX_CONNECTION_AGE_MS + 5000));
    const stats = await world.stopLoad(client);
    report("bad canary", stats, t0);
    const lastFailure = Math.max(...stats.failures.map((f) => f.at));
    console.log(
      `[story] bad canary: ${stats.failed} failures (${failureKinds(stats.failures)}), the last ${((lastFailure - rollbackAt) / 1000).toFixed(1)}s after the recorded rollback`,
    );
    expect(rolledBack.phase).toBe("RolledBack");
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
    await world.apply(world.deployment("bg", "iris-v1", strategy));
    const v1 = await world.serving("bg", "iris-v1");
    const client = await world.load("bg");
    await world.apply(world.deployment("bg", "iris-v2", strategy));
    const preview = await waitStatus(
      world.ns,
      "bg",
      (s) => s.stage === "PrePromotionAnalysis",
      "analysing the preview",
      POD_START_MS,
    );
    const previewClient = await world.load("bg-preview");
    const previewRun = (s: RolloutStatus) =>
      s.analysisRuns?.find((r) => r.revision === preview.canaryRevision);
    // The analysis measures what the preview's own proxies saw of those requests.
    const measuring = await waitStatus(
      world.ns,
      "bg",
      (s) => s.stage === "PrePromotionAnalysis" && (previewRun(s)?.successful ?? 0) >= 1,
      "a successful measurement of the preview",
    );
    const v2 = await world.serving("bg", "iris-v2");
    await world.onlyPodsOf("bg", v2.stableRevision as string);
    await new Promise((r) => setTimeout(r, 3000));
    const [stats, previewStats] = [await world.stopLoad(client), await world.stopLoad(previewClient)];
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
    await world.apply(world.deployment("undo", "iris-v1", strategy));
    const v1 = await world.serving("undo", "iris-v1");
    await world.apply(world.deployment("undo", "iris-v2", strategy));
    const v2 = await world.serving("undo", "iris-v2");
    // v1 is retired: no pod of it is left to answer.
    await world.onlyPodsOf("undo", v2.stableRevision as string);
    const client = await world.load("undo");
    await new Promise((r) => setTimeout(r, 3000));
    await world.ns.kubectlOk(["annotate", "mdep", "undo", "modelops.io/action=undo@story", "--overwrite"]);
    const restoring = await waitStatus(
      world.ns,
      "undo",
      (s) => !!s.restoring || s.stableVersion === "iris-v1",
      "undo started",
    );
    const back = await world.servingAgain("undo", "iris-v1");
    // v2 stays warm for a while (retiringRevisions); clients leave it as their connections are recycled.
    await new Promise((r) => setTimeout(r, DEFAULT_MAX_CONNECTION_AGE_MS + 3000));
    const stats = await world.stopLoad(client);
    report("undo of a retired revision", stats, t0);
    // It waited for v1's new pods instead of switching to none.
    expect(restoring.restoring?.revision ?? back.stableRevision).toBe(v1.stableRevision);
    expect(back.stableRevision).toBe(v1.stableRevision);
    expect(stats.failures).toEqual([]);
    expect(stats.byRevision[v2.stableRevision as string]).toBeGreaterThan(0);
    expect(stats.byRevision[v1.stableRevision as string]).toBeGreaterThan(0);
  }, 900_000);
});
