// The objects a ModelDeployment owns for one revision of its model: a
// Deployment per revision and the Service clients call. Pure: the reconciler
// applies what this returns.
import { createHash } from "node:crypto";
import type {
  V1Container,
  V1Deployment,
  V1ObjectMeta,
  V1OwnerReference,
  V1PodSpec,
  V1Service,
} from "@kubernetes/client-node";
import {
  API_VERSION,
  FIELD_MANAGER,
  LABEL_DEPLOYMENT,
  LABEL_REVISION,
  LABEL_VERSION,
  type ModelDeployment,
  type ModelVersion,
  type ResourceRequirements,
  revisionDeploymentName,
  SERVICE_PORT,
} from "../api/index.ts";
import { DEFAULT_DRAIN_MS } from "../api/proxy-config.ts";
import { MODEL_MOUNT_PATH, parseArtifactUri } from "./artifact.ts";
import { DEFAULT_FETCHER_IMAGE, fetcherContainer, MODEL_VOLUME, modelVolume } from "./fetcher-container.ts";
import { applyTemplate, hashedTemplate } from "./pod-template.ts";
import {
  DEFAULT_PROXY_IMAGE,
  proxyConfig,
  proxyContainer,
  proxyEnabled,
  proxyPorts,
  type SidecarConfig,
  scrapeAnnotations,
} from "./proxy-sidecar.ts";
import { canonicalResources } from "./quantity.ts";
import { wireRuntime } from "./runtime-container.ts";

/** Metadata of an object the operator builds: always named and owned. */
export type OwnedMeta = V1ObjectMeta & { name: string; ownerReferences: V1OwnerReference[] };

/**
 * An object the operator builds and owns: client-node's model type (types
 * only; the objects stay plain JSON) with what every builder sets made
 * required, so callers read its name and spec without casts.
 */
export type Owned<T extends { metadata?: V1ObjectMeta; spec?: object }> = T & {
  metadata: OwnedMeta;
  spec: NonNullable<T["spec"]>;
};

/**
 * A revision is everything that changes what the pods run: the version's
 * serving spec, the deployment's pod template and whether the sidecar runs.
 * Replicas are not part of it, so scaling never creates a revision. A
 * revision's Deployment is never re-rendered (the reconciler only scales it),
 * so what changes the pods must change the hash and roll out. The sidecar
 * counts only when turned off or given resources, so hashes made before it
 * counted stay valid. The template is hashed as given, except that fields
 * added later count only when set (hashedTemplate): unset or empty, the pods
 * are the same, so the hash is the one made before the field existed.
 */
export function revisionHash(mdep: ModelDeployment, mv: ModelVersion): string {
  const proxyResources = mdep.spec.proxy?.resources;
  const input = JSON.stringify({
    version: mv.metadata.name,
    artifact: mv.spec.artifact,
    runtime: mv.spec.runtime,
    template: hashedTemplate(mdep.spec.template),
    ...(proxyEnabled(mdep) ? {} : { proxy: false }),
    ...(proxyEnabled(mdep) && proxyResources ? { proxyResources } : {}),
  });
  return createHash("sha256").update(input).digest("hex").slice(0, 10);
}

export function ownerReference(mdep: ModelDeployment): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: "ModelDeployment",
    name: mdep.metadata.name,
    // The apiserver sets it on every object the operator reads; a hand-built one may lack it.
    uid: mdep.metadata.uid as string,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function revisionLabels(
  mdep: ModelDeployment,
  mv: ModelVersion,
  revision: string,
): Record<string, string> {
  return {
    "app.kubernetes.io/name": mv.spec.modelName,
    "app.kubernetes.io/instance": mdep.metadata.name,
    "app.kubernetes.io/version": mv.spec.version,
    "app.kubernetes.io/component": "inference",
    "app.kubernetes.io/managed-by": FIELD_MANAGER,
    [LABEL_DEPLOYMENT]: mdep.metadata.name,
    [LABEL_REVISION]: revision,
    [LABEL_VERSION]: mv.metadata.name,
  };
}

export interface WorkloadOptions {
  /** The modelops-proxy sidecar's image. */
  proxyImage?: string | undefined;
  /** The artifact fetcher's image: the operator's own. */
  fetcherImage?: string | undefined;
  /** The operator's --mlflow-tracking-uri. */
  mlflowTrackingUri?: string | undefined;
}

export function desiredDeployment(
  mdep: ModelDeployment,
  mv: ModelVersion,
  revision: string,
  replicas: number,
  options: WorkloadOptions = {},
): Owned<V1Deployment> {
  const labels = revisionLabels(mdep, mv, revision);
  const template = mdep.spec.template ?? {};
  const withProxy = proxyEnabled(mdep);
  const annotations = {
    ...(template.annotations ?? {}),
    ...(withProxy ? scrapeAnnotations(proxyPorts(mv.spec.runtime.port, mv.spec.runtime.grpcPort)) : {}),
  };
  const { spec, model } = podSpec(mdep, mv, options);
  if (withProxy) {
    const config = proxyConfig(mdep, mv, revision);
    injectProxy(spec, model, config, mv.spec.runtime.port, options.proxyImage, mdep.spec.proxy?.resources);
  }
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: revisionDeploymentName(mdep.metadata.name, revision),
      namespace: mdep.metadata.namespace,
      labels,
      ownerReferences: [ownerReference(mdep)],
    },
    spec: {
      replicas,
      selector: { matchLabels: { [LABEL_DEPLOYMENT]: mdep.metadata.name, [LABEL_REVISION]: revision } },
      template: {
        metadata: {
          labels: { ...(template.labels ?? {}), ...labels },
          ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
        },
        spec,
      },
    },
  };
}

/**
 * How long a terminating pod's model server keeps serving before it gets
 * SIGTERM. The pod leaves the Service's endpoints at the same moment it is
 * told to stop, and kube-proxies apply that a little later: requests still
 * arrive meanwhile. With the sidecar, the model must also outlive the
 * proxy's drain, which forwards those requests to it.
 */
export function modelStopDelaySeconds(withProxy: boolean): number {
  const endpointPropagationSeconds = 5;
  return withProxy ? Math.ceil(DEFAULT_DRAIN_MS / 1000) + 3 : endpointPropagationSeconds;
}

/** The pod of a revision, and its model server container (the first). */
function podSpec(
  mdep: ModelDeployment,
  mv: ModelVersion,
  options: WorkloadOptions,
): { spec: V1PodSpec; model: V1Container } {
  const parsed = parseArtifactUri(mv.spec.artifact.uri);
  if ("error" in parsed) throw new Error(parsed.error); // ModelVersion validation rejects this first
  const runtime = mv.spec.runtime;
  const wiring = wireRuntime(
    runtime,
    { name: mv.spec.modelName, format: mv.spec.artifact.format, uri: mv.spec.artifact.uri },
    parsed,
  );
  const template = mdep.spec.template ?? {};
  const env = [...wiring.env, ...(template.env ?? [])];
  const resources = template.resources ?? runtime.resources;
  const container: V1Container = {
    name: "model",
    image: runtime.image,
    ports: [
      { name: "http", containerPort: runtime.port, protocol: "TCP" },
      ...(runtime.grpcPort ? [{ name: "grpc", containerPort: runtime.grpcPort, protocol: "TCP" }] : []),
    ],
    env,
    readinessProbe: { httpGet: { path: wiring.readinessPath, port: "http" }, periodSeconds: 5 },
    lifecycle: { preStop: { sleep: { seconds: modelStopDelaySeconds(proxyEnabled(mdep)) } } },
  };
  if (wiring.args.length > 0) container.args = wiring.args;
  if (resources && Object.keys(resources).length > 0) container.resources = canonicalResources(resources);
  const spec: V1PodSpec = { containers: [container] };
  if (parsed.kind === "pvc") {
    container.volumeMounts = [
      {
        name: MODEL_VOLUME,
        mountPath: MODEL_MOUNT_PATH,
        readOnly: true,
        ...(parsed.subPath ? { subPath: parsed.subPath } : {}),
      },
    ];
    spec.volumes = [
      { name: MODEL_VOLUME, persistentVolumeClaim: { claimName: parsed.claimName, readOnly: true } },
    ];
  }
  if (parsed.kind === "fetched") {
    const image = options.fetcherImage ?? DEFAULT_FETCHER_IMAGE;
    spec.initContainers = [fetcherContainer(mv, { image, mlflowTrackingUri: options.mlflowTrackingUri })];
    container.volumeMounts = [{ name: MODEL_VOLUME, mountPath: MODEL_MOUNT_PATH, readOnly: true }];
    spec.volumes = [modelVolume()];
  }
  applyTemplate(spec, container, template);
  return { spec, model: container };
}

/**
 * Puts the proxy in front of the model server: the proxy takes the "http"
 * port name that Services target, the model's port becomes "model", and the
 * model's readiness is probed through the proxy, so a pod is ready only when
 * the whole path a client uses answers.
 */
function injectProxy(
  spec: V1PodSpec,
  model: V1Container,
  config: SidecarConfig,
  modelPort: number,
  image = DEFAULT_PROXY_IMAGE,
  resources: ResourceRequirements | undefined = undefined,
): void {
  // The proxy serves HTTP and gRPC on its "http" port; the model's ports are reached on loopback only.
  model.ports = [
    { name: "model", containerPort: modelPort, protocol: "TCP" },
    ...(model.ports ?? []).filter((p) => p.name === "grpc").map((p) => ({ ...p, name: "model-grpc" })),
  ];
  model.readinessProbe = {
    ...model.readinessProbe,
    httpGet: { ...model.readinessProbe?.httpGet, port: config.listenPort },
  };
  spec.containers.push(proxyContainer(config, image, resources));
}

/**
 * A Service of the ModelDeployment: `<mdep>` is what clients call; others
 * are `<mdep>-preview`, `<mdep>-stable` and `<mdep>-canary`. It selects one
 * revision, or every revision of the ModelDeployment when `revision` is
 * undefined (the replicas router during a canary).
 */
export function desiredService(
  mdep: ModelDeployment,
  name: string,
  revision: string | undefined,
): Owned<V1Service> {
  const selector: Record<string, string> = { [LABEL_DEPLOYMENT]: mdep.metadata.name };
  if (revision) selector[LABEL_REVISION] = revision;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name,
      namespace: mdep.metadata.namespace,
      labels: {
        "app.kubernetes.io/instance": mdep.metadata.name,
        "app.kubernetes.io/managed-by": FIELD_MANAGER,
        [LABEL_DEPLOYMENT]: mdep.metadata.name,
      },
      ownerReferences: [ownerReference(mdep)],
    },
    spec: {
      selector,
      ports: [{ name: "http", port: SERVICE_PORT, targetPort: "http", protocol: "TCP" }],
    },
  };
}
