// Time to evaluate 100 features x 50 buckets, excluding Prometheus (goal:
// under 1 ms). Prints the median of many runs for the default methods and
// for each method alone.  Run: node bench/drift.ts
import type { DriftMethod } from "../operator/api/driftmonitor.ts";
import { evaluateDrift, type FeatureInput } from "../operator/drift/evaluate.ts";

const FEATURES = 100;
const BUCKETS = 50;
const RUNS = 2000;

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function features(sampleSize: number, method?: DriftMethod): FeatureInput[] {
  const random = seeded(42);
  const edges = Array.from({ length: BUCKETS + 1 }, (_, i) => i - BUCKETS / 2);
  return Array.from({ length: FEATURES }, (_, f) => {
    const weights = Array.from({ length: BUCKETS }, () => random() + 0.01);
    const sum = weights.reduce((a, b) => a + b, 0);
    const reference = weights.map((w) => w / sum);
    const live = reference.map((r) => Math.round(r * sampleSize * (0.8 + 0.4 * random())));
    return { name: `f${f}`, kind: "Feature", type: "numeric", edges, reference, live, method };
  });
}

function medianMs(input: FeatureInput[]): number {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = process.hrtime.bigint();
    evaluateDrift({
      features: input,
      minSampleSize: 100,
      correction: "benjaminiHochberg",
      referenceSampleSize: 100_000,
    });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

const cases: [string, FeatureInput[]][] = [
  ["default methods, 100k values per feature (wasserstein)", features(100_000)],
  ["default methods, 500 values per feature (ks)", features(500)],
  ...(["psi", "jensenShannon", "ks", "wasserstein", "chiSquare"] as const).map(
    (m): [string, FeatureInput[]] => [`${m}, 100k values per feature`, features(100_000, m)],
  ),
];
console.log(`drift evaluation of ${FEATURES} features x ${BUCKETS} buckets, median of ${RUNS} runs`);
for (const [name, input] of cases) {
  const ms = medianMs(input);
  console.log(`  ${name.padEnd(56)} ${ms.toFixed(3)} ms${ms < 1 ? "" : "  (over the 1 ms goal)"}`);
}
