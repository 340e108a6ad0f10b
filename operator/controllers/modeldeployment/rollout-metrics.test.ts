// A ModelDeployment's series live as long as what they describe: analysis
// values as long as their run is part of the rollout, everything until the
// ModelDeployment is deleted. Otherwise cardinality grows with every rollout.
import type { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { ANALYSIS_METRIC_VALUE, recordAnalysisMetricValues } from "../../analysis/metrics.ts";
import type { ModelDeployment } from "../../api/index.ts";
import type { AnalysisRun, EngineEvent, Status } from "../../rollout/types.ts";
import { createRegistry } from "../../runtime/metrics.ts";
import { forgetRolloutMetrics, recordRolloutMetrics } from "./rollout-metrics.ts";

const mdepNamed = (name: string) => ({ metadata: { namespace: "ml", name }, spec: {} }) as ModelDeployment;
const iris = mdepNamed("iris");

function run(name: string, revision: string): AnalysisRun {
  return { name, revision, phase: "Running", successful: 0, failed: 0, inconclusive: 0 };
}

/** One measurement of `analysis` on `revision` against stable r1, as the reconciler records it. */
function measured(registry: Registry, deployment: string, analysis: string, revision: string): void {
  recordAnalysisMetricValues(
    registry,
    { namespace: "ml", deployment, analysis, revision, stableRevision: "r1" },
    [{ metric: "errors", phase: "Successful", value: 0.01, stableValue: 0.02, message: "" }],
  );
}

/** "analysis/revision" of every series of `name` with the given labels. */
async function series(registry: Registry, name: string, labels: Record<string, string>): Promise<string[]> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return [];
  return (await metric.get()).values
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .map((v) =>
      [v.labels.analysis, v.labels.revision, v.labels.outcome, v.labels.phase].filter(Boolean).join("/"),
    )
    .sort();
}

const analysisSeries = (registry: Registry, deployment = "iris") =>
  series(registry, ANALYSIS_METRIC_VALUE, { namespace: "ml", deployment });

describe("analysis series", () => {
  it("stay while their run is part of the rollout, and go when the rollout ends", async () => {
    const registry = createRegistry({ defaultMetrics: false });
    measured(registry, "iris", "step-1", "r2");
    measured(registry, "iris", "background", "r2");
    const progressing: Status = {
      phase: "Progressing",
      analysisRuns: [run("step-1", "r2"), run("background", "r2")],
    };
    recordRolloutMetrics(registry, iris, progressing, []);
    expect(await analysisSeries(registry)).toEqual([
      "background/r1",
      "background/r2",
      "step-1/r1",
      "step-1/r2",
    ]);

    const promoted: EngineEvent = { type: "Normal", reason: "Promoted", message: "" };
    recordRolloutMetrics(registry, iris, { phase: "Available", stableRevision: "r2" }, [promoted]);
    expect(await analysisSeries(registry)).toEqual([]);
  });

  it("of a superseded revision go when a run of the same name starts for the next one", async () => {
    const registry = createRegistry({ defaultMetrics: false });
    measured(registry, "iris", "step-1", "r2");
    measured(registry, "iris", "step-1", "r3");
    recordRolloutMetrics(registry, iris, { phase: "Progressing", analysisRuns: [run("step-1", "r3")] }, []);
    expect(await analysisSeries(registry)).toEqual(["step-1/r1", "step-1/r3"]);
  });

  it("of other ModelDeployments are left alone", async () => {
    const registry = createRegistry({ defaultMetrics: false });
    measured(registry, "iris", "step-1", "r2");
    measured(registry, "fraud", "step-1", "r2");
    recordRolloutMetrics(registry, iris, { phase: "Available" }, []);
    expect(await analysisSeries(registry, "fraud")).toEqual(["step-1/r1", "step-1/r2"]);
  });
});

describe("a deleted ModelDeployment", () => {
  it("leaves no series behind, and other ModelDeployments keep theirs", async () => {
    const registry = createRegistry({ defaultMetrics: false });
    const rolledBack: EngineEvent = { type: "Warning", reason: "RolledBack", message: "" };
    for (const mdep of [iris, mdepNamed("fraud")]) {
      measured(registry, mdep.metadata.name, "step-1", "r2");
      recordRolloutMetrics(registry, mdep, { phase: "RolledBack", analysisRuns: [run("step-1", "r2")] }, [
        rolledBack,
      ]);
    }
    forgetRolloutMetrics(registry, "ml", "iris");
    for (const name of [
      "modelops_rollout_phase",
      "modelops_rollout_canary_weight",
      "modelops_rollout_total",
    ]) {
      expect(await series(registry, name, { namespace: "ml", name: "iris" }), name).toEqual([]);
      expect(await series(registry, name, { namespace: "ml", name: "fraud" }), name).not.toEqual([]);
    }
    expect(await analysisSeries(registry)).toEqual([]);
    expect(await analysisSeries(registry, "fraud")).toEqual(["step-1/r1", "step-1/r2"]);
  });
});

describe("modelops_rollout_total", () => {
  // A counter first exported at 1 has no increase() to see; one exported at 0
  // first shows every later rollout.
  it("exports every outcome at 0 from the first reconcile", async () => {
    const registry = createRegistry({ defaultMetrics: false });
    recordRolloutMetrics(registry, iris, { phase: "Available" }, []);
    expect(await series(registry, "modelops_rollout_total", { namespace: "ml", name: "iris" })).toEqual([
      "promoted",
      "rolled_back",
      "superseded",
    ]);
  });
});
