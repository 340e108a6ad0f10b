// PromQL for analysis: the built-in metrics over the modelops-proxy series
// (api/metric-names.ts), and the placeholder templating of user queries.
import { ANALYSIS_QUERY_PLACEHOLDERS, type BUILTIN_METRICS } from "../api/index.ts";
import { CLIENT_CLOSED_CODE, REQUEST_DURATION, REQUESTS_TOTAL } from "../api/metric-names.ts";

export type BuiltinMetric = (typeof BUILTIN_METRICS)[number];

/** The proxy's `code` label value for server errors. */
export const SERVER_ERROR_CLASS = "5xx";

/** Which series of which revision a built-in metric reads, and over what window. */
export interface SeriesSelector {
  namespace: string;
  deployment: string;
  revision: string;
  /** A PromQL duration, e.g. "60s" (see formatPromDuration). */
  interval: string;
}

/**
 * Escapes a value for a double-quoted PromQL string literal. Kubernetes names
 * never need it, but a value is never trusted to be a name: a quote in it
 * would otherwise change the query.
 */
export function escapePromQLString(value: string): string {
  return value
    .replace(/\\/g, "\\\\")
    .replace(/"/g, '\\"')
    .replace(/\n/g, "\\n")
    .replace(/\r/g, "\\r")
    .replace(/\t/g, "\\t");
}

/** Milliseconds as a PromQL duration: whole seconds as "60s", anything finer as "1500ms". */
export function formatPromDuration(ms: number): string {
  const whole = Math.max(1, Math.round(ms));
  return whole % 1000 === 0 ? `${whole / 1000}s` : `${whole}ms`;
}

function selector(sel: SeriesSelector, extra: Record<string, string> = {}): string {
  const labels = { namespace: sel.namespace, deployment: sel.deployment, revision: sel.revision, ...extra };
  return Object.entries(labels)
    .map(([k, v]) => `${k}="${escapePromQLString(v)}"`)
    .join(",");
}

/** PromQL of a built-in metric for one revision. Each returns one number, or nothing without traffic. */
export function builtinQuery(metric: BuiltinMetric, sel: SeriesSelector): string {
  const all = `${REQUESTS_TOTAL}{${selector(sel)}}[${sel.interval}]`;
  switch (metric) {
    case "errorRate": {
      // The 5xx series does not exist until the first error; "or vector(0)"
      // keeps a healthy revision from reading as "no data". Without traffic
      // the denominator is empty (or 0), so the result is still no data.
      // Requests the client hung up on say nothing of the model: neither side.
      const errors = `${REQUESTS_TOTAL}{${selector(sel, { code: SERVER_ERROR_CLASS })}}[${sel.interval}]`;
      const answered = `${REQUESTS_TOTAL}{${selector(sel)},code!="${CLIENT_CLOSED_CODE}"}[${sel.interval}]`;
      return `(sum(rate(${errors})) or vector(0)) / sum(rate(${answered}))`;
    }
    case "latencyP50":
      return latencyQuantile(0.5, sel);
    case "latencyP95":
      return latencyQuantile(0.95, sel);
    case "latencyP99":
      return latencyQuantile(0.99, sel);
    case "requestRate":
      return `sum(rate(${all}))`;
  }
}

function latencyQuantile(quantile: number, sel: SeriesSelector): string {
  const buckets = `${REQUEST_DURATION}_bucket{${selector(sel)}}[${sel.interval}]`;
  return `histogram_quantile(${quantile}, sum by (le) (rate(${buckets})))`;
}

/** Values for the placeholders of a user query; undefined ones are an error when used. */
export interface QueryVariables {
  namespace: string;
  name: string;
  revision: string;
  stableRevision?: string | undefined;
  version?: string | undefined;
  /** A PromQL duration, inserted as is (it belongs in a range selector, not a string). */
  interval: string;
}

const PLACEHOLDERS = Object.keys(ANALYSIS_QUERY_PLACEHOLDERS) as Placeholder[];
type Placeholder = keyof typeof ANALYSIS_QUERY_PLACEHOLDERS;

export type RenderedQuery = { ok: true; query: string } | { ok: false; message: string };

const PLACEHOLDER_PATTERN = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/**
 * Replaces {{placeholders}} in a user query. Label values are escaped for a
 * double-quoted string literal (write `revision="{{revision}}"`). An unknown
 * placeholder or one without a value is reported, not sent to Prometheus,
 * where it would only come back as a parse error far from its cause.
 */
export function renderQuery(template: string, vars: QueryVariables): RenderedQuery {
  const problems = new Set<string>();
  const query = template.replace(PLACEHOLDER_PATTERN, (match, key: string) => {
    if (!(PLACEHOLDERS as readonly string[]).includes(key)) {
      problems.add(`unknown placeholder ${match} (known: ${PLACEHOLDERS.map((p) => `{{${p}}}`).join(", ")})`);
      return match;
    }
    const value = vars[key as Placeholder];
    if (value === undefined) {
      problems.add(`placeholder {{${key}}} has no value here${missingHint(key as Placeholder)}`);
      return match;
    }
    return key === "interval" ? value : escapePromQLString(value);
  });
  if (problems.size > 0)
    return { ok: false, message: `cannot render the query: ${[...problems].join("; ")}` };
  return { ok: true, query };
}

function missingHint(key: Placeholder): string {
  if (key === "stableRevision") return " (there is no stable revision yet)";
  if (key === "version") return " (the ModelVersion of this revision is not known)";
  return "";
}
