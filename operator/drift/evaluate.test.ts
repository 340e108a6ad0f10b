import { describe, expect, it } from "vitest";
import { alignCategories, alignHistogram } from "./align.ts";
import { defaultMethod, evaluateDrift, type FeatureInput } from "./evaluate.ts";

const edges = [0, 1, 2, 3, 4];
const reference = [0.25, 0.25, 0.25, 0.25];
const numeric = (name: string, live: number[], extra: Partial<FeatureInput> = {}): FeatureInput => ({
  name,
  kind: "Feature",
  type: "numeric",
  edges,
  reference,
  live,
  ...extra,
});

describe("evaluateDrift", () => {
  it("says NoDrift for traffic shaped like the reference", () => {
    const e = evaluateDrift({
      features: [numeric("a", [500, 500, 500, 500]), numeric("b", [100, 100, 100, 100])],
      minSampleSize: 100,
      correction: "benjaminiHochberg",
    });
    expect(e.verdict).toBe("NoDrift");
    expect(e.features.map((f) => f.method)).toEqual(["wasserstein", "ks"]);
    expect(e.sampleSize).toBe(2000);
  });

  it("says Critical, naming the feature, for shifted traffic", () => {
    const e = evaluateDrift({
      features: [numeric("a", [0, 0, 500, 1500]), numeric("b", [100, 100, 100, 100])],
      minSampleSize: 100,
      correction: "none",
    });
    expect(e.verdict).toBe("Critical");
    expect(e.features[0]?.status).toBe("Critical");
    expect(e.features[1]?.status).toBe("NoDrift");
    expect(e.message).toContain("a (wasserstein");
  });

  it("says InsufficientData below minSampleSize, not a verdict", () => {
    const e = evaluateDrift({
      features: [numeric("a", [0, 0, 0, 50])],
      minSampleSize: 100,
      correction: "none",
    });
    expect(e.verdict).toBe("InsufficientData");
    expect(e.message).toContain("a (50)");
  });

  it("uses per-feature thresholds and methods", () => {
    const live = [300, 250, 250, 200];
    const loose = evaluateDrift({
      features: [numeric("a", live, { method: "psi" })],
      minSampleSize: 1,
      correction: "none",
    });
    expect(loose.verdict).toBe("NoDrift");
    const strict = evaluateDrift({
      features: [numeric("a", live, { method: "psi", warning: 0.001, critical: 0.5 })],
      minSampleSize: 1,
      correction: "none",
    });
    expect(strict.verdict).toBe("Warning");
  });

  it("corrects p-values across features: Bonferroni multiplies by the number of tests", () => {
    const live = [70, 50, 50, 30];
    const single = evaluateDrift({ features: [numeric("a", live)], minSampleSize: 1, correction: "none" });
    const many = evaluateDrift({
      features: ["a", "b", "c", "d"].map((n) => numeric(n, live)),
      minSampleSize: 1,
      correction: "bonferroni",
    });
    const p = single.features[0]?.pValue as number;
    expect(many.features[0]?.pValue).toBeCloseTo(Math.min(1, 4 * p), 5);
  });

  it("refuses an ordered measure on a categorical feature", () => {
    const e = evaluateDrift({
      features: [
        {
          name: "c",
          kind: "Feature",
          type: "categorical",
          reference: [0.5, 0.5],
          live: [50, 50],
          method: "ks",
        },
      ],
      minSampleSize: 1,
      correction: "none",
    });
    expect(e.verdict).toBe("Unknown");
    expect(e.message).toContain("ks needs an ordered");
  });

  it("picks tests for small samples and distances for large ones", () => {
    expect(defaultMethod("numeric", 1000)).toBe("ks");
    expect(defaultMethod("numeric", 1001)).toBe("wasserstein");
    expect(defaultMethod("categorical", 10)).toBe("chiSquare");
    expect(defaultMethod("categorical", 5000)).toBe("jensenShannon");
  });
});

describe("alignHistogram", () => {
  it("turns cumulative buckets into per-bucket counts", () => {
    const cumulative = new Map([
      [1, 10],
      [2, 30],
      [3, 60],
      [Number.POSITIVE_INFINITY, 100],
    ]);
    const r = alignHistogram(edges, reference, cumulative);
    expect(r.ok && r.value.live).toEqual([10, 20, 30, 40]);
  });

  it("accepts a finer histogram and ignores bounds between the edges", () => {
    const cumulative = new Map([
      [0.5, 5],
      [1, 10],
      [2, 30],
      [2.5, 40],
      [3, 60],
      [Number.POSITIVE_INFINITY, 100],
    ]);
    const r = alignHistogram(edges, reference, cumulative);
    expect(r.ok && r.value.live).toEqual([10, 20, 30, 40]);
  });

  it("says which edge the histogram lacks", () => {
    const r = alignHistogram(edges, reference, new Map([[Number.POSITIVE_INFINITY, 5]]));
    expect(!r.ok && r.message).toContain("le=1, le=2, le=3");
  });

  it("never counts negatives when extrapolation makes cumulative values dip", () => {
    const cumulative = new Map([
      [1, 10.2],
      [2, 10.1],
      [3, 20],
      [Number.POSITIVE_INFINITY, 20],
    ]);
    const r = alignHistogram(edges, reference, cumulative);
    expect(r.ok && r.value.live.every((c) => c >= 0)).toBe(true);
  });
});

describe("alignCategories", () => {
  it("counts unknown categories as __other__ with a reference share of 0", () => {
    const a = alignCategories(
      { b: 0.5, a: 0.5 },
      new Map([
        ["a", 3],
        ["b", 4],
        ["z", 2],
        ["__other__", 1],
      ]),
    );
    expect(a.reference).toEqual([0.5, 0.5, 0]);
    expect(a.live).toEqual([3, 4, 3]);
  });
});
