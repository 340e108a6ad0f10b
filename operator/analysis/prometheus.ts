// A MetricProvider over the Prometheus HTTP API (instant queries). Every
// failure becomes a result with a message an SRE can act on, because an
// exception here would crash or stall a rollout (a failure mode the peers'
// users report).
import { OUTBOUND_MAX_RESPONSE_BYTES, type OutboundPolicy, send } from "../runtime/outbound.ts";
import type { MetricProvider, MetricResult, QueryOptions, VectorResult, VectorSample } from "./provider.ts";

export type PrometheusAuth =
  | { kind: "bearer"; token: string }
  | { kind: "basic"; username: string; password: string };

export interface PrometheusConfig {
  /** Base URL of Prometheus, e.g. http://prometheus.monitoring:9090 (a path prefix is kept). */
  address: string;
  /** Credentials; reading them from a Secret is the caller's job. */
  auth?: PrometheusAuth;
  /** Per-query deadline in milliseconds. Default 10s. */
  timeoutMs?: number;
  /**
   * The outbound fence, for an address a namespace's user chose (a
   * DriftMonitor's spec.prometheus.address); undefined for the admin's own.
   */
  outbound?: OutboundPolicy | undefined;
  /** Largest answer read; default 1 MiB. */
  maxResponseBytes?: number;
}

export const DEFAULT_QUERY_TIMEOUT_MS = 10_000;
const MAX_BODY_IN_MESSAGE = 200;

type Sample = [number, string];
interface QueryData {
  resultType: "vector" | "scalar" | "matrix" | "string";
  result: unknown;
}
interface ApiResponse {
  status: "success" | "error";
  data?: QueryData;
  errorType?: string;
  error?: string;
}

export function createPrometheusProvider(config: PrometheusConfig): MetricProvider {
  const url = `${config.address.replace(/\/+$/, "")}/api/v1/query`;
  const timeoutMs = config.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    accept: "application/json",
  };
  const authorization = authorizationHeader(config.auth);
  if (authorization) headers.authorization = authorization;

  type Answer = { status: number; statusText: string; body: string } | { error: string };
  const post = async (query: string, options: QueryOptions): Promise<Answer> => {
    try {
      const body = new URLSearchParams({
        query,
        ...(options.time ? { time: (options.time.getTime() / 1000).toFixed(3) } : {}),
      }).toString();
      return await send(
        url,
        // send() keeps the deadline; the caller's signal only cancels.
        { method: "POST", headers, body, ...(options.signal ? { signal: options.signal } : {}) },
        {
          policy: config.outbound,
          timeoutMs,
          maxResponseBytes: config.maxResponseBytes ?? OUTBOUND_MAX_RESPONSE_BYTES,
        },
      );
    } catch (err) {
      return { error: transportErrorMessage(err, config.address, timeoutMs) };
    }
  };

  return {
    async query(query: string, options: QueryOptions = {}): Promise<MetricResult> {
      const answer = await post(query, options);
      if ("error" in answer) return { kind: "error", message: answer.error };
      return interpretResponse(answer.status, answer.statusText, answer.body);
    },
    async queryVector(query: string, options: QueryOptions = {}): Promise<VectorResult> {
      const answer = await post(query, options);
      if ("error" in answer) return { kind: "error", message: answer.error };
      return interpretVectorResponse(answer.status, answer.statusText, answer.body);
    },
  };
}

export function authorizationHeader(auth: PrometheusAuth | undefined): string | undefined {
  if (!auth) return undefined;
  if (auth.kind === "bearer") return `Bearer ${auth.token}`;
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
}

// fetch() hides the useful part (ECONNREFUSED, ENOTFOUND, ...) in err.cause.
function transportErrorMessage(err: unknown, address: string, timeoutMs: number): string {
  const error = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (error.name === "TimeoutError") {
    return `Prometheus at ${address} did not answer within ${timeoutMs / 1000}s`;
  }
  if (error.name === "AbortError") return `query to Prometheus at ${address} was cancelled`;
  if (error.name === "OutboundRefused") return `Prometheus at ${address}: ${error.message}`;
  const detail = error.cause?.message ?? error.cause?.code ?? error.message ?? String(err);
  return `Prometheus unreachable at ${address}: ${detail}`;
}

/** Turns an HTTP status and body from /api/v1/query into a MetricResult. */
export function interpretResponse(status: number, statusText: string, body: string): MetricResult {
  const parsed = parseQueryResponse(status, statusText, body);
  return "error" in parsed ? { kind: "error", message: parsed.error } : interpretData(parsed.data);
}

/** Turns an HTTP status and body from /api/v1/query into a VectorResult. */
export function interpretVectorResponse(status: number, statusText: string, body: string): VectorResult {
  const parsed = parseQueryResponse(status, statusText, body);
  if ("error" in parsed) return { kind: "error", message: parsed.error };
  if (parsed.data.resultType !== "vector") {
    return { kind: "error", message: `query returned a ${parsed.data.resultType}, not an instant vector` };
  }
  const samples: VectorSample[] = [];
  for (const s of parsed.data.result as { metric: Record<string, string>; value: Sample }[]) {
    const text = s.value[1];
    const value = text === "+Inf" ? Infinity : text === "-Inf" ? -Infinity : Number(text);
    if (!Number.isNaN(value)) samples.push({ labels: s.metric, value });
  }
  return { kind: "vector", samples };
}

function parseQueryResponse(
  status: number,
  statusText: string,
  body: string,
): { data: QueryData } | { error: string } {
  let parsed: ApiResponse | undefined;
  try {
    parsed = JSON.parse(body) as ApiResponse;
  } catch {
    parsed = undefined;
  }
  // Prometheus answers 400/422/503 with a JSON error whose text is the useful part.
  if (parsed?.status === "error") {
    const type = parsed.errorType ? `${parsed.errorType}: ` : "";
    return { error: `Prometheus rejected the query (HTTP ${status}): ${type}${parsed.error}` };
  }
  if (status < 200 || status >= 300) {
    return { error: `Prometheus answered HTTP ${status} ${statusText}: ${excerpt(body)}` };
  }
  if (parsed?.status !== "success" || !parsed.data) {
    return { error: `Prometheus answered something that is not a query result: ${excerpt(body)}` };
  }
  return { data: parsed.data };
}

function interpretData(data: QueryData): MetricResult {
  switch (data.resultType) {
    case "scalar":
      return sampleResult(data.result as Sample);
    case "vector":
      return vectorResult(data.result as { metric: Record<string, string>; value: Sample }[]);
    case "matrix":
      return {
        kind: "error",
        message: "query returned a range vector; make it return one number, e.g. wrap it in rate(...[5m])",
      };
    default:
      return { kind: "error", message: `query returned a ${data.resultType}, not a number` };
  }
}

function vectorResult(series: { metric: Record<string, string>; value: Sample }[]): MetricResult {
  if (series.length === 0) return { kind: "noData", reason: "the query returned no series" };
  if (series.length > 1) {
    const labels = series
      .slice(0, 3)
      .map((s) => formatLabels(s.metric))
      .join(", ");
    return {
      kind: "error",
      message: `query returned ${series.length} series (${labels}${series.length > 3 ? ", ..." : ""}); aggregate it with sum() or another aggregation to one number`,
    };
  }
  return sampleResult((series[0] as { value: Sample }).value);
}

// Prometheus writes special values as "NaN", "+Inf", "-Inf"; Number("+Inf")
// would be NaN, so they are named here. A ratio over zero traffic is 0/0 =
// NaN: that is "no data", not a measurement.
function sampleResult(sample: Sample): MetricResult {
  const text = sample[1];
  if (text === "NaN")
    return { kind: "noData", reason: "the query returned NaN (0/0, e.g. no requests in the window)" };
  if (text === "+Inf" || text === "-Inf") {
    return {
      kind: "noData",
      reason: `the query returned ${text} (a division by zero, e.g. no requests in the window)`,
    };
  }
  const value = Number(text);
  if (!Number.isFinite(value)) return { kind: "error", message: `query returned "${text}", not a number` };
  return { kind: "value", value };
}

function formatLabels(metric: Record<string, string>): string {
  const { __name__: name = "", ...labels } = metric;
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return `${name}{${pairs.join(",")}}`;
}

function excerpt(body: string): string {
  const flat = body.replace(/\s+/g, " ").trim();
  if (flat === "") return "(empty body)";
  return flat.length > MAX_BODY_IN_MESSAGE ? `${flat.slice(0, MAX_BODY_IN_MESSAGE)}...` : flat;
}

export type { MetricProvider, MetricResult, QueryOptions, VectorResult, VectorSample } from "./provider.ts";
