// Publishes what the modelops-proxy would export for drift: a numeric
// feature's histogram (le = the reference's inner edges) and per-category
// prediction counters, for given samples. Additive: every call adds to what
// the series already counted, as a live proxy's counters grow.

import type { FixtureExporter, ProxySeries } from "../../hack/localcluster/exporter.ts";
import { FEATURE_VALUE, OTHER_CATEGORY, PREDICTION_CATEGORY_TOTAL } from "../../operator/api/metric-names.ts";

export function publishFeature(
  exporter: FixtureExporter,
  series: ProxySeries,
  feature: string,
  edges: number[],
  values: number[],
): void {
  const histogram = exporter.histogram(FEATURE_VALUE, { ...series, feature }, edges.slice(1, -1));
  for (const v of values) histogram.observe(v);
}

export function publishPredictions(
  exporter: FixtureExporter,
  series: ProxySeries,
  output: string,
  known: string[],
  labels: string[],
): void {
  const counts = new Map<string, number>(known.map((k) => [k, 0]));
  for (const l of labels) {
    const category = known.includes(l) ? l : OTHER_CATEGORY;
    counts.set(category, (counts.get(category) ?? 0) + 1);
  }
  for (const [category, n] of counts) {
    exporter.counter(PREDICTION_CATEGORY_TOTAL, { ...series, output, category }).inc(n);
  }
}

/** A deterministic pseudo-random source, so a failing run can be replayed. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
