// The seam between analysis and wherever metrics come from. Judgement and the
// reconciler only see MetricResult, so tests (and other backends) substitute
// the provider without a Prometheus.

/**
 * The outcome of one query. "noData" is not an error: it is what low or no
 * traffic looks like, and the analysis decides what it means (noData policy).
 */
export type MetricResult =
  | { kind: "value"; value: number }
  | { kind: "noData"; reason: string }
  | { kind: "error"; message: string };

export interface QueryOptions {
  /** Aborts the query early, e.g. when the operator shuts down. */
  signal?: AbortSignal;
  /** Evaluates the query as of this time instead of now. */
  time?: Date | undefined;
}

/** One series of an instant vector: its labels and value (+Inf/-Inf as Infinity; NaN samples dropped). */
export type VectorSample = { labels: Record<string, string>; value: number };

/** An instant vector, e.g. histogram buckets by `le`; an empty vector is not an error. */
export type VectorResult = { kind: "vector"; samples: VectorSample[] } | { kind: "error"; message: string };

export interface MetricProvider {
  /** Runs one query returning one number. Never throws: failures are `{kind: "error"}`. */
  query(query: string, options?: QueryOptions): Promise<MetricResult>;
  /** Runs one query returning a vector (drift reads distributions this way). Never throws. */
  queryVector?(query: string, options?: QueryOptions): Promise<VectorResult>;
}
