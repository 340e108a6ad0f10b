import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { replicaSplit } from "./replicas.ts";

describe("replicaSplit", () => {
  it.each([
    // total, weight, cap, stable, canary, realised, promotion
    [4, 0, undefined, 4, 0, 0, false],
    [4, 20, undefined, 4, 1, 20, false],
    [4, 25, undefined, 4, 2, 33, false],
    [4, 50, undefined, 4, 4, 50, false],
    [4, 80, undefined, 4, 16, 80, false],
    [4, 95, undefined, 4, 40, 91, false],
    [4, 99, 8, 4, 8, 67, false],
    [1, 1, undefined, 1, 1, 50, false],
    [10, 10, undefined, 10, 2, 17, false],
    [4, 100, undefined, 4, 4, 50, true],
    [0, 50, undefined, 0, 0, 0, false],
    [0, 0, undefined, 0, 0, 0, false],
    [3, 50, 0, 3, 1, 25, false],
  ])(
    "total %i weight %i cap %s → %i stable / %i canary = %i%%",
    (total, weight, cap, stable, canary, w, promo) => {
      const s = replicaSplit(total, weight, cap === undefined ? {} : { maxCanaryReplicas: cap });
      expect(s).toMatchObject({ stable, canary, realisedWeight: w, promotion: promo });
    },
  );

  it("says how the weight was rounded", () => {
    expect(replicaSplit(4, 20).message).toBe("weight 20% realised as 1 canary / 4 stable pods = 20%");
    expect(replicaSplit(4, 25).message).toMatch(/2 canary \/ 4 stable pods = 33% \(pods are whole/);
    expect(replicaSplit(4, 99).message).toMatch(/capped at maxCanaryReplicas 40; 396 would be needed/);
    expect(replicaSplit(4, 100).message).toMatch(/promotion.*until the Service selects only the canary/);
    expect(replicaSplit(0, 30).message).toMatch(/0 replicas requested/);
  });

  it("never scales stable down, gives the canary at least the weight unless capped", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 99 }), (total, weight) => {
        const s = replicaSplit(total, weight, { maxCanaryReplicas: Number.MAX_SAFE_INTEGER });
        expect(s.stable).toBe(total);
        expect(s.canary).toBeGreaterThanOrEqual(1);
        expect(100 * s.canary).toBeGreaterThanOrEqual(weight * (s.stable + s.canary));
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
