// The metric contract between the modelops-proxy sidecar (which exports these
// series for every inference pod) and the built-in analysis and drift queries
// (which read them from Prometheus). Change a name here and both follow.
//
// Every series carries these labels, set by the proxy from its pod's
// environment, so queries never depend on Prometheus relabelling:
//   namespace   the ModelDeployment's namespace
//   deployment  the ModelDeployment's name
//   revision    the revision hash (modelops.io/revision label)
//   version     the ModelVersion's name

/**
 * Counter of proxied inference requests (V2 infer, V1 predict); label `code`
 * is the status class: 2xx, 3xx, 4xx, 5xx, or CLIENT_CLOSED_CODE for a client
 * that hung up before its answer (neither the model's error nor a 4xx the
 * model gave). A model server that does not answer in time is a 5xx (504).
 */
export const REQUESTS_TOTAL = "modelops_proxy_requests_total";
/** `code` of a request whose client disconnected before its answer (nginx's 499). */
export const CLIENT_CLOSED_CODE = "499";
/** Histogram (seconds) of request latency as seen by the proxy. */
export const REQUEST_DURATION = "modelops_proxy_request_duration_seconds";
/** Gauge of requests in flight, for concurrency autoscaling. */
export const INFLIGHT_REQUESTS = "modelops_proxy_inflight_requests";
/**
 * The part of REQUESTS_TOTAL and INFLIGHT_REQUESTS that reached this proxy as
 * a mirrored copy (shadow traffic, from another revision's proxy or from a
 * mesh), so queries of client load can subtract it: each client request is
 * counted once, by the proxy that answers it.
 */
export const MIRRORED_REQUESTS_TOTAL = "modelops_proxy_mirrored_requests_total";
export const MIRRORED_INFLIGHT_REQUESTS = "modelops_proxy_mirrored_inflight_requests";

/** Histograms (bytes) of inference request and response bodies. */
export const REQUEST_SIZE = "modelops_proxy_request_size_bytes";
export const RESPONSE_SIZE = "modelops_proxy_response_size_bytes";
/**
 * Counter of requests to other paths (health, metadata, ...), proxied
 * untouched; label `code` as above. Kept apart so probes never dilute the
 * inference error ratio and latency that analysis reads.
 */
export const PASSTHROUGH_REQUESTS_TOTAL = "modelops_proxy_passthrough_requests_total";
/**
 * Gauge of bytes held in body copies (for parsing and shadow comparison),
 * bounded by the proxy's maxBufferedBytes; payloads that did not fit are
 * counted in UNPARSED_TOTAL.
 */
export const BUFFERED_BYTES = "modelops_proxy_buffered_bytes";

export const SERIES_LABELS = ["namespace", "deployment", "revision", "version"] as const;

// Distributions for drift detection. Numeric features are Prometheus
// histograms whose `le` bounds are the ModelVersion reference's inner edges
// (edges[1] .. edges[n-1], then +Inf): reference bucket i is
// (edges[i], edges[i+1]], and the outer buckets also take the values outside
// the training range, so bucket counts come straight from the cumulative
// series. Categorical features are counters per category; a category the
// reference does not list is counted as "__other__", which bounds cardinality.

/** Histogram of a numeric input feature; extra label `feature`. */
export const FEATURE_VALUE = "modelops_proxy_feature_value";
/** Counter per category of a categorical input feature; extra labels `feature`, `category`. */
export const FEATURE_CATEGORY_TOTAL = "modelops_proxy_feature_category_total";
/** Histogram of a numeric prediction; extra label `output`. */
export const PREDICTION_VALUE = "modelops_proxy_prediction_value";
/** Counter per predicted category (class label); extra labels `output`, `category`. */
export const PREDICTION_CATEGORY_TOTAL = "modelops_proxy_prediction_category_total";
/** Category label value for categories missing from the reference. */
export const OTHER_CATEGORY = "__other__";
/**
 * Counter of requests or responses whose payload was not parsed (they are
 * still forwarded): not JSON or not the protocol, over maxParseBytes, over the
 * maxBufferedBytes budget, or beyond maxParseInflight; label `part`: request|response.
 */
export const UNPARSED_TOTAL = "modelops_proxy_unparsed_payloads_total";

// Shadow traffic: a share of requests copied to the shadow revision.
/** Counter of mirrored requests by outcome: `result` = sent|dropped (saturated)|error, and `code` class when sent. */
export const SHADOW_REQUESTS_TOTAL = "modelops_proxy_shadow_requests_total";
/** Histogram (seconds) of the shadow revision's latency. */
export const SHADOW_REQUEST_DURATION = "modelops_proxy_shadow_request_duration_seconds";
/** Counter of compared predictions: `result` = agree|disagree (classification: same label). */
export const SHADOW_AGREEMENT_TOTAL = "modelops_proxy_shadow_agreement_total";
/** Histogram of |primary - shadow| for numeric predictions (regression). */
export const SHADOW_ABS_DIFF = "modelops_proxy_shadow_abs_difference";
