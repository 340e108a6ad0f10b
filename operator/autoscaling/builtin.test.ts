import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type BuiltinInput, builtinDecision } from "./builtin.ts";

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
