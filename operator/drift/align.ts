// Turns what Prometheus returns into live counts aligned with the reference
// buckets or categories. Pure: the controller passes the query's samples in.
import { OTHER_CATEGORY } from "../api/metric-names.ts";

export type Aligned = { reference: number[]; live: number[]; edges?: number[] };
export type AlignResult = { ok: true; value: Aligned } | { ok: false; message: string };

/**
 * Per-bucket counts from a cumulative histogram (`le` → count). Only the
 * cumulative value at each inner reference edge and at +Inf is needed, so a
 * histogram with finer buckets works as long as every inner edge is one of
 * its bounds. Reference bucket i is (edges[i], edges[i+1]]; the outer
 * buckets take the values outside the training range.
 */
export function alignHistogram(
  edges: readonly number[],
  fractions: readonly number[],
  cumulative: ReadonlyMap<number, number>,
): AlignResult {
  const bounds = [...edges.slice(1, -1), Number.POSITIVE_INFINITY];
  const values: number[] = [];
  const missing: number[] = [];
  for (const bound of bounds) {
    const value = lookupBound(cumulative, bound);
    if (value === undefined) missing.push(bound);
    else values.push(value);
  }
  if (cumulative.size === 0)
    return {
      ok: true,
      value: { edges: [...edges], reference: [...fractions], live: fractions.map(() => 0) },
    };
  if (missing.length > 0) {
    return {
      ok: false,
      message: `the histogram has no bucket le=${missing.slice(0, 3).join(", le=")}${missing.length > 3 ? ", ..." : ""}; its buckets must include every inner reference edge and +Inf`,
    };
  }
  // Counters reset and increase() extrapolates, so a cumulative value can dip; never count negatives.
  const live = values.map((v, i) => Math.max(0, v - (i === 0 ? 0 : (values[i - 1] as number))));
  return { ok: true, value: { edges: [...edges], reference: [...fractions], live } };
}

// Prometheus prints le bounds with its own float formatting ("0.1", "1e+06").
function lookupBound(cumulative: ReadonlyMap<number, number>, bound: number): number | undefined {
  const exact = cumulative.get(bound);
  if (exact !== undefined) return exact;
  for (const [le, value] of cumulative) {
    if (Math.abs(le - bound) <= 1e-9 * Math.max(1, Math.abs(bound))) return value;
  }
  return undefined;
}

/**
 * Live counts per reference category, plus "__other__" for categories the
 * reference does not know (reference share 0), so new categories count as
 * drift instead of vanishing.
 */
export function alignCategories(
  categories: Readonly<Record<string, number>>,
  counts: ReadonlyMap<string, number>,
): Aligned {
  const names = Object.keys(categories).sort();
  const reference = names.map((n) => categories[n] as number);
  const live = names.map((n) => Math.max(0, counts.get(n) ?? 0));
  let other = 0;
  for (const [name, count] of counts) if (!(name in categories)) other += Math.max(0, count);
  if (!(OTHER_CATEGORY in categories)) {
    reference.push(0);
    live.push(other);
  }
  return { reference, live };
}
