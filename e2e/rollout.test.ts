import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import type { FixtureExporter, Traffic, TrafficProfile } from "../hack/localcluster/exporter.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { type Observed, startObserved } from "./harness/observed.ts";
import {
  mdepManifest,
  type RolloutStatus,
  revisionTraffic,
  serviceRevision,
  waitStatus,
} from "./harness/rollout.ts";

const healthy: TrafficProfile = { rps: 20, errorRate: 0, latencySeconds: 0.05 };
const failing: TrafficProfile = { rps: 20, errorRate: 0.5, latencySeconds: 0.05 };
const INTERVAL_S = 4;
const errorRate = `{name: error-rate, builtin: errorRate, max: 0.05}`;

let ns: TestNamespace;
let observed: Observed;
let exporter: FixtureExporter;
const flows: Traffic[] = [];

function traffic(
  mdep: string,
  s: RolloutStatus,
  which: "stable" | "canary",
  profile: TrafficProfile,
): Traffic {
  const revision = which === "stable" ? s.stableRevision : s.canaryRevision;
  const version = which === "stable" ? s.stableVersion : s.canaryVersion;
  if (!revision || !version) throw new Error(`${mdep} has no ${which} revision yet`);
  const flow = revisionTraffic(exporter, ns, mdep, revision, version, profile);
  flows.push(flow);
  return flow;
}

/**
 * Applies v1, waits until it serves with traffic, then applies v2; returns
 * the rollout's first status seen, with v1 as stable and v2 as canary. KWOK
 * pods are ready at once, so a strategy without a gate (blue-green with no
 * pre-promotion analysis) may promote v2 before any status shows it as
 * canary: that counts as started too.
 */
async function startRollout(
  name: string,
  strategy: string,
  canaryProfile?: TrafficProfile,
): Promise<RolloutStatus> {
  await ns.kubectlOk(["apply", "-f", "-"], mdepManifest(name, "iris-classifier-v1", strategy));
  const stable = await waitStatus(ns, name, (s) => s.phase === "Available", "v1 Available");
  traffic(name, stable, "stable", healthy);
  await ns.kubectlOk(["apply", "-f", "-"], mdepManifest(name, "iris-classifier-v2", strategy));
  const seen = await waitStatus(
    ns,
    name,
    (s) => s.canaryVersion === "iris-classifier-v2" || s.stableVersion === "iris-classifier-v2",
    "rollout started",
  );
  const v2 =
    seen.canaryVersion === "iris-classifier-v2"
      ? { canaryRevision: seen.canaryRevision, canaryVersion: seen.canaryVersion }
      : { canaryRevision: seen.stableRevision, canaryVersion: seen.stableVersion };
  const started = {
    ...seen,
    stableRevision: stable.stableRevision,
    stableVersion: stable.stableVersion,
    ...v2,
  };
  if (canaryProfile) traffic(name, started, "canary", canaryProfile);
  return started;
}

describe("rollouts analysed against Prometheus", () => {
  beforeAll(async () => {
    ns = await createTestNamespace("rollout", inject("kubeconfig"), inject("binDir"));
    await ns.applySampleVersions();
    observed = await startObserved({
      namespace: ns.name,
      binDir: inject("binDir"),
      kubeconfig: inject("operatorKubeconfig"),
    });
    exporter = observed.exporter;
  });
  afterEach(() => {
    for (const f of flows.splice(0)) f.stop();
  });
  afterAll(async () => {
    await observed?.stop();
    await ns?.delete();
  });

  it("promotes a healthy canary through three steps and retires the old revision after the delay", async () => {
    const strategy = `
canary:
  scaleDownDelaySeconds: 3
  analysis: {interval: ${INTERVAL_S}s, metrics: [${errorRate}]}
  steps:
    - setWeight: 30
    - analysis: {interval: ${INTERVAL_S}s, count: 2, metrics: [${errorRate}, {name: p95, builtin: latencyP95, max: 0.5}]}
    - setWeight: 60
    - pause: {duration: 2s}`;
    const started = await startRollout("healthy", strategy, healthy);
    const atStep1 = await waitStatus(ns, "healthy", (s) => s.currentStepIndex === 1, "analysis step");
    expect(atStep1.canaryWeight).toBe(33); // 1 canary pod beside 2 stable: the replica ratio
    expect(await serviceRevision(ns, "healthy")).toBe("all");
    const done = await waitStatus(ns, "healthy", (s) => s.stableVersion === "iris-classifier-v2", "promoted");
    expect(done.history?.[0]).toMatchObject({ version: "iris-classifier-v2", result: "Promoted" });
    expect(await serviceRevision(ns, "healthy")).toBe(started.canaryRevision);
    const old = started.stableRevision;
    await waitStatus(ns, "healthy", (s) => s.phase === "Available", "Available on v2");
    const deployments = await ns.kubectlOk([
      "get",
      "deploy",
      "-l",
      `modelops.io/revision=${old}`,
      "-o",
      "name",
    ]);
    expect(deployments.trim()).not.toBe(""); // still warm right after promotion
    await expect
      .poll(
        async () =>
          (await ns.kubectlOk(["get", "deploy", "-l", `modelops.io/revision=${old}`, "-o", "name"])).trim(),
        {
          timeout: 20_000,
          interval: 500,
        },
      )
      .toBe("");
    await expect.poll(() => ns.eventMessages("healthy", "Promoted")).toContain("iris-classifier-v2");
  });

  it("sends traffic back to stable within one analysis interval of a regression", async () => {
    const strategy = `
canary:
  analysis: {interval: ${INTERVAL_S}s, metrics: [${errorRate}]}
  steps:
    - setWeight: 30
    - pause: {duration: 10m}`;
    const started = await startRollout("regress", strategy);
    const canary = traffic("regress", started, "canary", healthy);
    await waitStatus(ns, "regress", (s) => s.currentStepIndex === 1, "step two (pause)");
    await waitStatus(
      ns,
      "regress",
      (s) => (s.analysisRuns?.[0]?.metrics?.length ?? 0) > 0,
      "a healthy measurement",
    );
    const regressedAt = Date.now();
    canary.set(failing);
    const rolledBack = await waitStatus(ns, "regress", (s) => s.phase === "RolledBack", "rolled back");
    await expect
      .poll(() => serviceRevision(ns, "regress"), { timeout: 10_000, interval: 100 })
      .toBe(started.stableRevision);
    const seconds = (Date.now() - regressedAt) / 1000;
    console.log(
      `[rollout] regression to traffic back on stable: ${seconds.toFixed(1)} s (interval ${INTERVAL_S} s)`,
    );
    expect(seconds).toBeLessThan(INTERVAL_S + 10);
    expect(rolledBack.stableVersion).toBe("iris-classifier-v1");
    expect(rolledBack.history?.[0]).toMatchObject({ version: "iris-classifier-v2", result: "RolledBack" });
    expect(rolledBack.history?.[0]?.message).toContain("error-rate");
    await expect.poll(() => ns.eventMessages("regress", "RolledBack")).toContain("error-rate");
    // It does not try again by itself.
    await new Promise((r) => setTimeout(r, INTERVAL_S * 1000));
    expect((await waitStatus(ns, "regress", () => true, "status")).phase).toBe("RolledBack");
  });

  it("pauses with a clear reason when the canary has no data, and continues when data arrives", async () => {
    const strategy = `
canary:
  steps:
    - setWeight: 30
    - analysis: {interval: ${INTERVAL_S}s, count: 2, metrics: [${errorRate}]}`;
    const started = await startRollout("nodata", strategy);
    const paused = await waitStatus(ns, "nodata", (s) => s.phase === "Paused", "paused for lack of data");
    expect(paused.pauseReason).toBe("InconclusiveAnalysis");
    expect(paused.message).toContain("error-rate");
    expect(paused.message).toContain(started.canaryRevision);
    const condition = paused.conditions?.find((c) => c.type === "Progressing");
    expect(condition?.reason).toBe("InconclusiveAnalysis");
    traffic("nodata", started, "canary", healthy);
    await waitStatus(
      ns,
      "nodata",
      (s) => s.stableVersion === "iris-classifier-v2",
      "promoted once data arrived",
    );
  });

  it("blue-green: promotes after a passing pre-promotion analysis of the preview", async () => {
    const strategy = `
blueGreen:
  scaleDownDelaySeconds: 2
  prePromotionAnalysis: {interval: ${INTERVAL_S}s, count: 2, metrics: [${errorRate}]}`;
    const started = await startRollout("bluegreen", strategy, healthy);
    await expect
      .poll(() => serviceRevision(ns, "bluegreen-preview"), { timeout: 30_000 })
      .toBe(started.canaryRevision);
    expect(await serviceRevision(ns, "bluegreen")).toBe(started.stableRevision);
    await waitStatus(ns, "bluegreen", (s) => s.stableVersion === "iris-classifier-v2", "promoted");
    expect(await serviceRevision(ns, "bluegreen")).toBe(started.canaryRevision);
  });

  it("blue-green: a failing pre-promotion analysis keeps the active Service on the old revision", async () => {
    const strategy = `
blueGreen:
  prePromotionAnalysis: {interval: ${INTERVAL_S}s, count: 2, metrics: [${errorRate}]}`;
    const started = await startRollout("bgfail", strategy, failing);
    const s = await waitStatus(ns, "bgfail", (x) => x.phase === "RolledBack", "rolled back");
    expect(s.stableRevision).toBe(started.stableRevision);
    expect(await serviceRevision(ns, "bgfail")).toBe(started.stableRevision);
  });

  it("rolls back to the warm previous revision when the post-promotion guard fails", async () => {
    const strategy = `
blueGreen:
  postPromotionAnalysis: {interval: ${INTERVAL_S}s, count: 3, metrics: [${errorRate}]}`;
    const started = await startRollout("guard", strategy, failing);
    const promoted = await waitStatus(
      ns,
      "guard",
      (s) => s.stableVersion === "iris-classifier-v2",
      "promoted",
    );
    expect(promoted.previousRevision).toBe(started.stableRevision);
    const s = await waitStatus(ns, "guard", (x) => x.phase === "RolledBack", "guard rollback");
    expect(s.stableRevision).toBe(started.stableRevision);
    expect(await serviceRevision(ns, "guard")).toBe(started.stableRevision);
    const ready = await ns.kubectlOk([
      "get",
      "deploy",
      "-l",
      `modelops.io/revision=${started.stableRevision}`,
      "-o",
      "jsonpath={.items[0].status.readyReplicas}",
    ]);
    expect(ready).toBe("2"); // it never went cold
  });
});
