// The test world without the operator: revision-like Deployments whose pods
// live the KWOK life their image chooses (hack/localcluster/pod-life.ts), a
// Prometheus scraping a fixture exporter, and client traffic derived from the
// cluster (hack/localcluster/cluster-traffic.ts). Also what tests read back:
// pods, ready endpoints, per-revision request rates.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClusterTraffic } from "../../hack/localcluster/cluster-traffic.ts";
import { FixtureExporter } from "../../hack/localcluster/exporter.ts";
import {
  queryPrometheus,
  type RunningPrometheus,
  startPrometheus,
} from "../../hack/localcluster/prometheus.ts";
import { LABEL_DEPLOYMENT, LABEL_REVISION, LABEL_VERSION } from "../../operator/api/contract.ts";
import { REQUESTS_TOTAL } from "../../operator/api/metric-names.ts";
import type { KubeClient } from "../../operator/runtime/kube.ts";
import { adminClient } from "./client.ts";

export interface PodStatus {
  metadata: { name: string; labels?: Record<string, string> };
  status: {
    phase?: string;
    startTime?: string;
    conditions?: Array<{ type: string; status: string; lastTransitionTime?: string }>;
    containerStatuses?: Array<{
      name: string;
      image: string;
      ready: boolean;
      started?: boolean;
      restartCount: number;
      state?: { running?: object; waiting?: { reason?: string }; terminated?: object };
      lastState?: { terminated?: { exitCode?: number; reason?: string } };
    }>;
  };
}

export function isPodReady(pod: PodStatus): boolean {
  return pod.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** When the pod's Ready condition last changed, in ms since the epoch (second resolution). */
export function readySinceMs(pod: PodStatus): number | undefined {
  const t = pod.status.conditions?.find((c) => c.type === "Ready")?.lastTransitionTime;
  return t ? Date.parse(t) : undefined;
}

export async function listPods(
  kube: KubeClient,
  namespace: string,
  labelSelector: string,
): Promise<PodStatus[]> {
  const { items } = await kube.list({ apiVersion: "v1", kind: "Pod", namespace }, { labelSelector });
  return items as unknown as PodStatus[];
}

/** The pods a Service's EndpointSlices list as ready, by name: whom kube-proxy would send requests to. */
export async function readyEndpointPods(
  kube: KubeClient,
  namespace: string,
  service: string,
): Promise<string[]> {
  const ref = { apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice", namespace };
  const { items } = await kube.list(ref, { labelSelector: `kubernetes.io/service-name=${service}` });
  type Slice = { endpoints?: Array<{ conditions?: { ready?: boolean }; targetRef?: { name?: string } }> };
  return (items as unknown as Slice[])
    .flatMap((s) => s.endpoints ?? [])
    .filter((e) => e.conditions?.ready !== false && e.targetRef?.name)
    .map((e) => e.targetRef?.name as string)
    .sort();
}

/**
 * A Deployment shaped like one revision of a ModelDeployment (the operator's
 * labels), for tests that build the world by hand.
 */
export function revisionDeployment(opts: {
  mdep: string;
  revision: string;
  version: string;
  image: string;
  replicas: number;
  /** Extra pod labels, e.g. to be selected (or not) by a hand-made Service. */
  labels?: Record<string, string>;
}): string {
  const labels = {
    [LABEL_DEPLOYMENT]: opts.mdep,
    [LABEL_REVISION]: opts.revision,
    [LABEL_VERSION]: opts.version,
    ...opts.labels,
  };
  return JSON.stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: `${opts.mdep}-${opts.revision}`, labels },
    spec: {
      replicas: opts.replicas,
      selector: { matchLabels: { [LABEL_DEPLOYMENT]: opts.mdep, [LABEL_REVISION]: opts.revision } },
      template: {
        metadata: { labels },
        spec: {
          containers: [{ name: "model", image: opts.image, ports: [{ name: "http", containerPort: 8080 }] }],
        },
      },
    },
  });
}

/** A Service on port 80 → "http", like the ones a ModelDeployment owns. */
export function serviceManifest(name: string, selector: Record<string, string>): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name },
    spec: { selector, ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }] },
  });
}

/**
 * Requests per second per revision of one ModelDeployment, as analysis would
 * measure them (rate over `window`); `code` narrows to "2xx" or "5xx".
 */
export async function revisionRates(
  promUrl: string,
  namespace: string,
  mdep: string,
  opts: { window?: string; code?: string } = {},
): Promise<Record<string, number>> {
  const code = opts.code ? `,code="${opts.code}"` : "";
  const selector = `{namespace="${namespace}",deployment="${mdep}"${code}}`;
  const samples = await queryPrometheus(
    promUrl,
    `sum by (revision) (rate(${REQUESTS_TOTAL}${selector}[${opts.window ?? "5s"}]))`,
  );
  return Object.fromEntries(samples.map((s) => [s.metric.revision ?? "", s.value]));
}

/**
 * When Prometheus first scraped each revision's request series, in ms since
 * the epoch (within the last 10 minutes): `timestamp()` at 1 s steps yields
 * each step's latest sample time, so the minimum is the first sample's.
 */
export async function firstSampleMs(
  promUrl: string,
  namespace: string,
  mdep: string,
): Promise<Record<string, number>> {
  const selector = `{namespace="${namespace}",deployment="${mdep}"}`;
  const samples = await queryPrometheus(
    promUrl,
    `min by (revision) (min_over_time(timestamp(${REQUESTS_TOTAL}${selector})[10m:1s]))`,
  );
  return Object.fromEntries(samples.map((s) => [s.metric.revision ?? "", s.value * 1000]));
}

/** The revisions of a ModelDeployment that have any request series in Prometheus at all. */
export async function revisionsWithSeries(
  promUrl: string,
  namespace: string,
  mdep: string,
): Promise<string[]> {
  const selector = `{namespace="${namespace}",deployment="${mdep}"}`;
  const samples = await queryPrometheus(
    promUrl,
    `count by (revision) (last_over_time(${REQUESTS_TOTAL}${selector}[10m]))`,
  );
  return samples.map((s) => s.metric.revision ?? "").sort();
}

export interface TrafficWorld {
  exporter: FixtureExporter;
  prom: RunningPrometheus;
  traffic: ClusterTraffic;
  kube: KubeClient;
  stop(): Promise<void>;
}

/** Prometheus, exporter and cluster-derived traffic; `adminKubeconfig` reads the cluster. */
export async function startTrafficWorld(opts: {
  binDir: string;
  adminKubeconfig: string;
}): Promise<TrafficWorld> {
  const dir = mkdtempSync(join(tmpdir(), "modelops-world-"));
  const exporter = await FixtureExporter.start();
  const prom = await startPrometheus({ dir, binDir: opts.binDir, targets: [exporter.target] });
  const kube = adminClient(opts.adminKubeconfig);
  const traffic = new ClusterTraffic(exporter, kube);
  return {
    exporter,
    prom,
    traffic,
    kube,
    stop: async () => {
      await traffic.close();
      await prom.stop();
      await exporter.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
