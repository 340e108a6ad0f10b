// Drift measures between a reference distribution (training-time shares per
// bucket or category) and a live one (counts per bucket or category, from
// Prometheus). Pure functions; both arrays are aligned bucket by bucket.
// Each is checked against SciPy/NumPy in stats.test.ts (fixtures written by
// hack/drift/make-fixtures.py).
import { chiSquareSurvival, ksSurvival } from "./special.ts";

/**
 * Added to every share (then renormalised) before a log ratio, so an empty
 * bucket does not make PSI infinite. Additive smoothing is a mixture with the
 * uniform distribution, so PSI stays monotone as live traffic moves away from
 * the reference (replacing zeros by a constant, as Evidently does, is not).
 */
export const SMOOTHING = 1e-4;

export type TestResult = { statistic: number; pValue: number };

/** Shares of a vector of non-negative counts; all zeros stay zeros. */
export function shares(counts: readonly number[]): number[] {
  let total = 0;
  for (const c of counts) total += c;
  if (!(total > 0)) return counts.map(() => 0);
  return counts.map((c) => c / total);
}

export function smoothed(p: readonly number[], epsilon = SMOOTHING): number[] {
  const total = 1 + epsilon * p.length;
  return p.map((x) => (x + epsilon) / total);
}

/** Population Stability Index: Σ (a − e) · ln(a / e) over smoothed shares. */
export function psi(reference: readonly number[], live: readonly number[]): number {
  const e = smoothed(shares(reference));
  const a = smoothed(shares(live));
  let sum = 0;
  for (let i = 0; i < e.length; i++) {
    const ai = a[i] as number;
    const ei = e[i] as number;
    sum += (ai - ei) * Math.log(ai / ei);
  }
  return Math.max(0, sum);
}

/**
 * Jensen–Shannon distance (natural logarithm, as SciPy's and Evidently's
 * default): the square root of the JS divergence; 0 ≤ d ≤ √ln 2 ≈ 0.833.
 */
export function jensenShannon(reference: readonly number[], live: readonly number[]): number {
  const p = shares(reference);
  const q = shares(live);
  let divergence = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i] as number;
    const qi = q[i] as number;
    const mi = (pi + qi) / 2;
    if (pi > 0) divergence += pi * Math.log(pi / mi);
    if (qi > 0) divergence += qi * Math.log(qi / mi);
  }
  // Rounding leaves ~1e-17 for identical inputs, whose root would be ~1e-9.
  return divergence < 1e-14 ? 0 : Math.sqrt(divergence / 2);
}

/**
 * Kolmogorov–Smirnov on binned data: the largest gap between the two CDFs at
 * the bucket boundaries. With the reference's sample size m known, the
 * p-value is the two-sample asymptotic one (SciPy's ks_2samp, method
 * "asymp": kstwo.sf(D, round(n·m/(n+m)))); without it the reference is taken
 * as the exact distribution (one-sample, kstwo.sf(D, n)). Binning makes the
 * statistic a lower bound of the unbinned one, so the test is conservative.
 */
export function kolmogorovSmirnov(
  reference: readonly number[],
  live: readonly number[],
  referenceSampleSize?: number,
): TestResult {
  const p = shares(reference);
  const q = shares(live);
  let cp = 0;
  let cq = 0;
  let statistic = 0;
  for (let i = 0; i < p.length; i++) {
    cp += p[i] as number;
    cq += q[i] as number;
    statistic = Math.max(statistic, Math.abs(cp - cq));
  }
  statistic = Math.min(1, statistic);
  const n = total(live);
  const effective =
    referenceSampleSize && referenceSampleSize > 0
      ? Math.round((n * referenceSampleSize) / (n + referenceSampleSize))
      : Math.round(n);
  return { statistic, pValue: ksSurvival(statistic, effective) };
}

/**
 * Wasserstein-1 (earth mover's) distance with each bucket's mass at its
 * midpoint, divided by the reference's standard deviation (Evidently's
 * "normed" Wasserstein), so 0.1 means "moved a tenth of a standard
 * deviation" whatever the feature's unit. The spread counts the spread
 * inside buckets too (uniform within each bucket), so a reference that fills
 * one bucket still has a positive spread. `edges` has one more entry than
 * the shares.
 */
export function wasserstein(
  edges: readonly number[],
  reference: readonly number[],
  live: readonly number[],
): number {
  const p = shares(reference);
  const q = shares(live);
  const spread = referenceSpread(edges, p);
  if (!(spread > 0)) return 0;
  let cp = 0;
  let cq = 0;
  let distance = 0;
  for (let i = 0; i < p.length - 1; i++) {
    cp += p[i] as number;
    cq += q[i] as number;
    distance += Math.abs(cp - cq) * (midpoint(edges, i + 1) - midpoint(edges, i));
  }
  return Math.max(0, distance / spread);
}

function midpoint(edges: readonly number[], i: number): number {
  return ((edges[i] as number) + (edges[i + 1] as number)) / 2;
}

/** Standard deviation of the binned reference, mass uniform within each bucket. */
export function referenceSpread(edges: readonly number[], p: readonly number[]): number {
  let mean = 0;
  for (let i = 0; i < p.length; i++) mean += (p[i] as number) * midpoint(edges, i);
  let variance = 0;
  for (let i = 0; i < p.length; i++) {
    const width = (edges[i + 1] as number) - (edges[i] as number);
    const offset = midpoint(edges, i) - mean;
    variance += (p[i] as number) * (offset * offset + (width * width) / 12);
  }
  return Math.sqrt(Math.max(0, variance));
}

/**
 * Pearson's chi-square goodness of fit of the live counts to the reference
 * shares (SciPy's chisquare(f_obs, f_exp = n·shares)). Categories empty on
 * both sides are left out; if the reference has an empty category that live
 * traffic uses (e.g. "__other__"), the reference is smoothed so the statistic
 * stays finite. Degrees of freedom: categories kept − 1.
 */
export function chiSquare(reference: readonly number[], live: readonly number[]): TestResult {
  const kept: number[] = [];
  for (let i = 0; i < reference.length; i++) {
    if ((reference[i] as number) > 0 || (live[i] as number) > 0) kept.push(i);
  }
  const observed = kept.map((i) => live[i] as number);
  let expectedShares = shares(kept.map((i) => reference[i] as number));
  if (expectedShares.some((e) => e === 0)) expectedShares = smoothed(expectedShares);
  const n = total(observed);
  if (!(n > 0) || kept.length < 2) return { statistic: 0, pValue: 1 };
  let statistic = 0;
  for (let i = 0; i < kept.length; i++) {
    const expected = n * (expectedShares[i] as number);
    const diff = (observed[i] as number) - expected;
    statistic += (diff * diff) / expected;
  }
  return { statistic, pValue: chiSquareSurvival(statistic, kept.length - 1) };
}

export function total(counts: readonly number[]): number {
  let sum = 0;
  for (const c of counts) sum += c;
  return sum;
}
