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

/** Counter of proxied requests; label `code` is the status class: 2xx, 3xx, 4xx, 5xx. */
export const REQUESTS_TOTAL = "modelops_proxy_requests_total";
/** Histogram (seconds) of request latency as seen by the proxy. */
export const REQUEST_DURATION = "modelops_proxy_request_duration_seconds";
/** Gauge of requests in flight, for concurrency autoscaling. */
export const INFLIGHT_REQUESTS = "modelops_proxy_inflight_requests";

export const SERIES_LABELS = ["namespace", "deployment", "revision", "version"] as const;
