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
}

export interface MetricProvider {
  /** Runs one query returning one number. Never throws: failures are `{kind: "error"}`. */
  query(query: string, options?: QueryOptions): Promise<MetricResult>;
}
