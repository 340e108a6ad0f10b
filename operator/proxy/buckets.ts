// How live values map onto a ModelVersion reference's buckets, as the metric
// contract (operator/api/metric-names.ts) defines them: reference bucket
// i is (edges[i], edges[i+1]], and the outer buckets also take values outside
// the training range. A Prometheus histogram whose `le` bounds are the inner
// edges, then +Inf, gives exactly those counts.
import { OTHER_CATEGORY } from "../api/metric-names.ts";
import type { Value } from "./payload.ts";

/** The histogram `le` bounds for a reference's edges (+Inf is implicit in Prometheus). */
export function histogramBounds(edges: readonly number[]): number[] {
  return edges.slice(1, -1);
}

/** Index of the reference bucket a value falls in, 0 .. edges.length - 2. */
export function referenceBucket(edges: readonly number[], value: number): number {
  const last = edges.length - 2;
  for (let i = 0; i < last; i++) if (value <= (edges[i + 1] as number)) return i;
  return last;
}

/** A feature value as a number for a histogram, or undefined when it is not one (NaN, text, ...). */
export function numericValue(v: Value): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (v.trim() === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** The category label a value is counted under: its text if the reference knows it, else "__other__". */
export function categoryOf(known: ReadonlySet<string>, v: Value): string {
  const text = categoryText(v);
  return known.has(text) ? text : OTHER_CATEGORY;
}

/** Text of a categorical value: 1 and "1" and 1.0 are the same class label. */
export function categoryText(v: Value): string {
  return typeof v === "string" ? v : String(v);
}
