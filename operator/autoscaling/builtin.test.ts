import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type BuiltinInput, builtinDecision, loadOf } from "./builtin.ts";

const base: BuiltinInput = {
  current: 2,
  min: 1,
  max: 10,
  targetPerPod: 10,
  stableTotal: 20,
  panicTotal: 20,
  nowMs: 100_000,
  stableWindowMs: 60_000,
  panicUntilMs: undefined,
  lastScaleMs: undefined,
};

describe("builtinDecision", () => {
  it.each([
    ["steady load", {}, 2],
    ["more load over the stable window", { stableTotal: 45, panicTotal: 45 }, 5],
    ["bounded by max", { stableTotal: 500, panicTotal: 500 }, 10],
    ["bounded by min", { stableTotal: 0, panicTotal: 0 }, 1],
    ["to zero when min is 0", { stableTotal: 0, panicTotal: 0, min: 0 }, 0],
    ["no data keeps the size", { stableTotal: undefined, panicTotal: undefined }, 2],
    ["step limit up", { stableTotal: 90, panicTotal: 30, maxUpStep: 2 }, 4],
    ["step limit down", { stableTotal: 0, panicTotal: 0, current: 8, maxDownStep: 3 }, 5],
  ])("%s", (_, change, expected) => {
    expect(builtinDecision({ ...base, ...change }).desired).toBe(expected);
  });

  it.each([
    ["an empty result", { stableTotal: undefined, panicTotal: undefined }],
    ["an empty result under a burst", { stableTotal: undefined, panicTotal: 500 }],
    ["an empty result after the scale-down delay", { stableTotal: undefined, lastScaleMs: 0, current: 8 }],
  ])("no data holds the current size: %s", (_, change) => {
    const d = builtinDecision({ ...base, ...change });
    expect(d.desired).toBe("current" in change ? change.current : base.current);
    expect(d.reason).toBe(`holding ${d.desired} pod(s) until there is data`);
  });

  it("does not start a panic it cannot act on: at maxReplicas", () => {
    const atMax = builtinDecision({ ...base, current: 10, stableTotal: 100, panicTotal: 500 });
    expect(atMax).toMatchObject({ desired: 10, panicUntilMs: undefined });
    const below = builtinDecision({ ...base, current: 9, stableTotal: 100, panicTotal: 500 });
    expect(below).toMatchObject({ desired: 10, panicUntilMs: base.nowMs + base.stableWindowMs });
  });

  it("gives the same reason for loads that need the same pods: status does not change with every sample", () => {
    fc.assert(
      fc.property(fc.double({ min: 10.01, max: 20, noNaN: true }), (total) => {
        const d = builtinDecision({ ...base, stableTotal: total, panicTotal: total });
        return d.reason === builtinDecision({ ...base, stableTotal: 20, panicTotal: 20 }).reason;
      }),
    );
  });

  it("panics on a burst: follows the short window up and holds", () => {
    const burst = builtinDecision({ ...base, stableTotal: 25, panicTotal: 60 });
    expect(burst.desired).toBe(6);
    expect(burst.panicUntilMs).toBe(base.nowMs + base.stableWindowMs);
    expect(burst.reason).toContain("panic");
    const calmer = builtinDecision({
      ...base,
      current: 6,
      stableTotal: 25,
      panicTotal: 10,
      panicUntilMs: burst.panicUntilMs,
      nowMs: base.nowMs + 10_000,
    });
    expect(calmer.desired).toBe(6); // no scale-down while panicking
    const over = builtinDecision({
      ...base,
      current: 6,
      stableTotal: 25,
      panicTotal: 10,
      panicUntilMs: burst.panicUntilMs,
      nowMs: base.nowMs + 61_000,
    });
    expect(over.desired).toBe(3);
  });

  it("does not flap: scales down only a stable window after the last change", () => {
    const soon = builtinDecision({ ...base, current: 6, lastScaleMs: base.nowMs - 10_000 });
    expect(soon.desired).toBe(6);
    const later = builtinDecision({ ...base, current: 6, lastScaleMs: base.nowMs - 61_000 });
    expect(later.desired).toBe(2);
  });

  it("always stays within [min, max]", () => {
    fc.assert(
      fc.property(
        fc.nat(100),
        fc.nat(1000),
        fc.nat(1000),
        fc.integer({ min: 0, max: 5 }),
        (current, s, p, min) => {
          const d = builtinDecision({ ...base, current, stableTotal: s, panicTotal: p, min, max: min + 20 });
          return d.desired >= min && d.desired <= min + 20;
        },
      ),
    );
  });
});

describe("loadOf", () => {
  it.each([
    ["a value", { kind: "value", value: 12.5 }, { value: 12.5 }],
    ["a value of 0: no load", { kind: "value", value: 0 }, { value: 0 }],
    [
      "an empty result",
      { kind: "noData", reason: "the query returned no series" },
      { value: undefined, missing: "the query returned no series" },
    ],
    [
      "a failed query",
      { kind: "error", message: "Prometheus unreachable at x" },
      { value: undefined, missing: "Prometheus unreachable at x" },
    ],
    ["no Prometheus", undefined, { value: undefined, missing: "no Prometheus configured" }],
  ] as const)("%s", (_, result, expected) => {
    expect(loadOf(result)).toEqual(expected);
  });
});
