// The measures against SciPy/NumPy values (fixtures from
// hack/drift/make-fixtures.py) and against properties every drift score
// must have.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { benjaminiHochberg, bonferroni } from "./correction.ts";
import { chiSquare, jensenShannon, kolmogorovSmirnov, psi, referenceSpread, wasserstein } from "./stats.ts";

type Test = { statistic: number; pValue: number };
type NumericCase = {
  name: string;
  edges: number[];
  reference: number[];
  live: number[];
  referenceSampleSize?: number;
  expected: { psi: number; jensenShannon: number | null; ks: Test; wasserstein: number; chiSquare: Test };
};
type CategoricalCase = {
  name: string;
  reference: number[];
  live: number[];
  expected: { psi: number; jensenShannon: number; chiSquare: Test };
};

const load = <T>(file: string): T[] =>
  JSON.parse(readFileSync(new URL(`./fixtures/${file}`, import.meta.url), "utf8")).cases;
const numeric = load<NumericCase>("numeric.json");
const categorical = load<CategoricalCase>("categorical.json");
const corrections = load<{ pValues: number[]; bonferroni: number[]; benjaminiHochberg: number[] }>(
  "corrections.json",
);

const close = (actual: number, expected: number, tolerance = 1e-9) =>
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(
    tolerance * Math.max(1, Math.abs(expected)),
  );

describe("against SciPy", () => {
  it("has enough cases, including empty buckets, one bucket and tiny samples", () => {
    expect(numeric.length + categorical.length).toBeGreaterThanOrEqual(20);
    const names = numeric.map((c) => c.name).join(" ");
    for (const word of ["empty", "one-bucket", "tiny"]) expect(names).toContain(word);
  });

  it.each(numeric.map((c) => [c.name, c] as const))("numeric %s", (_name, c) => {
    close(psi(c.reference, c.live), c.expected.psi);
    if (c.expected.jensenShannon !== null)
      close(jensenShannon(c.reference, c.live), c.expected.jensenShannon);
    close(wasserstein(c.edges, c.reference, c.live), c.expected.wasserstein);
    const ks = kolmogorovSmirnov(c.reference, c.live, c.referenceSampleSize);
    close(ks.statistic, c.expected.ks.statistic);
    // Exact for small samples; the large-sample approximation is within 2e-4.
    close(ks.pValue, c.expected.ks.pValue, 2e-4);
    const chi = chiSquare(c.reference, c.live);
    close(chi.statistic, c.expected.chiSquare.statistic, 1e-9);
    close(chi.pValue, c.expected.chiSquare.pValue, 1e-9);
  });

  it.each(categorical.map((c) => [c.name, c] as const))("categorical %s", (_name, c) => {
    close(psi(c.reference, c.live), c.expected.psi);
    close(jensenShannon(c.reference, c.live), c.expected.jensenShannon);
    const chi = chiSquare(c.reference, c.live);
    close(chi.statistic, c.expected.chiSquare.statistic);
    close(chi.pValue, c.expected.chiSquare.pValue, 1e-9);
  });

  it.each(corrections.map((c, i) => [i, c] as const))("corrections %i", (_i, c) => {
    for (const [i, p] of bonferroni(c.pValues).entries()) close(p, c.bonferroni[i] as number);
    for (const [i, p] of benjaminiHochberg(c.pValues).entries()) close(p, c.benjaminiHochberg[i] as number);
  });
});

// Reference shares over 2..50 buckets and live counts of the same length.
const bucketCount = fc.integer({ min: 2, max: 50 });
const sharesOf = (k: number) =>
  fc
    .array(fc.integer({ min: 0, max: 1000 }), { minLength: k, maxLength: k })
    .filter((xs) => xs.some((x) => x > 0))
    .map((xs) => {
      const sum = xs.reduce((a, b) => a + b, 0);
      return xs.map((x) => x / sum);
    });
const pair = bucketCount.chain((k) =>
  fc.tuple(sharesOf(k), sharesOf(k), fc.integer({ min: 1, max: 100_000 })).map(([ref, other, n]) => ({
    edges: Array.from({ length: k + 1 }, (_, i) => i * 1.5 - 3),
    ref,
    other,
    n,
  })),
);
const countsOf = (shares: number[], n: number) => shares.map((s) => s * n);

type Case = { edges: number[]; ref: number[]; other: number[]; n: number };
const distances: Record<string, (c: Case, live: number[]) => number> = {
  psi: (c, live) => psi(c.ref, live),
  jensenShannon: (c, live) => jensenShannon(c.ref, live),
  wasserstein: (c, live) => wasserstein(c.edges, c.ref, live),
  ksStatistic: (c, live) => kolmogorovSmirnov(c.ref, live).statistic,
  chiSquareStatistic: (c, live) => chiSquare(c.ref, live).statistic,
};

describe("properties", () => {
  it.each(Object.keys(distances))("%s is zero for identical distributions", (name) => {
    const score = distances[name] as (c: Case, live: number[]) => number;
    fc.assert(fc.property(pair, (c) => Math.abs(score(c, countsOf(c.ref, c.n))) < 1e-9));
  });

  it.each(Object.keys(distances))("%s is never NaN or negative", (name) => {
    const score = distances[name] as (c: Case, live: number[]) => number;
    fc.assert(
      fc.property(pair, (c) => {
        const s = score(c, countsOf(c.other, c.n));
        return Number.isFinite(s) && s >= 0;
      }),
    );
  });

  it("p-values are within [0, 1] and 1 for identical distributions", () => {
    fc.assert(
      fc.property(pair, (c) => {
        const ks = kolmogorovSmirnov(c.ref, countsOf(c.other, c.n), 5000).pValue;
        const chi = chiSquare(c.ref, countsOf(c.other, c.n)).pValue;
        const same = chiSquare(c.ref, countsOf(c.ref, c.n)).pValue;
        return ks >= 0 && ks <= 1 && chi >= 0 && chi <= 1 && Math.abs(same - 1) < 1e-9;
      }),
    );
  });

  it("psi, Jensen–Shannon and the KS statistic are symmetric", () => {
    fc.assert(
      fc.property(pair, (c) => {
        const swapped = { ...c, ref: c.other };
        return ["psi", "jensenShannon", "ksStatistic"].every((name) => {
          const score = distances[name] as (x: Case, live: number[]) => number;
          return Math.abs(score(c, c.other) - score(swapped, c.ref)) < 1e-9;
        });
      }),
    );
  });

  it("Wasserstein is symmetric before normalisation by the reference's spread", () => {
    fc.assert(
      fc.property(pair, (c) => {
        const ab = wasserstein(c.edges, c.ref, c.other) * referenceSpread(c.edges, c.ref);
        const ba = wasserstein(c.edges, c.other, c.ref) * referenceSpread(c.edges, c.other);
        return Math.abs(ab - ba) < 1e-9;
      }),
    );
  });

  it.each(Object.keys(distances))("%s grows as live traffic moves away from the reference", (name) => {
    const score = distances[name] as (c: Case, live: number[]) => number;
    fc.assert(
      fc.property(pair, (c) => {
        let previous = 0;
        for (let t = 0; t <= 1.0001; t += 0.125) {
          const mixed = c.ref.map((r, i) => (1 - t) * r + t * (c.other[i] as number));
          const s = score(c, countsOf(mixed, c.n));
          if (s < previous - 1e-9) return false;
          previous = s;
        }
        return true;
      }),
    );
  });

  it("p-values fall as live traffic moves away from the reference", () => {
    fc.assert(
      fc.property(pair, (c) => {
        let previous = { ks: 1, chi: 1 };
        for (let t = 0; t <= 1.0001; t += 0.125) {
          const live = countsOf(
            c.ref.map((r, i) => (1 - t) * r + t * (c.other[i] as number)),
            c.n,
          );
          const next = { ks: kolmogorovSmirnov(c.ref, live).pValue, chi: chiSquare(c.ref, live).pValue };
          if (next.ks > previous.ks + 1e-9 || next.chi > previous.chi + 1e-9) return false;
          previous = next;
        }
        return true;
      }),
    );
  });
});
