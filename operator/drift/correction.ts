// Multiple-testing corrections across the features tested with a p-value:
// with 20 features at p < 0.05 one would drift by chance alone every time.

export const CORRECTIONS = ["none", "bonferroni", "benjaminiHochberg"] as const;
export type Correction = (typeof CORRECTIONS)[number];

/** Bonferroni: p · m, capped at 1 (controls the family-wise error rate). */
export function bonferroni(pValues: readonly number[]): number[] {
  const m = pValues.length;
  return pValues.map((p) => Math.min(1, p * m));
}

/**
 * Benjamini–Hochberg adjusted p-values (controls the false discovery rate;
 * SciPy's false_discovery_control(method="bh")): p_(i) · m / i, made
 * monotone from the largest down, capped at 1; returned in input order.
 */
export function benjaminiHochberg(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p);
  const adjusted = new Array<number>(m);
  let running = 1;
  for (let rank = m; rank >= 1; rank--) {
    const entry = order[rank - 1] as { p: number; i: number };
    running = Math.min(running, (entry.p * m) / rank);
    adjusted[entry.i] = Math.min(1, running);
  }
  return adjusted;
}

export function correct(pValues: readonly number[], correction: Correction): number[] {
  if (correction === "bonferroni") return bonferroni(pValues);
  if (correction === "benjaminiHochberg") return benjaminiHochberg(pValues);
  return [...pValues];
}
