import { describe, expect, it } from "vitest";
import { STATUS_LIMITS } from "../api/index.ts";
import type { JudgementPhase, MetricJudgement } from "./judge.ts";
import {
  type AnalysisRun,
  CONSECUTIVE_ERROR_LIMIT,
  isMeasurementDue,
  measurementPhase,
  nextMeasurementAt,
  type RunLimits,
  type RunOptions,
  recordMeasurement,
  startRun,
} from "./run.ts";

const t0 = new Date("2026-01-01T00:00:00Z");
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

function judgement(phase: JudgementPhase, metric = "error-rate"): MetricJudgement {
  const messages: Record<JudgementPhase, string> = {
    Successful: `${metric} = 0.01 (max 0.05)`,
    Failed: `${metric} = 0.12 > max 0.05`,
    Inconclusive: `${metric} has no data for revision abc`,
    Error: `${metric}: query failed: Prometheus unreachable at http://prom:9090: ECONNREFUSED`,
  };
  const result: MetricJudgement = { metric, phase, message: messages[phase] };
  if (phase === "Successful" || phase === "Failed") result.value = phase === "Successful" ? 0.01 : 0.12;
  return result;
}

/** Records one single-metric measurement per phase, one interval apart. */
function play(phases: JudgementPhase[], analysis: RunLimits, options: RunOptions = {}): AnalysisRun {
  let run = startRun("step-1", "abc", t0);
  phases.forEach((phase, i) => {
    run = recordMeasurement(run, analysis, [judgement(phase)], at(60 * (i + 1)), options);
  });
  return run;
}

const S = "Successful";
const F = "Failed";
const I = "Inconclusive";
const E = "Error";
const step: RunLimits = { interval: "1m", failureLimit: 0, inconclusiveLimit: 0 };

describe("measurementPhase", () => {
  it.each<[JudgementPhase[], JudgementPhase]>([
    [[S, S], S],
    [[S, I], I],
    [[I, E], E],
    [[E, F], F],
    [[F, S, I, E], F],
    [[], E],
  ])("%j → %s", (phases, expected) => {
    expect(measurementPhase(phases.map((p, i) => judgement(p, `m${i}`)))).toBe(expected);
  });
});

describe("recordMeasurement", () => {
  it.each<[string, JudgementPhase[], RunLimits, RunOptions, string]>([
    ["count reached (defaultCount)", [S, S, S], step, { defaultCount: 3 }, "Successful"],
    ["short of count", [S, S], step, { defaultCount: 3 }, "Running"],
    ["spec count wins over defaultCount", [S], { ...step, count: 1 }, { defaultCount: 3 }, "Successful"],
    ["background analysis never completes", [S, S, S, S, S], step, {}, "Running"],
    ["one failure over limit 0", [S, F], step, { defaultCount: 3 }, "Failed"],
    ["failures within limit", [F, S, F], { ...step, failureLimit: 2 }, { defaultCount: 3 }, "Successful"],
    ["failureLimit + 1 fails", [F, F, F], { ...step, failureLimit: 2 }, { defaultCount: 5 }, "Failed"],
    ["failure beats reaching count", [S, S, F], step, { defaultCount: 3 }, "Failed"],
    ["inconclusive over limit pauses", [S, I], step, { defaultCount: 3 }, "Inconclusive"],
    [
      "inconclusive within limit",
      [I, S, S],
      { ...step, inconclusiveLimit: 1 },
      { defaultCount: 3 },
      "Successful",
    ],
    ["data arriving resumes", [I, S], step, { defaultCount: 3 }, "Running"],
    ["errors below the limit", [E, E, E], step, { defaultCount: 3 }, "Running"],
    ["consecutive errors reach the limit", [E, E, E, E], step, { defaultCount: 3 }, "Failed"],
    ["a real measurement resets the error streak", [E, E, E, S, E, E, E], step, {}, "Running"],
    ["errors do not count toward count", [E, S, E, S, E], step, { defaultCount: 3 }, "Running"],
    ["custom error limit", [E, E], step, { consecutiveErrorLimit: 2 }, "Failed"],
    ["errors do not count as failures", [E, E, S, S, S], step, { defaultCount: 3 }, "Successful"],
  ])("%s", (_name, phases, analysis, options, expected) => {
    expect(play(phases, analysis, options).phase).toBe(expected);
  });

  it("counts each kind of measurement", () => {
    const run = play([S, F, I, E, E], { ...step, failureLimit: 5, inconclusiveLimit: 5 });
    expect(run).toMatchObject({ successful: 1, failed: 1, inconclusive: 1, errors: 2, consecutiveErrors: 2 });
  });

  it("says why it failed, naming the metric and the bound", () => {
    const run = play([F], step);
    expect(run.message).toBe(
      "1 failed measurement(s), more than failureLimit 0: error-rate = 0.12 > max 0.05",
    );
  });

  it("says Prometheus is unreachable when errors reach the limit", () => {
    const run = play(Array(CONSECUTIVE_ERROR_LIMIT).fill(E), step);
    expect(run.phase).toBe("Failed");
    expect(run.message).toMatch(
      /^4 measurements in a row could not be taken \(limit 4\): error-rate: query failed: /,
    );
    expect(run.message).toContain("Prometheus unreachable at http://prom:9090");
  });

  it("says which metric had no data when it pauses", () => {
    const run = play([I], step);
    expect(run.message).toMatch(/error-rate has no data for revision abc.*Waiting for data or for a human/);
  });

  it("resets the inconclusive budget when data arrives", () => {
    const run = play([I, S, I], { ...step, inconclusiveLimit: 0 });
    expect(run.phase).toBe("Inconclusive");
    expect(run.inconclusive).toBe(1);
  });

  it("leaves a decided run untouched", () => {
    const failed = play([F], step);
    expect(recordMeasurement(failed, step, [judgement(S)], at(600))).toBe(failed);
    const done = play([S], { ...step, count: 1 });
    expect(recordMeasurement(done, step, [judgement(F)], at(600))).toBe(done);
  });

  it("keeps the last result per metric, query errors shown as Error", () => {
    let run = startRun("background", "abc", t0);
    run = recordMeasurement(run, step, [judgement(S, "a"), judgement(S, "b")], at(60));
    run = recordMeasurement(run, step, [judgement(E, "a"), { ...judgement(S, "b"), value: 0.02 }], at(120));
    expect(run.metrics).toEqual([
      { name: "a", phase: "Error", message: expect.stringMatching(/^a: query failed/) },
      { name: "b", phase: "Successful", value: 0.02, message: "b = 0.01 (max 0.05)" },
    ]);
    expect(run.measurements?.[1]).toEqual({
      time: "2026-01-01T00:02:00Z",
      phase: "Error",
      metrics: [
        { name: "a", phase: "Error" },
        { name: "b", phase: "Successful", value: 0.02 },
      ],
    });
  });

  it("keeps a bounded list of measurements, newest last", () => {
    const run = play(Array(STATUS_LIMITS.measurements + 5).fill(S), step);
    expect(run.measurements).toHaveLength(STATUS_LIMITS.measurements);
    expect(run.measurements?.at(-1)?.time).toBe(
      at(60 * (STATUS_LIMITS.measurements + 5))
        .toISOString()
        .replace(".000", ""),
    );
  });

  it("is deterministic and does not mutate its input", () => {
    const run = startRun("step-1", "abc", t0);
    const snapshot = structuredClone(run);
    const a = recordMeasurement(run, step, [judgement(S)], at(60), { defaultCount: 3 });
    const b = recordMeasurement(run, step, [judgement(S)], at(60), { defaultCount: 3 });
    expect(a).toEqual(b);
    expect(run).toEqual(snapshot);
  });
});

describe("measurement timing", () => {
  const run = startRun("step-1", "abc", new Date("2026-01-01T00:00:00.750Z"));

  it("starts with whole-second times and zero counters", () => {
    expect(run).toMatchObject({
      phase: "Running",
      startTime: "2026-01-01T00:00:00Z",
      successful: 0,
      failed: 0,
    });
  });

  it("takes the first measurement one interval after the start", () => {
    expect(nextMeasurementAt(run, step)).toEqual(at(60));
    expect(isMeasurementDue(run, step, at(59))).toBe(false);
    expect(isMeasurementDue(run, step, at(60))).toBe(true);
  });

  it("takes the next one an interval after the last", () => {
    const measured = recordMeasurement(run, { ...step, interval: "30s" }, [judgement(S)], at(75));
    expect(nextMeasurementAt(measured, { ...step, interval: "30s" })).toEqual(at(105));
    expect(isMeasurementDue(measured, { ...step, interval: "30s" }, at(104))).toBe(false);
  });

  it("keeps measuring a paused (inconclusive) run", () => {
    const paused = play([I], step);
    expect(paused.phase).toBe("Inconclusive");
    expect(isMeasurementDue(paused, step, at(120))).toBe(true);
  });

  it("measures no more once decided", () => {
    const failed = play([F], step);
    expect(nextMeasurementAt(failed, step)).toBeUndefined();
    expect(isMeasurementDue(failed, step, at(10_000))).toBe(false);
  });

  it("measures at once when the start time is missing", () => {
    const { startTime: _, ...noStart } = run;
    expect(isMeasurementDue(noStart, step, t0)).toBe(true);
  });
});
