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

/** The drift tests' model: one numeric feature x on these edges, one prediction with labels a and b. */
export const SCORER_EDGES = [0, 1, 2, 3, 4];
export const SCORER_LABELS = ["a", "b"];
/** Its reference (under `reference:`): x uniform over the edges, a and b equally likely. */
export const SCORER_REFERENCE = `    sampleSize: 10000
    features:
      - {name: x, type: numeric, edges: [${SCORER_EDGES.join(", ")}], fractions: [0.25, 0.25, 0.25, 0.25]}
    predictions:
      - {name: label, type: categorical, categories: {a: 0.5, b: 0.5}}`;

/** A ModelVersion of the scorer; `reference` is YAML indented to sit under `reference:`. */
export function scorerVersion(name: string, reference = SCORER_REFERENCE): string {
  return `
apiVersion: modelops.io/v1alpha1
kind: ModelVersion
metadata: {name: ${name}}
spec:
  modelName: scorer
  version: "${name}"
  artifact: {uri: "pvc://models/iris-classifier/v1", format: sklearn}
  runtime: {name: mlserver, image: "seldonio/mlserver:1.7.1"}
  reference:
${reference}
`;
}

/** `n` scorer requests: x uniform on [from, to), label a with probability pA, else b. */
export function sendScorerTraffic(
  exporter: FixtureExporter,
  series: ProxySeries,
  n: number,
  from: number,
  to: number,
  pA: number,
  seed: number,
): void {
  const random = seeded(seed);
  const xs = Array.from({ length: n }, () => from + (to - from) * random());
  const labels = Array.from({ length: n }, () => (random() < pA ? "a" : "b"));
  publishFeature(exporter, series, "x", SCORER_EDGES, xs);
  publishPredictions(exporter, series, "label", SCORER_LABELS, labels);
}
