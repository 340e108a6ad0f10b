// Every series the proxy exports, named by the contract in
// operator/api/metric-names.ts and labelled with the pod's
// namespace/deployment/revision/version. Label children are bound once here
// so the request path does no label hashing.
import client from "prom-client";
import {
  BUFFERED_BYTES,
  CLIENT_CLOSED_CODE,
  FEATURE_CATEGORY_TOTAL,
  FEATURE_VALUE,
  INFLIGHT_REQUESTS,
  MIRRORED_INFLIGHT_REQUESTS,
  MIRRORED_REQUESTS_TOTAL,
  PASSTHROUGH_REQUESTS_TOTAL,
  PREDICTION_CATEGORY_TOTAL,
  PREDICTION_VALUE,
  REQUEST_DURATION,
  REQUEST_SIZE,
  REQUESTS_TOTAL,
  RESPONSE_SIZE,
  SHADOW_ABS_DIFF,
  SHADOW_AGREEMENT_TOTAL,
  SHADOW_REQUEST_DURATION,
  SHADOW_REQUESTS_TOTAL,
  UNPARSED_TOTAL,
} from "../api/metric-names.ts";
import type { ProxyConfig } from "./config.ts";
import { Distributions, escapeLabelValue } from "./distributions.ts";

export type CodeClass = "2xx" | "3xx" | "4xx" | "5xx";
const CODE_CLASSES: CodeClass[] = ["2xx", "3xx", "4xx", "5xx"];
const SIZE_BUCKETS = [256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304];
const ABS_DIFF_BUCKETS = [0.0001, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 100];

export function codeClass(status: number): CodeClass {
  if (status >= 500 || status < 100) return "5xx";
  if (status >= 400) return "4xx";
  if (status >= 300) return "3xx";
  return "2xx";
}

type SeriesLabels = { namespace: string; deployment: string; revision: string; version: string };

function perCode<T>(make: (code: CodeClass) => T): Record<CodeClass, T> {
  return Object.fromEntries(CODE_CLASSES.map((c) => [c, make(c)])) as Record<CodeClass, T>;
}

/** A counter child exported as 0 from the start, so rate() and ratios have data before the first event. */
function zeroed<T extends { inc(v?: number): void }>(child: T): T {
  child.inc(0);
  return child;
}

export function createProxyMetrics(config: ProxyConfig) {
  const registry = new client.Registry();
  const base: SeriesLabels = {
    namespace: config.namespace,
    deployment: config.deployment,
    revision: config.revision,
    version: config.version,
  };
  registry.setDefaultLabels(base);
  // The common labels come from the registry defaults, not from each child.
  const names: string[] = [];
  const counter = (name: string, help: string, extra: string[] = []) =>
    new client.Counter({ name, help, labelNames: [...names, ...extra], registers: [registry] });
  const histogram = (name: string, help: string, buckets?: number[]) =>
    new client.Histogram({
      name,
      help,
      labelNames: names,
      registers: [registry],
      ...(buckets ? { buckets } : {}),
    });

  const requests = counter(REQUESTS_TOTAL, "Inference requests by status class.", ["code"]);
  const passthrough = counter(
    PASSTHROUGH_REQUESTS_TOTAL,
    "Other requests (health, metadata) by status class.",
    ["code"],
  );
  const unparsed = counter(UNPARSED_TOTAL, "Payloads forwarded but not parsed.", ["part"]);
  const shadowRequests = counter(SHADOW_REQUESTS_TOTAL, "Mirrored requests by result and status class.", [
    "result",
    "code",
  ]);
  const agreement = counter(SHADOW_AGREEMENT_TOTAL, "Compared predictions: agree or disagree.", ["result"]);
  const gauge = (name: string, help: string) =>
    new client.Gauge({ name, help, labelNames: names, registers: [registry] });
  const inflight = gauge(INFLIGHT_REQUESTS, "Inference requests in flight.");
  // Shadow traffic this proxy receives, counted in the totals above and again
  // here, so the client load (totals minus these) counts each request once.
  const mirrored = zeroed(
    counter(MIRRORED_REQUESTS_TOTAL, "Inference requests received as mirrored copies."),
  );
  const mirroredInflight = gauge(MIRRORED_INFLIGHT_REQUESTS, "Mirrored inference requests in flight.");
  const features = new Distributions(config.reference.features, {
    histogram: FEATURE_VALUE,
    counter: FEATURE_CATEGORY_TOTAL,
    label: "feature",
    help: "Input feature values.",
  });
  const predictions = new Distributions(config.reference.predictions, {
    histogram: PREDICTION_VALUE,
    counter: PREDICTION_CATEGORY_TOTAL,
    label: "output",
    help: "Predicted values.",
  });
  const shadowResult = (result: string, code = "") => shadowRequests.labels({ result, code });
  return {
    registry,
    features,
    predictions,
    requests: {
      ...perCode((code) => zeroed(requests.labels({ code }))),
      [CLIENT_CLOSED_CODE]: zeroed(requests.labels({ code: CLIENT_CLOSED_CODE })),
    },
    passthrough: perCode((code) => zeroed(passthrough.labels({ code }))),
    duration: histogram(REQUEST_DURATION, "Inference latency seen by the proxy (s)."),
    requestSize: histogram(REQUEST_SIZE, "Inference request body size (bytes).", SIZE_BUCKETS),
    responseSize: histogram(RESPONSE_SIZE, "Inference response body size (bytes).", SIZE_BUCKETS),
    inflight,
    buffered: gauge(BUFFERED_BYTES, "Bytes held in body copies for parsing and shadow comparison."),
    mirrored,
    mirroredInflight,
    unparsedRequest: zeroed(unparsed.labels({ part: "request" })),
    unparsedResponse: zeroed(unparsed.labels({ part: "response" })),
    shadow: {
      sent: perCode((code) => shadowResult("sent", code)),
      dropped: zeroed(shadowResult("dropped")),
      error: zeroed(shadowResult("error")),
      duration: histogram(SHADOW_REQUEST_DURATION, "Latency of the shadow revision (s)."),
      agree: zeroed(agreement.labels({ result: "agree" })),
      disagree: zeroed(agreement.labels({ result: "disagree" })),
      absDifference: histogram(
        SHADOW_ABS_DIFF,
        "|primary - shadow| of numeric predictions.",
        ABS_DIFF_BUCKETS,
      ),
    },
    /** The whole exposition: prom-client's families, then the distributions. */
    async render(): Promise<string> {
      const labels = Object.entries(base)
        .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
        .join(",");
      return (await registry.metrics()) + features.render(labels) + predictions.render(labels);
    },
  };
}

export type ProxyMetrics = ReturnType<typeof createProxyMetrics>;
