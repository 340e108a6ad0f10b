// Computes a ModelVersion spec.reference from a training table (CSV or
// Parquet, read by reference.ts), so nobody
// writes fractions by hand. Numeric columns get quantile bucket edges and the
// share of rows in each bucket (bucket i is (edges[i], edges[i+1]], the rule
// the modelops-proxy histograms and the drift statistics use); categorical
// columns get the share of each category.

export type Column = { name: string; values: string[] };
export interface ReferenceOptions {
  /** Buckets per numeric column (before merging equal quantiles). Default 10. */
  buckets?: number;
  /** Columns to treat as categorical even if their values parse as numbers. */
  categorical?: string[];
  /** Columns that are model outputs: written under predictions. */
  predictions?: string[];
  /** Columns to leave out (ids, timestamps). */
  ignore?: string[];
}

type NumericReference = { name: string; type: "numeric"; edges: number[]; fractions: number[] };
type CategoricalReference = { name: string; type: "categorical"; categories: Record<string, number> };
export type FeatureReference = NumericReference | CategoricalReference;
export interface Reference {
  sampleSize: number;
  features?: FeatureReference[];
  predictions?: FeatureReference[];
}

const MAX_CATEGORIES = 256;
const OTHER = "__other__";
const DIGITS = 6;

export function computeReference(columns: Column[], options: ReferenceOptions = {}): Reference {
  const ignore = new Set(options.ignore ?? []);
  const outputs = new Set(options.predictions ?? []);
  const forced = new Set(options.categorical ?? []);
  const features: FeatureReference[] = [];
  const predictions: FeatureReference[] = [];
  let sampleSize = 0;
  for (const column of columns) {
    if (ignore.has(column.name)) continue;
    const present = column.values.map((v) => v.trim()).filter((v) => v !== "");
    if (present.length === 0) throw new Error(`column "${column.name}" has no values`);
    sampleSize = Math.max(sampleSize, present.length);
    const numeric = !forced.has(column.name) && present.every((v) => Number.isFinite(Number(v)));
    const reference = numeric
      ? numericReference(column.name, present.map(Number), options.buckets ?? 10)
      : categoricalReference(column.name, present);
    (outputs.has(column.name) ? predictions : features).push(reference);
  }
  return {
    sampleSize,
    ...(features.length > 0 ? { features } : {}),
    ...(predictions.length > 0 ? { predictions } : {}),
  };
}

export function numericReference(name: string, values: number[], buckets: number): NumericReference {
  if (buckets < 1 || buckets > 64) throw new Error("buckets must be between 1 and 64");
  const sorted = Float64Array.from(values).sort();
  const quantiles = Array.from({ length: buckets + 1 }, (_, i) => quantile(sorted, i / buckets));
  const edges = [...new Set(quantiles.map((q) => roundTo(q)))].sort((a, b) => a - b);
  if (edges.length === 1) {
    // One distinct value: one bucket around it, so live values on either side still fall somewhere.
    const v = edges[0] as number;
    return { name, type: "numeric", edges: [v - 0.5, v + 0.5], fractions: [1] };
  }
  const counts = new Array<number>(edges.length - 1).fill(0);
  for (const v of sorted) {
    const bucket = bucketOf(edges, v);
    counts[bucket] = (counts[bucket] as number) + 1;
  }
  return { name, type: "numeric", edges, fractions: normalised(counts) };
}

/** Bucket of v: the first i with v <= edges[i+1]; outer buckets take the rest. */
export function bucketOf(edges: readonly number[], v: number): number {
  const last = edges.length - 2;
  for (let i = 0; i < last; i++) if (v <= (edges[i + 1] as number)) return i;
  return last;
}

// Linear interpolation between order statistics (NumPy's default quantile).
function quantile(sorted: Float64Array, q: number): number {
  const position = q * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.min(lower + 1, sorted.length - 1);
  const a = sorted[lower] as number;
  return a + (position - lower) * ((sorted[upper] as number) - a);
}

export function categoricalReference(name: string, values: string[]): CategoricalReference {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let entries = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  if (entries.length > MAX_CATEGORIES) {
    // The proxy counts categories missing from the reference as __other__; the rare tail goes there too.
    const tail = entries.slice(MAX_CATEGORIES - 1).reduce((sum, [, c]) => sum + c, 0);
    entries = [...entries.slice(0, MAX_CATEGORIES - 1), [OTHER, tail]];
  }
  const fractions = normalised(entries.map(([, c]) => c));
  return {
    name,
    type: "categorical",
    categories: Object.fromEntries(entries.map(([k], i) => [k, fractions[i] as number])),
  };
}

/** Shares rounded for a readable manifest, the rounding error folded into the largest. */
function normalised(counts: number[]): number[] {
  const sum = counts.reduce((a, b) => a + b, 0);
  const shares = counts.map((c) => roundTo(c / sum));
  const error = 1 - shares.reduce((a, b) => a + b, 0);
  const largest = shares.indexOf(Math.max(...shares));
  shares[largest] = roundTo((shares[largest] as number) + error);
  return shares;
}

function roundTo(x: number): number {
  return Number(x.toPrecision(DIGITS));
}

/** Rows as read from Parquet (one object per row) into columns; nulls become missing values. */
export function columnsFromRecords(rows: Record<string, unknown>[]): Column[] {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const text = (v: unknown) => (v === null || v === undefined ? "" : String(v));
  return names.map((name) => ({ name, values: rows.map((r) => text(r[name])) }));
}

/** RFC 4180 CSV (quoted fields, doubled quotes, CRLF) into columns by header. */
export function parseCsv(text: string): Column[] {
  const rows = csvRows(text).filter((r) => r.length > 1 || (r[0] ?? "") !== "");
  const header = rows.shift();
  if (!header) throw new Error("the CSV is empty");
  return header.map((name, i) => ({ name: name.trim(), values: rows.map((r) => r[i] ?? "") }));
}

function csvRows(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += ch;
  }
  if (field !== "" || row.length > 0) rows.push([...row, field]);
  return rows;
}
