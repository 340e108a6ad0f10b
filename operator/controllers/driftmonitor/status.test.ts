// The pure parts of the DriftMonitor shell: queries, feature selection, the
// retraining Job, status and Events.
import { describe, expect, it } from "vitest";
import { interpretVectorResponse } from "../../analysis/prometheus.ts";
import { type DriftMonitor, driftMonitorSchema } from "../../api/index.ts";
import type { Evaluation } from "../../drift/evaluate.ts";
import { createRegistry, metricValue } from "../../runtime/metrics.ts";
import { retrainingJob } from "./actions.ts";
import { forgetDriftMetrics, recordDriftMetrics } from "./metrics.ts";
import { liveQuery, selectFeatures } from "./query.ts";
import { composeDriftStatus, driftEvents } from "./status.ts";

const numeric = { name: "x", type: "numeric" as const, edges: [0, 1, 2], fractions: [0.5, 0.5] };
const categorical = { name: "label", type: "categorical" as const, categories: { a: 0.5, b: 0.5 } };
const ctx = { namespace: "ns", name: "scorer", version: "scorer-v1", window: "1h" };

function monitor(spec: Record<string, unknown> = {}): DriftMonitor {
  return driftMonitorSchema.parse({
    apiVersion: "modelops.io/v1alpha1",
    kind: "DriftMonitor",
    metadata: { name: "dm", namespace: "ns", uid: "u-1", generation: 2 },
    spec: { targetRef: { name: "scorer" }, ...spec },
  });
}

describe("liveQuery", () => {
  it("reads the proxy's histogram by le and its counters by category for the serving version", () => {
    expect(liveQuery(numeric, "Feature", ctx)).toBe(
      'sum by (le) (increase(modelops_proxy_feature_value_bucket{namespace="ns",deployment="scorer",version="scorer-v1",feature="x"}[3600s]))',
    );
    expect(liveQuery(categorical, "Prediction", ctx)).toBe(
      'sum by (category) (increase(modelops_proxy_prediction_category_total{namespace="ns",deployment="scorer",version="scorer-v1",output="label"}[3600s]))',
    );
  });

  it("fills a user's query", () => {
    expect(
      liveQuery(numeric, "Feature", ctx, "sum by (le) (increase(h_bucket{app='{{name}}'}[{{window}}]))"),
    ).toBe("sum by (le) (increase(h_bucket{app='scorer'}[3600s]))");
  });
});

describe("selectFeatures", () => {
  const reference = { features: [numeric], predictions: [categorical] };
  it("compares everything when no feature is listed", () => {
    expect(selectFeatures(monitor(), reference).selected.map((s) => s.ref.name)).toEqual(["x", "label"]);
    expect(
      selectFeatures(monitor({ predictions: false }), reference).selected.map((s) => s.ref.name),
    ).toEqual(["x"]);
  });
  it("names listed features the reference lacks", () => {
    const r = selectFeatures(monitor({ features: [{ name: "x", method: "psi" }, { name: "y" }] }), reference);
    expect(r.selected.map((s) => [s.ref.name, s.settings?.method])).toEqual([
      ["x", "psi"],
      ["label", undefined],
    ]);
    expect(r.missing).toEqual(["y"]);
  });
});

describe("retrainingJob", () => {
  it("owns the Job, labels it, and passes the report to every container", () => {
    const dm = monitor({
      actions: {
        retrainJob: {
          template: {
            metadata: { labels: { team: "ml" } },
            spec: {
              template: {
                spec: {
                  serviceAccountName: "trainer",
                  containers: [{ name: "a", env: [{ name: "K", value: "v" }] }, { name: "b" }],
                },
              },
            },
          },
        },
      },
    });
    const report = { verdict: "Critical", criticalSince: "2026-01-01T00:00:00Z" } as never;
    const job = retrainingJob(dm, report);
    // Named after the episode: a second create for it is refused as AlreadyExists.
    expect(job.metadata.name).toBe(`dm-retrain-${(Date.UTC(2026, 0, 1) / 1000).toString(36)}`);
    expect(job.metadata.labels).toEqual({ team: "ml", "modelops.io/drift-monitor": "dm" });
    expect(job.metadata.ownerReferences[0]).toMatchObject({
      kind: "DriftMonitor",
      uid: "u-1",
      controller: true,
    });
    const containers = (
      job.spec as { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } }
    ).template.spec.containers;
    expect(containers.map((c) => c.env.map((e) => e.name))).toEqual([
      ["K", "DRIFT_REPORT"],
      ["DRIFT_REPORT"],
    ]);
    expect(JSON.parse(containers[0]?.env[1]?.value ?? "{}")).toEqual({
      verdict: "Critical",
      criticalSince: "2026-01-01T00:00:00Z",
    });
  });
});

const evaluation = (verdict: Evaluation["verdict"]): Evaluation => ({
  verdict,
  sampleSize: 500,
  message: `${verdict} message`,
  features: [
    { name: "x", kind: "Feature", method: "ks", score: 0.3, pValue: 0.001, sampleSize: 500, status: verdict },
  ],
});
const now = new Date("2026-01-01T00:00:00.123Z");

describe("composeDriftStatus and driftEvents", () => {
  it("writes scores, the verdict and the DriftDetected condition, and one Event on change", () => {
    const dm = monitor();
    const status = composeDriftStatus({
      dm,
      outcome: { kind: "evaluated", evaluation: evaluation("Critical") },
      criticalSince: "t",
      actions: [],
      now,
    });
    expect(status).toMatchObject({
      verdict: "Critical",
      sampleSize: 500,
      criticalSince: "t",
      lastEvaluationTime: "2026-01-01T00:00:00Z",
      observedGeneration: 2,
      lastActionResult: "event recorded",
      features: [{ name: "x", method: "ks", pValue: 0.001, status: "Critical", sampleSize: 500 }],
    });
    expect(status.conditions?.[0]).toMatchObject({
      type: "DriftDetected",
      status: "True",
      reason: "Critical",
    });
    const events = driftEvents(dm.status, status, [
      { action: "rollback", ok: false, message: "no previous" },
    ]);
    expect(events.map((e) => [e.type, e.reason])).toEqual([
      ["Warning", "DriftCritical"],
      ["Warning", "DriftActionFailed"],
    ]);
    expect(driftEvents(status, status, undefined)).toEqual([]);
  });

  it("keeps the last scores when Prometheus cannot be read, and says why", () => {
    const before = composeDriftStatus({
      dm: monitor(),
      outcome: { kind: "evaluated", evaluation: evaluation("NoDrift") },
      criticalSince: undefined,
      actions: undefined,
      now,
    });
    const dm = { ...monitor(), status: before };
    const after = composeDriftStatus({
      dm,
      outcome: { kind: "failed", reason: "QueryFailed", message: "Prometheus unreachable" },
      criticalSince: undefined,
      actions: undefined,
      now,
    });
    expect(after).toMatchObject({
      verdict: "Unknown",
      message: "Prometheus unreachable",
      features: before.features,
    });
    expect(after.conditions?.[0]).toMatchObject({ status: "Unknown", reason: "QueryFailed" });
    expect(driftEvents(before, after, undefined)).toEqual([
      { type: "Warning", reason: "QueryFailed", message: "Prometheus unreachable" },
    ]);
  });
});

describe("RetrainJobAllowed", () => {
  const withTemplate = (pod: Record<string, unknown>) =>
    monitor({ actions: { retrainJob: { template: { spec: { template: { spec: pod } } } } } });
  const compose = (dm: DriftMonitor) =>
    composeDriftStatus({
      dm,
      outcome: { kind: "evaluated", evaluation: evaluation("NoDrift") },
      criticalSince: undefined,
      actions: undefined,
      now,
    });
  const condition = (dm: DriftMonitor) => compose(dm).conditions?.find((c) => c.type === "RetrainJobAllowed");

  it("is False with what to fix, and a Warning Event once, for a privileged template", () => {
    const dm = withTemplate({
      serviceAccountName: "t",
      containers: [{ name: "t", securityContext: { privileged: true } }],
    });
    const status = compose(dm);
    expect(condition(dm)).toMatchObject({
      status: "False",
      reason: "TemplateNotAllowed",
      message: expect.stringMatching(/no retraining Job will be created .*container t is privileged/),
    });
    expect(driftEvents(dm.status, status, undefined)).toContainEqual(
      expect.objectContaining({ type: "Warning", reason: "RetrainJobNotAllowed" }),
    );
    expect(driftEvents(status, status, undefined)).toEqual([]);
  });

  it("is True for a template that names its ServiceAccount and asks for nothing more, absent without retrainJob", () => {
    expect(
      condition(withTemplate({ serviceAccountName: "trainer", containers: [{ name: "t" }] })),
    ).toMatchObject({
      status: "True",
      reason: "Allowed",
    });
    expect(condition(monitor())).toBeUndefined();
  });
});

describe("interpretVectorResponse", () => {
  const body = (result: unknown, resultType = "vector") =>
    JSON.stringify({ status: "success", data: { resultType, result } });
  it("returns every series with +Inf as Infinity and drops NaN", () => {
    const r = interpretVectorResponse(
      200,
      "OK",
      body([
        { metric: { le: "1" }, value: [0, "3"] },
        { metric: { le: "+Inf" }, value: [0, "+Inf"] },
        { metric: { le: "2" }, value: [0, "NaN"] },
      ]),
    );
    expect(r).toEqual({
      kind: "vector",
      samples: [
        { labels: { le: "1" }, value: 3 },
        { labels: { le: "+Inf" }, value: Infinity },
      ],
    });
  });
  it("an empty vector is not an error; a scalar or a rejected query is", () => {
    expect(interpretVectorResponse(200, "OK", body([]))).toEqual({ kind: "vector", samples: [] });
    expect(interpretVectorResponse(200, "OK", body([0, "1"], "scalar")).kind).toBe("error");
    const rejected = JSON.stringify({ status: "error", errorType: "bad_data", error: "parse error" });
    expect(interpretVectorResponse(400, "Bad Request", rejected)).toEqual({
      kind: "error",
      message: "Prometheus rejected the query (HTTP 400): bad_data: parse error",
    });
  });
});

describe("drift metrics", () => {
  const monitorKey = { namespace: "ns", name: "dm" };
  it("scores only features with a verdict, drops series that went away, and forgets a deleted monitor", async () => {
    const registry = createRegistry();
    recordDriftMetrics(registry, monitorKey, "Warning", [
      { name: "x", method: "psi", score: 0.15, status: "Warning" },
      { name: "y", method: "ks", score: 0, status: "InsufficientData" },
    ]);
    expect(await metricValue(registry, "modelops_drift_score", { feature: "x", method: "psi" })).toBe(0.15);
    expect(await metricValue(registry, "modelops_drift_score", { feature: "y" })).toBeUndefined();
    expect(await metricValue(registry, "modelops_drift_status", { verdict: "Warning" })).toBe(1);
    expect(await metricValue(registry, "modelops_drift_status", { verdict: "NoDrift" })).toBe(0);
    recordDriftMetrics(registry, monitorKey, "NoDrift", [
      { name: "x", method: "wasserstein", score: 0.01, status: "NoDrift" },
    ]);
    expect(
      await metricValue(registry, "modelops_drift_score", { feature: "x", method: "psi" }),
    ).toBeUndefined();
    forgetDriftMetrics(registry, monitorKey);
    expect(await metricValue(registry, "modelops_drift_score", { feature: "x" })).toBeUndefined();
    expect(await metricValue(registry, "modelops_drift_status", { verdict: "NoDrift" })).toBeUndefined();
  });
});
