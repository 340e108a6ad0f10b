// The story end to end, as users live it: the operator runs as its own
// process with its command-line flags; an ML engineer applies manifests with
// kubectl; a good model is promoted, a bad one is rolled back with nobody
// awake, and an SRE reads it all from kubectl and /metrics.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { FixtureExporter, type Traffic, type TrafficProfile } from "../hack/localcluster/exporter.ts";
import { type RunningPrometheus, startPrometheus } from "../hack/localcluster/prometheus.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { type OperatorProcess, scrapeMetric, spawnOperator } from "./harness/operator.ts";
import { type RolloutStatus, revisionTraffic, serviceRevision, waitStatus } from "./harness/rollout.ts";

const story = "e2e/stories/fraud";
let ns: TestNamespace;
let dir: string;
let exporter: FixtureExporter;
let prom: RunningPrometheus;
let operator: OperatorProcess;
const flows: Traffic[] = [];

function serve(s: RolloutStatus, which: "stable" | "canary", profile: TrafficProfile): Traffic {
  const revision = (which === "stable" ? s.stableRevision : s.canaryRevision) as string;
  const version = (which === "stable" ? s.stableVersion : s.canaryVersion) as string;
  const flow = revisionTraffic(exporter, ns, "fraud", revision, version, profile);
  flows.push(flow);
  return flow;
}

function deploymentAt(version: string): string {
  return readFileSync(`${story}/deployment.yaml`, "utf8").replace(
    "modelVersion: fraud-v1",
    `modelVersion: ${version}`,
  );
}

describe("story: fraud detector", () => {
  beforeAll(async () => {
    ns = await createTestNamespace("story", inject("kubeconfig"), inject("binDir"));
    dir = mkdtempSync(join(tmpdir(), "modelops-story-"));
    exporter = await FixtureExporter.start();
    prom = await startPrometheus({ dir, binDir: inject("binDir"), targets: [exporter.target] });
    operator = await spawnOperator({
      kubeconfig: inject("operatorKubeconfig"),
      namespace: ns.name,
      identity: "story",
      args: [`--prometheus-address=${prom.url}`],
    });
  });
  afterAll(async () => {
    for (const f of flows) f.stop();
    await operator?.terminate();
    await prom?.stop();
    await exporter?.close();
    await ns?.delete();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("promotes a good model and rolls back a bad one by itself", async () => {
    await ns.kubectlOk(["apply", "-f", `${story}/model-v1.yaml`, "-f", `${story}/deployment.yaml`]);
    const v1 = await waitStatus(ns, "fraud", (s) => s.phase === "Available", "v1 Available");
    serve(v1, "stable", { rps: 30, errorRate: 0.001, latencySeconds: 0.05 });

    await ns.kubectlOk(["apply", "-f", `${story}/model-v2.yaml`]);
    await ns.kubectlOk(["apply", "-f", "-"], deploymentAt("fraud-v2"));
    const v2 = await waitStatus(ns, "fraud", (s) => s.canaryRevision !== undefined, "v2 rollout started");
    serve(v2, "canary", { rps: 10, errorRate: 0.001, latencySeconds: 0.05 });
    const table = await ns.kubectlOk(["get", "mdep", "fraud"]);
    expect(table).toMatch(/PHASE\s+STABLE\s+CANARY\s+WEIGHT/);
    const promoted = await waitStatus(ns, "fraud", (s) => s.stableVersion === "fraud-v2", "v2 promoted");
    expect(promoted.history?.[0]).toMatchObject({ version: "fraud-v2", result: "Promoted" });

    // A third version that errors, applied the same way, while nobody watches.
    const v3 = readFileSync(`${story}/model-v2.yaml`, "utf8")
      .replaceAll("fraud-v2", "fraud-v3")
      .replace('"2"', '"3"');
    await ns.kubectlOk(["apply", "-f", "-"], v3);
    serve(promoted, "stable", { rps: 30, errorRate: 0.001, latencySeconds: 0.05 });
    await ns.kubectlOk(["apply", "-f", "-"], deploymentAt("fraud-v3"));
    const bad = await waitStatus(ns, "fraud", (s) => s.canaryVersion === "fraud-v3", "v3 rollout started");
    serve(bad, "canary", { rps: 10, errorRate: 0.3, latencySeconds: 0.05 });
    const rolledBack = await waitStatus(ns, "fraud", (s) => s.phase === "RolledBack", "v3 rolled back");
    expect(rolledBack.stableVersion).toBe("fraud-v2");
    expect(await serviceRevision(ns, "fraud")).toBe(promoted.stableRevision);

    const describe = await ns.kubectlOk(["describe", "mdep", "fraud"]);
    expect(describe).toContain("RolledBack");
    expect(describe).toMatch(/error-rate = 0\.\d+ > max 0\.02/);
    const labels = { namespace: ns.name, name: "fraud" };
    expect(
      await scrapeMetric(operator.metricsUrl, "modelops_rollout_phase", { ...labels, phase: "RolledBack" }),
    ).toBe(1);
    expect(
      await scrapeMetric(operator.metricsUrl, "modelops_rollout_total", { ...labels, outcome: "promoted" }),
    ).toBe(1);
    expect(
      await scrapeMetric(operator.metricsUrl, "modelops_rollout_total", {
        ...labels,
        outcome: "rolled_back",
      }),
    ).toBe(1);
    const measured = await scrapeMetric(operator.metricsUrl, "modelops_analysis_metric_value", {
      deployment: "fraud",
      metric: "error-rate",
      revision: bad.canaryRevision as string,
    });
    expect(measured).toBeGreaterThan(0.02);
  });
});
