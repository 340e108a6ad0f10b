// Feature and prediction distributions, rendered in the Prometheus text
// format by hand: each feature has its own bucket bounds (from its
// reference), which one prom-client Histogram (one bucket set per family)
// cannot express, and a plain array per feature keeps observe() cheap on the
// request path. Only names the reference lists get series, and categories
// it does not list count as "__other__", so cardinality is bounded by the
// ModelVersion, never by traffic.
import { OTHER_CATEGORY } from "../api/metric-names.ts";
import { categoryOf, histogramBounds, numericValue } from "./buckets.ts";
import type { ReferenceEntry } from "./config.ts";
import type { Columns } from "./payload.ts";

interface NumericSeries {
  kind: "numeric";
  bounds: number[];
  /** counts[i]: values in bucket i (not cumulative); the last is the +Inf bucket. */
  counts: number[];
  sum: number;
  count: number;
}

interface CategoricalSeries {
  kind: "categorical";
  known: Set<string>;
  counts: Map<string, number>;
}

export interface DistributionNames {
  /** Histogram family for numeric entries. */
  histogram: string;
  /** Counter family for categorical entries. */
  counter: string;
  /** Label carrying the entry's name: `feature` or `output`. */
  label: string;
  help: string;
}

export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatNumber(v: number): string {
  return v === Number.POSITIVE_INFINITY ? "+Inf" : String(v);
}

export class Distributions {
  private readonly series = new Map<string, NumericSeries | CategoricalSeries>();
  private readonly names: DistributionNames;

  constructor(reference: ReferenceEntry[], names: DistributionNames) {
    this.names = names;
    for (const ref of reference) {
      if (ref.type === "numeric" && ref.edges) {
        const bounds = histogramBounds(ref.edges);
        this.series.set(ref.name, {
          kind: "numeric",
          bounds,
          counts: new Array(bounds.length + 1).fill(0),
          sum: 0,
          count: 0,
        });
      } else if (ref.type === "categorical") {
        const known = new Set(ref.categories ?? []);
        const counts = new Map<string, number>([...known, OTHER_CATEGORY].map((c) => [c, 0]));
        this.series.set(ref.name, { kind: "categorical", known, counts });
      }
    }
  }

  /** Whether any column can be observed: when not, the proxy need not parse bodies for it. */
  get empty(): boolean {
    return this.series.size === 0;
  }

  observe(columns: Columns): void {
    for (const [name, values] of columns) {
      const s = this.series.get(name);
      if (!s) continue;
      if (s.kind === "categorical") {
        for (const v of values) {
          const c = categoryOf(s.known, v);
          s.counts.set(c, (s.counts.get(c) ?? 0) + 1);
        }
        continue;
      }
      for (const v of values) {
        const n = numericValue(v);
        if (n === undefined) continue;
        let i = 0;
        while (i < s.bounds.length && n > (s.bounds[i] as number)) i++;
        s.counts[i] = (s.counts[i] as number) + 1;
        s.sum += n;
        s.count++;
      }
    }
  }

  /** Text exposition of both families; `base` is the rendered common labels, e.g. `namespace="a",...`. */
  render(base: string): string {
    const { histogram, counter, label, help } = this.names;
    const hist: string[] = [`# HELP ${histogram} ${help}`, `# TYPE ${histogram} histogram`];
    const cats: string[] = [`# HELP ${counter} ${help}`, `# TYPE ${counter} counter`];
    for (const [name, s] of this.series) {
      const own = `${base},${label}="${escapeLabelValue(name)}"`;
      if (s.kind === "categorical") {
        for (const [c, n] of s.counts) cats.push(`${counter}{${own},category="${escapeLabelValue(c)}"} ${n}`);
        continue;
      }
      let cumulative = 0;
      [...s.bounds, Number.POSITIVE_INFINITY].forEach((le, i) => {
        cumulative += s.counts[i] as number;
        hist.push(`${histogram}_bucket{${own},le="${formatNumber(le)}"} ${cumulative}`);
      });
      hist.push(`${histogram}_sum{${own}} ${s.sum}`, `${histogram}_count{${own}} ${s.count}`);
    }
    return `${hist.join("\n")}\n${cats.join("\n")}\n`;
  }
}
