// The modelops-proxy sidecar in an inference pod. The proxy takes the port
// named "http" (what every Service targets), so all traffic passes through
// it; the model server keeps its runtime port, renamed "model", reachable
// only on the pod's loopback by the proxy. The proxy's configuration travels
// in one environment variable (operator/api/proxy-config.ts).
//
// Scraping: the pod carries the conventional prometheus.io/scrape, /port and
// /path annotations for the metrics port (named "metrics"), which the common
// "kubernetes-pods" scrape job and the Prometheus operator's PodMonitor
// (port: metrics) both understand.
import type { V1Container } from "@kubernetes/client-node";
import pkg from "../../package.json" with { type: "json" };
import {
  canaryServiceName,
  MIRROR_PERCENT,
  type ModelDeployment,
  type ModelVersion,
  type ResourceRequirements,
  SERVICE_PORT,
} from "../api/index.ts";
import { CONFIG_ENV, type ProxyConfigInput } from "../api/proxy-config.ts";
import { routerKind } from "../rollout/routers/kind.ts";
import { canonicalResources } from "./quantity.ts";

export const PROXY_CONTAINER = "modelops-proxy";
/** The proxy's own image (operator/proxy/Dockerfile, built by hack/proxy-image.sh), versioned with the operator. */
export const DEFAULT_PROXY_IMAGE = `modelops-proxy:${pkg.version}`;
/** The proxy binary, the image's only program (FROM scratch). */
export const PROXY_COMMAND = ["/modelops-proxy"];
const PREFERRED_HTTP_PORT = 8000;
const PREFERRED_METRICS_PORT = 9090;

export interface ProxyPorts {
  http: number;
  metrics: number;
}

/** Ports of the proxy that never collide with the model server's (HTTP, and gRPC if it has one). */
export function proxyPorts(modelPort: number, grpcPort: number | undefined = undefined): ProxyPorts {
  const taken = new Set([modelPort, grpcPort]);
  const free = (preferred: number) => {
    let port = preferred;
    while (taken.has(port)) port++;
    return port;
  };
  return { http: free(PREFERRED_HTTP_PORT), metrics: free(PREFERRED_METRICS_PORT) };
}

export function proxyEnabled(mdep: ModelDeployment): boolean {
  return mdep.spec.proxy?.enabled ?? true;
}

/** The proxy's configuration as the operator writes it: ports always set, as the pod's ports name them. */
export type SidecarConfig = ProxyConfigInput & { listenPort: number; metricsPort: number };

/** What the proxy of one revision's pods must know. Inline reference only (configMapRef is not read here). */
export function proxyConfig(mdep: ModelDeployment, mv: ModelVersion, revision: string): SidecarConfig {
  const { port, grpcPort } = mv.spec.runtime;
  const ports = proxyPorts(port, grpcPort);
  const reference = mv.spec.reference;
  const entry = (r: NonNullable<NonNullable<typeof reference>["features"]>[number]) => ({
    name: r.name,
    type: r.type,
    ...(r.edges ? { edges: r.edges } : {}),
    ...(r.categories ? { categories: Object.keys(r.categories) } : {}),
  });
  return {
    namespace: mdep.metadata.namespace ?? "default",
    deployment: mdep.metadata.name,
    revision,
    version: mv.metadata.name,
    listenPort: ports.http,
    metricsPort: ports.metrics,
    upstream: `http://127.0.0.1:${port}`,
    ...(grpcPort ? { grpcUpstream: `http://127.0.0.1:${grpcPort}` } : {}),
    signature: { inputs: mv.spec.signature?.inputs ?? [], outputs: mv.spec.signature?.outputs ?? [] },
    reference: {
      features: (reference?.features ?? []).map(entry),
      predictions: (reference?.predictions ?? []).map(entry),
    },
    ...mirrorSettings(mdep),
  };
}

/**
 * On the replicas router there is no mesh to mirror: every revision's proxies
 * ask the `<mdep>-canary` Service, which exists only while a shadow rollout
 * mirrors (controllers/modeldeployment/services.ts), for the share to copy,
 * and a revision created under a shadow strategy answers with its
 * mirrorPercent. Nothing here depends on the rollout's progress, so starting,
 * ending or aborting a shadow never changes a pod template.
 */
function mirrorSettings(mdep: ModelDeployment): Pick<SidecarConfig, "shadow" | "mirrorPercent"> {
  if (routerKind(mdep) !== "replicas") return {};
  const host = `${canaryServiceName(mdep.metadata.name)}.${mdep.metadata.namespace ?? "default"}.svc`;
  const shadow = mdep.spec.strategy?.shadow;
  return {
    shadow: { url: `http://${host}:${SERVICE_PORT}` },
    ...(shadow ? { mirrorPercent: shadow.mirrorPercent ?? MIRROR_PERCENT } : {}),
  };
}

/** The sidecar's resources unless spec.proxy.resources replaces them: enough for its metrics and a drain. */
export const DEFAULT_PROXY_RESOURCES = {
  requests: { cpu: "50m", memory: "64Mi" },
  limits: { memory: "256Mi" },
};

/** The sidecar container; runs as non-root with a read-only root filesystem. */
export function proxyContainer(
  config: SidecarConfig,
  image: string,
  resources: ResourceRequirements | undefined = undefined,
): V1Container {
  return {
    name: PROXY_CONTAINER,
    image,
    command: PROXY_COMMAND,
    ports: [
      { name: "http", containerPort: config.listenPort, protocol: "TCP" },
      { name: "metrics", containerPort: config.metricsPort, protocol: "TCP" },
    ],
    env: [{ name: CONFIG_ENV, value: JSON.stringify(config) }],
    livenessProbe: { httpGet: { path: "/healthz", port: "metrics" }, periodSeconds: 10 },
    resources: resources ? canonicalResources(resources) : DEFAULT_PROXY_RESOURCES,
    securityContext: OPERATOR_IMAGE_SECURITY,
  };
}

/** How containers of the operator's image run in inference pods: its numeric user, nothing writable but volumes. */
export const OPERATOR_IMAGE_SECURITY = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  runAsUser: 65532,
};

export function scrapeAnnotations(ports: ProxyPorts): Record<string, string> {
  return {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": String(ports.metrics),
    "prometheus.io/path": "/metrics",
  };
}
