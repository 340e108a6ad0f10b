import { describe, expect, it } from "vitest";
import { modelVersion } from "../testing/fixtures.ts";
import { evaluateGates, parseMetricGate } from "./gates.ts";

describe("parseMetricGate", () => {
  it("reads absolute and relative gates", () => {
    expect(parseMetricGate("accuracy >= 0.9")).toEqual({
      metric: "accuracy",
      op: ">=",
      bound: { absolute: 0.9 },
    });
    expect(parseMetricGate("  log_loss<=stable*1.05 ")).toEqual({
      metric: "log_loss",
      op: "<=",
      bound: { stable: true, apply: { op: "*", operand: 1.05 } },
    });
    expect(parseMetricGate("f1 > stable")).toEqual({ metric: "f1", op: ">", bound: { stable: true } });
    expect(parseMetricGate("val/auc < -1e-3")).toEqual({
      metric: "val/auc",
      op: "<",
      bound: { absolute: -0.001 },
    });
  });

  it("refuses what is not a gate", () => {
    for (const text of [
      "accuracy",
      "accuracy == 0.9",
      ">= 0.9",
      "accuracy >= stable / 2",
      "accuracy >= 0.9 or",
    ])
      expect(parseMetricGate(text), text).toBeUndefined();
  });
});

describe("evaluateGates", () => {
  const serving = modelVersion("iris-v1", { metrics: { accuracy: 0.96, log_loss: 0.2 } });

  it("passes a candidate that meets every gate and records both values", () => {
    const candidate = modelVersion("iris-v2", {
      stage: "Production",
      metrics: { accuracy: 0.955, log_loss: 0.205 },
    });
    const verdict = evaluateGates(
      { stages: ["Production"], metrics: ["accuracy >= stable - 0.01", "log_loss <= stable * 1.05"] },
      candidate,
      serving,
    );
    expect(verdict.passed).toBe(true);
    expect(verdict.results[1]).toMatchObject({ passed: true, value: 0.955, stableValue: 0.96 });
    expect(verdict.results[1]?.threshold).toBeCloseTo(0.95, 10);
    expect(verdict.results[2]).toMatchObject({ passed: true, value: 0.205, stableValue: 0.2 });
    expect(verdict.message).toContain("passes every gate");
  });

  it("fails on the stage, a worse metric and a missing one, naming each with its values", () => {
    const candidate = modelVersion("iris-v2", { stage: "Staging", metrics: { accuracy: 0.8 } });
    const verdict = evaluateGates(
      {
        stages: ["Production"],
        metrics: ["accuracy >= stable - 0.01", "log_loss <= 0.3", "accuracy >= 0.5"],
      },
      candidate,
      serving,
    );
    expect(verdict.passed).toBe(false);
    expect(verdict.results.map((r) => r.passed)).toEqual([false, false, false, true]);
    expect(verdict.message).toContain("iris-v2 fails 3 gates");
    expect(verdict.message).toContain("stage in [Production] (iris-v2 is in stage Staging)");
    expect(verdict.message).toContain("accuracy is 0.8; iris-v1 has 0.96, so the bound is 0.95");
    expect(verdict.message).toContain("iris-v2 has no metric log_loss");
  });

  it("passes relative gates when nothing serves yet, but still applies absolute ones", () => {
    const candidate = modelVersion("iris-v1", { metrics: { accuracy: 0.4 } });
    const verdict = evaluateGates(
      { metrics: ["accuracy >= stable", "accuracy >= 0.5"] },
      candidate,
      undefined,
    );
    expect(verdict.results.map((r) => r.passed)).toEqual([true, false]);
    expect(verdict.results[0]?.message).toContain("nothing serves yet");
  });

  it("fails a relative gate when the serving version lacks the metric, rather than guessing", () => {
    const candidate = modelVersion("iris-v2", { metrics: { f1: 0.9 } });
    const verdict = evaluateGates({ metrics: ["f1 >= stable"] }, candidate, serving);
    expect(verdict.passed).toBe(false);
    expect(verdict.message).toContain("the serving version iris-v1 has no metric f1");
  });

  it("fails a relative gate when the serving version's ModelVersion is gone", () => {
    const candidate = modelVersion("iris-v2", { metrics: { f1: 0.9 } });
    const verdict = evaluateGates({ metrics: ["f1 >= stable"] }, candidate, { missing: "iris-v1" });
    expect(verdict.message).toContain("the serving version iris-v1 no longer exists");
  });

  it("a version without a stage is in stage None", () => {
    const verdict = evaluateGates({ stages: ["None", "Staging"] }, modelVersion("iris-v2"), serving);
    expect(verdict.passed).toBe(true);
  });
});
