// A real Prometheus for integration tests: started per test file on a free
// loopback port, scraping static targets (usually a FixtureExporter) and/or
// the pods of the real node found through Kubernetes service discovery, every
// second so rate() over 10-30 s windows has data within a few seconds. Rule
// files are evaluated at the same interval, so alerts change state as fast.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { dump } from "js-yaml";
import {
  type Component,
  freePorts,
  pollUntil,
  startComponent,
  stopComponents,
  tailLog,
  track,
  untrack,
} from "./procs.ts";

export interface StartPrometheusOptions {
  /** Holds prometheus.yml, the TSDB (data/) and prometheus.log. */
  dir: string;
  /** Directory with the `prometheus` binary (hack/build-binaries.sh links it there). */
  binDir: string;
  scrapeIntervalMs?: number;
  /** host:port of /metrics endpoints to scrape (job "fixture"). */
  targets?: string[];
  /** The static targets' job name instead of "fixture" (the chart's alerts know the operator by its job). */
  staticJob?: string;
  /** Also scrape the pods that ask for it, found through the API server (job "kubernetes-pods"). */
  kubernetesPods?: KubernetesPodsDiscovery;
  /** Rule files (alerting and recording rules) evaluated every scrape interval. */
  ruleFiles?: string[];
  timeoutMs?: number;
  log?: (line: string) => void;
}

export interface RunningPrometheus {
  /** Base URL, e.g. http://127.0.0.1:41234; the query API is under /api/v1. */
  url: string;
  logPath: string;
  /** Replaces the static scrape targets (config rewrite and /-/reload); pod discovery stays. */
  reloadTargets(targets: string[]): Promise<void>;
  /** Kills the process and waits until it is gone. */
  stop(): Promise<void>;
}

export interface KubernetesPodsDiscovery {
  /** e.g. https://127.0.0.1:6443 */
  apiserverUrl: string;
  /** PEM files: the cluster CA, and a client certificate allowed to list and watch pods. */
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Only pods in these namespaces; every namespace when absent. */
  namespaces?: string[];
}

export interface PrometheusConfigInput {
  intervalMs: number;
  targets?: string[];
  staticJob?: string | undefined;
  ruleFiles?: string[];
  kubernetesPods?: KubernetesPodsDiscovery;
}

/**
 * The conventional pod scrape job: pods annotated prometheus.io/scrape=true,
 * scraped at prometheus.io/port and prometheus.io/path (the annotations the
 * operator puts on inference pods, see scrapeAnnotations).
 */
function kubernetesPodsJob(k: KubernetesPodsDiscovery): Record<string, unknown> {
  const ip = "__meta_kubernetes_pod_ip";
  const port = "__meta_kubernetes_pod_annotation_prometheus_io_port";
  return {
    job_name: "kubernetes-pods",
    // The proxy sets namespace/deployment/revision/version itself; a target
    // label must never replace them (as for the fixture job).
    honor_labels: true,
    kubernetes_sd_configs: [
      {
        role: "pod",
        api_server: k.apiserverUrl,
        tls_config: { ca_file: k.caFile, cert_file: k.certFile, key_file: k.keyFile },
        ...(k.namespaces ? { namespaces: { names: k.namespaces } } : {}),
      },
    ],
    relabel_configs: [
      {
        source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
        action: "keep",
        regex: "true",
      },
      // Pending pods have no metrics yet; Succeeded and Failed ones never again.
      { source_labels: ["__meta_kubernetes_pod_phase"], action: "keep", regex: "Running" },
      {
        source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_path"],
        regex: "(.+)",
        target_label: "__metrics_path__",
      },
      // The pod role gives one target per declared container port; all are
      // rewritten to the annotated port, and Prometheus drops the duplicates.
      // An IPv6 pod IP needs brackets; regexes are anchored, so only one matches.
      {
        source_labels: [ip, port],
        regex: "(.*:.*);(\\d+)",
        replacement: "[$1]:$2",
        target_label: "__address__",
      },
      {
        source_labels: [ip, port],
        regex: "([^:]+);(\\d+)",
        replacement: "$1:$2",
        target_label: "__address__",
      },
      // Neither clashes with a label the proxy sets (metric-names.ts, proxy/metrics.ts).
      { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
      { source_labels: ["__meta_kubernetes_pod_node_name"], target_label: "node" },
    ],
  };
}

/** prometheus.yml: the fixture job when there are static targets, the pod job when asked for. */
export function prometheusConfig(c: PrometheusConfigInput): string {
  const interval = `${c.intervalMs}ms`;
  const jobs: Array<Record<string, unknown>> = [];
  if (c.targets) {
    // The exporter sets namespace/deployment/... itself, as the proxy does.
    jobs.push({
      job_name: c.staticJob ?? "fixture",
      honor_labels: true,
      static_configs: [{ targets: c.targets }],
    });
  }
  if (c.kubernetesPods) jobs.push(kubernetesPodsJob(c.kubernetesPods));
  const config = {
    // scrape_timeout defaults to 10s, which Prometheus refuses above the interval.
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    rule_files: c.ruleFiles ?? [],
    scrape_configs: jobs,
  };
  return dump(config, { lineWidth: -1, noRefs: true });
}

function prometheusArgs(configPath: string, dataDir: string, port: number): string[] {
  return [
    `--config.file=${configPath}`,
    `--storage.tsdb.path=${dataDir}`,
    `--web.listen-address=127.0.0.1:${port}`,
    // /-/reload, for reloadTargets.
    "--web.enable-lifecycle",
    // The scrape manager applies target changes every 5 s by default, which
    // would delay the first scrape (and every reloadTargets) by up to 5 s.
    "--scrape.discovery-reload-interval=100ms",
    "--log.level=warn",
    // A test's data is worthless after it; keep the head small.
    "--storage.tsdb.retention.time=1h",
  ];
}

async function ready(url: string): Promise<true | undefined> {
  const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) });
  if (res.ok) return true;
  throw new Error(`/-/ready ${res.status}`);
}

/**
 * Starts Prometheus and waits until it is ready. The process is tracked like
 * the cluster's components, so it dies with this process even if a test never
 * calls stop(); on a failed start it is killed before the error is thrown.
 */
export async function startPrometheus(opts: StartPrometheusOptions): Promise<RunningPrometheus> {
  const dir = resolve(opts.dir);
  const intervalMs = opts.scrapeIntervalMs ?? 1000;
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, "prometheus.yml");
  const config = (targets: string[] | undefined) =>
    prometheusConfig({
      intervalMs,
      targets,
      staticJob: opts.staticJob,
      ruleFiles: opts.ruleFiles,
      kubernetesPods: opts.kubernetesPods,
    });
  writeFileSync(configPath, config(opts.targets));
  const [port] = await freePorts(1);
  const url = `http://127.0.0.1:${port}`;
  const logPath = join(dir, "prometheus.log");
  const c: Component = startComponent(
    "prometheus",
    join(opts.binDir, "prometheus"),
    prometheusArgs(configPath, join(dir, "data"), port ?? 0),
    logPath,
  );
  track([c]);
  const stop = async () => {
    await stopComponents([c], 2000);
    untrack([c]);
  };
  try {
    await pollUntil("prometheus ready", () => ready(url), {
      timeoutMs: opts.timeoutMs ?? 30_000,
      watch: [c],
      log: opts.log ?? (() => {}),
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    logPath,
    stop,
    reloadTargets: async (targets) => {
      writeFileSync(configPath, config(targets));
      const res = await fetch(`${url}/-/reload`, { method: "POST" });
      if (!res.ok) throw new Error(`reload: ${res.status} ${await res.text()}\n${tailLog(logPath)}`);
    },
  };
}

export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

/**
 * Runs an instant query. A vector result gives one sample per series, a scalar
 * one sample without labels; an empty vector (no data yet) gives [].
 */
export async function queryPrometheus(url: string, promql: string): Promise<PromSample[]> {
  const res = await fetch(`${url}/api/v1/query`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ query: promql }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { resultType: string; result: unknown };
  };
  if (body.status !== "success" || !body.data) {
    throw new Error(`query ${promql}: ${res.status} ${body.error ?? JSON.stringify(body)}`);
  }
  const { resultType, result } = body.data;
  if (resultType === "scalar") return [{ metric: {}, value: Number((result as [number, string])[1]) }];
  if (resultType !== "vector") throw new Error(`query ${promql}: unexpected result type ${resultType}`);
  return (result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((s) => ({
    metric: s.metric,
    value: Number(s.value[1]),
  }));
}

/** The single value of a query, or undefined when it has no data (or NaN, e.g. 0/0). */
export async function queryValue(url: string, promql: string): Promise<number | undefined> {
  const samples = await queryPrometheus(url, promql);
  if (samples.length > 1) throw new Error(`query ${promql}: ${samples.length} series, expected one`);
  const v = samples[0]?.value;
  return v === undefined || Number.isNaN(v) ? undefined : v;
}

export interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** pending while the rule's `for` has not elapsed, then firing. */
  state: "pending" | "firing";
  activeAt: string;
}

/** The alerts of the loaded rule files that are pending or firing now (GET /api/v1/alerts). */
export async function activeAlerts(url: string): Promise<PromAlert[]> {
  const res = await fetch(`${url}/api/v1/alerts`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { status: string; error?: string; data?: { alerts: PromAlert[] } };
  if (body.status !== "success" || !body.data) throw new Error(`alerts: ${res.status} ${body.error ?? ""}`);
  return body.data.alerts;
}
