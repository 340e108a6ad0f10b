import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { replicaSplit } from "./replicas.ts";

describe("replicaSplit", () => {
  // The realisation rule (replicas.ts) for the replica counts users run:
  // canary pods and the weight the shared Service delivers while it selects both.
  it.each([
    // total, weight → canary pods, realised %
    [1, 10, 1, 50],
    [1, 20, 1, 50],
    [1, 50, 1, 50],
    [1, 75, 1, 50],
    [2, 10, 1, 33],
    [2, 25, 1, 33],
    [2, 50, 2, 50],
    [2, 75, 2, 50],
    [3, 10, 1, 25],
    [3, 25, 1, 25],
    [3, 50, 3, 50],
    [3, 90, 3, 50],
    [5, 10, 1, 17],
    [5, 20, 2, 29],
    [5, 25, 2, 29],
    [5, 50, 5, 50],
    [5, 75, 5, 50],
    [10, 10, 2, 17],
    [10, 20, 3, 23],
    [10, 25, 4, 29],
    [10, 50, 10, 50],
    [10, 99, 10, 50],
  ])("%i replicas, weight %i%% → %i canary pods = %i%%", (total, weight, canary, realised) => {
    expect(replicaSplit(total, weight)).toMatchObject({
      stable: total,
      canary,
      realisedWeight: realised,
      allTraffic: false,
    });
  });

  it.each([1, 2, 3, 5, 10])(
    "%i replicas, weight 100%% → the canary at full size takes all traffic",
    (total) => {
      expect(replicaSplit(total, 100)).toMatchObject({ stable: total, canary: total, allTraffic: true });
    },
  );

  it("is 0 canary pods at weight 0, and nothing at 0 replicas", () => {
    expect(replicaSplit(4, 0)).toMatchObject({ stable: 4, canary: 0, realisedWeight: 0 });
    expect(replicaSplit(0, 50)).toMatchObject({ stable: 0, canary: 0, realisedWeight: 0 });
  });

  it("says how the weight was rounded", () => {
    expect(replicaSplit(4, 20).message).toBe("weight 20% realised as 1 canary / 4 stable pods = 20%");
    expect(replicaSplit(4, 25).message).toMatch(/2 canary \/ 4 stable pods = 33% \(pods are whole/);
    expect(replicaSplit(4, 80).message).toMatch(/at most as many pods as the stable: 16 would be needed/);
    expect(replicaSplit(4, 100).message).toMatch(/selects only them once all are ready/);
    expect(replicaSplit(0, 30).message).toMatch(/0 replicas requested/);
  });

  it("never scales stable down, never outgrows it, and gives the canary at least the weight up to 50%", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 99 }), (total, weight) => {
        const s = replicaSplit(total, weight);
        expect(s.stable).toBe(total);
        expect(s.canary).toBeGreaterThanOrEqual(1);
        expect(s.canary).toBeLessThanOrEqual(total);
        expect(100 * s.canary).toBeGreaterThanOrEqual(Math.min(weight, 50) * (s.stable + s.canary));
        // One pod fewer would fall below the weight: the canary is not oversized.
        if (s.canary > 1) expect(100 * (s.canary - 1)).toBeLessThan(weight * (s.stable + s.canary - 1));
      }),
    );
  });

  it("rejects arguments the CRD cannot produce", () => {
    expect(() => replicaSplit(-1, 10)).toThrow(RangeError);
    expect(() => replicaSplit(2, 101)).toThrow(RangeError);
    expect(() => replicaSplit(2, 2.5)).toThrow(RangeError);
  });
});
