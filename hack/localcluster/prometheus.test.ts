// prometheus.yml as generated: parsed back with js-yaml, and the pod job's
// relabelling applied to the meta labels Kubernetes SD gives a pod, so the
// rules are checked for what they do, not only for how they look.
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { scrapeAnnotations } from "../../operator/core/proxy-sidecar.ts";
import { type KubernetesPodsDiscovery, prometheusConfig } from "./prometheus.ts";

interface Rule {
  source_labels?: string[];
  action?: string;
  regex?: string;
  replacement?: string;
  target_label?: string;
}
interface Job {
  job_name: string;
  honor_labels?: boolean;
  static_configs?: Array<{ targets: string[] }>;
  kubernetes_sd_configs?: Array<Record<string, unknown>>;
  relabel_configs?: Rule[];
}
interface Config {
  global: Record<string, string>;
  rule_files: string[];
  scrape_configs: Job[];
}

const PODS: KubernetesPodsDiscovery = {
  apiserverUrl: "https://127.0.0.1:6443",
  caFile: "/pki/ca.crt",
  certFile: "/pki/admin.crt",
  keyFile: "/pki/admin.key",
};

function parse(yaml: string): Config {
  return load(yaml) as Config;
}

/**
 * Prometheus' relabelling for the actions used here (keep, replace): values
 * joined by ";", the regex anchored at both ends, $n in the replacement, and
 * __meta_ labels dropped afterwards. Undefined: the target is dropped.
 */
function relabel(rules: Rule[], labels: Record<string, string>): Record<string, string> | undefined {
  const out = { ...labels };
  for (const r of rules) {
    const value = (r.source_labels ?? []).map((l) => out[l] ?? "").join(";");
    const m = new RegExp(`^(?:${r.regex ?? "(.*)"})$`).exec(value);
    if ((r.action ?? "replace") === "keep") {
      if (!m) return undefined;
      continue;
    }
    if (!m || !r.target_label) continue;
    const v = (r.replacement ?? "$1").replace(/\$(\d)/g, (_, i: string) => m[Number(i)] ?? "");
    if (v === "") delete out[r.target_label];
    else out[r.target_label] = v;
  }
  return Object.fromEntries(Object.entries(out).filter(([k]) => !k.startsWith("__meta_")));
}

/** The meta labels of one container port of a running proxy pod, as the pod role gives them. */
function podTarget(over: Record<string, string> = {}): Record<string, string> {
  const annotations = scrapeAnnotations({ http: 8080, metrics: 9090 });
  const meta = Object.fromEntries(
    Object.entries(annotations).map(([k, v]) => [
      `__meta_kubernetes_pod_annotation_${k.replace(/[^a-zA-Z0-9_]/g, "_")}`,
      v,
    ]),
  );
  return {
    __address__: "10.88.0.7:8080",
    __metrics_path__: "/metrics",
    __meta_kubernetes_namespace: "team-a",
    __meta_kubernetes_pod_name: "iris-7d9f-abcde",
    __meta_kubernetes_pod_node_name: "node-1",
    __meta_kubernetes_pod_ip: "10.88.0.7",
    __meta_kubernetes_pod_phase: "Running",
    __meta_kubernetes_pod_container_port_number: "8080",
    ...meta,
    ...over,
  };
}

describe("prometheusConfig", () => {
  it("keeps the fixture job for static targets alone, as existing callers use it", () => {
    const c = parse(
      prometheusConfig({ intervalMs: 1000, targets: ["127.0.0.1:9100"], ruleFiles: ["/r.yml"] }),
    );
    expect(c.global).toEqual({
      scrape_interval: "1000ms",
      scrape_timeout: "1000ms",
      evaluation_interval: "1000ms",
    });
    expect(c.rule_files).toEqual(["/r.yml"]);
    expect(c.scrape_configs).toEqual([
      { job_name: "fixture", honor_labels: true, static_configs: [{ targets: ["127.0.0.1:9100"] }] },
    ]);
  });

  it("adds a kubernetes-pods job that discovers pods through the API server with the client certificate", () => {
    const c = parse(
      prometheusConfig({ intervalMs: 500, kubernetesPods: { ...PODS, namespaces: ["team-a"] } }),
    );
    expect(c.rule_files).toEqual([]);
    expect(c.scrape_configs.map((j) => j.job_name)).toEqual(["kubernetes-pods"]);
    const job = c.scrape_configs[0] as Job;
    expect(job.honor_labels).toBe(true);
    expect(job.kubernetes_sd_configs).toEqual([
      {
        role: "pod",
        api_server: "https://127.0.0.1:6443",
        tls_config: { ca_file: "/pki/ca.crt", cert_file: "/pki/admin.crt", key_file: "/pki/admin.key" },
        namespaces: { names: ["team-a"] },
      },
    ]);
    // Without namespaces, every namespace; with both, both jobs.
    const both = parse(prometheusConfig({ intervalMs: 500, targets: [], kubernetesPods: PODS }));
    expect(both.scrape_configs.map((j) => j.job_name)).toEqual(["fixture", "kubernetes-pods"]);
    expect(both.scrape_configs[1]?.kubernetes_sd_configs?.[0]).not.toHaveProperty("namespaces");
  });

  it("scrapes a running annotated pod at the annotated port and path, labelled with pod and node", () => {
    const rules = parse(prometheusConfig({ intervalMs: 1000, kubernetesPods: PODS })).scrape_configs[0]
      ?.relabel_configs as Rule[];
    // Every declared port of the pod becomes the same target, which Prometheus deduplicates.
    for (const port of ["8080", "9090"]) {
      const target = podTarget({
        __address__: `10.88.0.7:${port}`,
        __meta_kubernetes_pod_container_port_number: port,
      });
      expect(relabel(rules, target)).toEqual({
        __address__: "10.88.0.7:9090",
        __metrics_path__: "/metrics",
        pod: "iris-7d9f-abcde",
        node: "node-1",
      });
    }
    // No namespace target label: the proxy's own label is the one queries use.
    expect(relabel(rules, podTarget())).not.toHaveProperty("namespace");
    expect(relabel(rules, podTarget({ __meta_kubernetes_pod_ip: "fd00::7" }))?.__address__).toBe(
      "[fd00::7]:9090",
    );
    expect(
      relabel(rules, podTarget({ __meta_kubernetes_pod_annotation_prometheus_io_path: "/m" }))
        ?.__metrics_path__,
    ).toBe("/m");
  });

  it("drops pods that are not running or do not ask to be scraped", () => {
    const rules = parse(prometheusConfig({ intervalMs: 1000, kubernetesPods: PODS })).scrape_configs[0]
      ?.relabel_configs as Rule[];
    for (const phase of ["Pending", "Succeeded", "Failed", "Unknown"]) {
      expect(relabel(rules, podTarget({ __meta_kubernetes_pod_phase: phase }))).toBeUndefined();
    }
    expect(
      relabel(rules, podTarget({ __meta_kubernetes_pod_annotation_prometheus_io_scrape: "false" })),
    ).toBeUndefined();
    const { __meta_kubernetes_pod_annotation_prometheus_io_scrape: _, ...unannotated } = podTarget();
    expect(relabel(rules, unannotated)).toBeUndefined();
  });
});
