// Promotion gates, as a platform team uses them: only Production versions
// may serve here, and none whose offline metrics are worse than what serves.
// A refused version never starts (no pod, no traffic); it starts by itself
// when its stage changes; the history says who set spec.modelVersion and on
// which gate values it went in. The operator runs in-process.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { RunningManager } from "../operator/manager.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { startInProcess } from "./harness/operator.ts";
import { mdepManifest, waitStatus } from "./harness/rollout.ts";

const kubeconfig = inject("kubeconfig");
const binDir = inject("binDir");
let ns: TestNamespace;
let operator: RunningManager;

const GATES = `
gates:
  stages: [Production]
  metrics: ["accuracy >= stable - 0.01", "log_loss <= stable * 1.05"]`;
const manifest = (version: string) =>
  mdepManifest("gated", version, "canary:\n  steps:\n    - setWeight: 50", 1, GATES);

/** The sample v2 (Staging, accuracy 0.967) renamed, in Production, with other metrics. */
function worseVersion(): string {
  return readFileSync("config/samples/modelversion-v2.yaml", "utf8")
    .replace("name: iris-classifier-v2", "name: iris-classifier-v3")
    .replace('version: "2"', 'version: "3"')
    .replace("stage: Staging", "stage: Production")
    .replace("accuracy: 0.967", "accuracy: 0.9");
}

async function revisionDeployments(): Promise<string[]> {
  const out = await ns.kubectlOk(["get", "deployments", "-l", "modelops.io/deployment=gated", "-o", "name"]);
  return out.split("\n").filter(Boolean);
}

beforeAll(async () => {
  ns = await createTestNamespace("gates", kubeconfig, binDir);
  await ns.applySampleVersions();
  await ns.kubectlOk(["apply", "-f", "-"], worseVersion());
  operator = await startInProcess({ kubeconfig: inject("operatorKubeconfig"), namespace: ns.name });
});

afterAll(async () => {
  await operator?.stop();
  await ns?.delete();
});

describe("promotion gates", () => {
  it("hold a Staging version without starting it, start it when it reaches Production, and record the evidence", async () => {
    await ns.kubectlOk(["apply", "-f", "-"], manifest("iris-classifier-v1"));
    const v1 = await waitStatus(ns, "gated", (s) => s.phase === "Available", "v1 serves");

    // A release pipeline sets the new version with server-side apply under its own name.
    await ns.kubectlOk(
      ["apply", "--server-side", "--field-manager=release-pipeline", "--force-conflicts", "-f", "-"],
      manifest("iris-classifier-v2"),
    );
    const held = await waitStatus(ns, "gated", (s) => s.pauseReason === "GatesFailed", "held by its gates");
    expect(held.phase).toBe("Paused");
    expect(held.stableVersion).toBe("iris-classifier-v1");
    expect(held.canaryRevision).toBeUndefined();
    const gatesPassed = held.conditions?.find((c) => c.type === "GatesPassed");
    expect(gatesPassed).toMatchObject({ status: "False", reason: "GatesFailed" });
    expect(gatesPassed?.message).toContain("stage in [Production] (iris-classifier-v2 is in stage Staging)");
    expect(held.message).toContain("Serving iris-classifier-v1");
    await expect
      .poll(() => ns.eventMessages("gated", "GatesFailed"), { timeout: 15_000 })
      .toContain("Staging");
    expect(await revisionDeployments()).toEqual([`deployment.apps/gated-${v1.stableRevision}`]);

    // The model registry's promotion reaches the cluster: the rollout starts by itself.
    await ns.kubectlOk([
      "patch",
      "mv",
      "iris-classifier-v2",
      "--type=merge",
      "-p",
      '{"spec":{"stage":"Production"}}',
    ]);
    const promoted = await waitStatus(
      ns,
      "gated",
      (s) => s.stableVersion === "iris-classifier-v2" && s.phase === "Available",
      "v2 promoted",
    );
    const entry = promoted.history?.[0];
    expect(entry).toMatchObject({ version: "iris-classifier-v2", result: "Promoted" });
    expect(entry?.setBy).toMatchObject({ manager: "release-pipeline", operation: "Apply" });
    expect(entry?.gates?.map((g) => [g.gate, g.passed])).toEqual([
      ["stage in [Production]", true],
      ["accuracy >= stable - 0.01", true],
      ["log_loss <= stable * 1.05", true],
    ]);
    expect(entry?.gates?.[1]).toMatchObject({ value: 0.967, stableValue: 0.953 });
    expect(entry?.gates?.[1]?.threshold).toBeCloseTo(0.943, 6);
    expect(promoted.conditions?.find((c) => c.type === "GatesPassed")?.status).toBe("True");
  });

  it("refuse a version whose accuracy is worse than what serves, naming both values", async () => {
    await ns.kubectlOk(["apply", "-f", "-"], manifest("iris-classifier-v3"));
    const held = await waitStatus(
      ns,
      "gated",
      (s) => s.conditions?.some((c) => c.type === "GatesPassed" && c.status === "False") ?? false,
      "v3 refused",
    );
    expect(held.stableVersion).toBe("iris-classifier-v2");
    expect(held.canaryRevision).toBeUndefined();
    expect(held.message).toContain(
      "accuracy >= stable - 0.01 (accuracy is 0.9; iris-classifier-v2 has 0.967, so the bound is 0.957)",
    );
    // Back to the version that serves: the hold ends, nothing was started.
    await ns.kubectlOk(["apply", "-f", "-"], manifest("iris-classifier-v2"));
    const back = await waitStatus(ns, "gated", (s) => s.phase === "Available", "serving v2 again");
    expect(back.history?.[0]?.version).toBe("iris-classifier-v2");
  });

  it("are checked by the apiserver: a gate that is not a comparison is refused with how to write one", async () => {
    const bad = mdepManifest(
      "bad-gate",
      "iris-classifier-v1",
      "",
      1,
      'gates: {metrics: ["accuracy is high"]}',
    );
    const r = await ns.kubectl(["apply", "-f", "-"], bad);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("a metric gate reads '<metric> <op> <number>'");
  });
});
