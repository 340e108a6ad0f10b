// The objects a ModelDeployment owns for one revision of its model: a
// Deployment per revision and the Service clients call. Pure: the reconciler
// applies what this returns.
import { createHash } from "node:crypto";
import {
  API_VERSION,
  FIELD_MANAGER,
  LABEL_DEPLOYMENT,
  LABEL_REVISION,
  LABEL_VERSION,
  type ModelDeployment,
  type ModelVersion,
  revisionDeploymentName,
  SERVICE_PORT,
} from "../api/index.ts";
import type { ProxyConfigInput } from "../proxy/config.ts";
import { MODEL_MOUNT_PATH, parseArtifactUri } from "./artifact.ts";
import {
  DEFAULT_PROXY_IMAGE,
  type ProxyShadow,
  proxyConfig,
  proxyContainer,
  proxyEnabled,
  proxyPorts,
  scrapeAnnotations,
} from "./proxy-sidecar.ts";
import { canonicalResources } from "./quantity.ts";
import { wireRuntime } from "./runtime-container.ts";

type Obj = Record<string, unknown>;

/**
 * A revision is everything that changes what the pods run: the version's
 * serving spec and the deployment's pod template. Replicas are not part of it,
 * so scaling never creates a revision.
 */
export function revisionHash(mdep: ModelDeployment, mv: ModelVersion): string {
  const input = JSON.stringify({
    version: mv.metadata.name,
    artifact: mv.spec.artifact,
    runtime: mv.spec.runtime,
    template: mdep.spec.template ?? {},
  });
  return createHash("sha256").update(input).digest("hex").slice(0, 10);
}

export function ownerReference(mdep: ModelDeployment): Obj {
  return {
    apiVersion: API_VERSION,
    kind: "ModelDeployment",
    name: mdep.metadata.name,
    uid: mdep.metadata.uid,
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
  /** Image of the modelops-proxy sidecar (the operator's own). */
  proxyImage?: string;
  /** Where this revision's proxies mirror a share of requests (shadow on the replicas router). */
  shadow?: ProxyShadow;
}

export function desiredDeployment(
  mdep: ModelDeployment,
  mv: ModelVersion,
  revision: string,
  replicas: number,
  options: WorkloadOptions = {},
): Obj {
  const labels = revisionLabels(mdep, mv, revision);
  const template = mdep.spec.template ?? {};
  const withProxy = proxyEnabled(mdep);
  const annotations = {
    ...(template.annotations ?? {}),
    ...(withProxy ? scrapeAnnotations(proxyPorts(mv.spec.runtime.port)) : {}),
  };
  const spec = podSpec(mdep, mv);
  if (withProxy) {
    const config = proxyConfig(mdep, mv, revision, options.shadow);
    injectProxy(spec, config, mv.spec.runtime.port, options.proxyImage);
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

function podSpec(mdep: ModelDeployment, mv: ModelVersion): Obj {
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
  const container: Obj = {
    name: "model",
    image: runtime.image,
    ports: [{ name: "http", containerPort: runtime.port, protocol: "TCP" }],
    env,
    readinessProbe: { httpGet: { path: wiring.readinessPath, port: "http" }, periodSeconds: 5 },
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
  };
  if (wiring.args.length > 0) container.args = wiring.args;
  if (resources && Object.keys(resources).length > 0) container.resources = canonicalResources(resources);
  const spec: Obj = {
    containers: [container],
    securityContext: { seccompProfile: { type: "RuntimeDefault" } },
  };
  if (template.nodeSelector) spec.nodeSelector = template.nodeSelector;
  if (parsed.kind === "pvc") {
    container.volumeMounts = [
      {
        name: "model",
        mountPath: MODEL_MOUNT_PATH,
        readOnly: true,
        ...(parsed.subPath ? { subPath: parsed.subPath } : {}),
      },
    ];
    spec.volumes = [
      { name: "model", persistentVolumeClaim: { claimName: parsed.claimName, readOnly: true } },
    ];
  }
  return spec;
}

/**
 * Puts the proxy in front of the model server: the proxy takes the "http"
 * port name that Services target, the model's port becomes "model", and the
 * model's readiness is probed through the proxy, so a pod is ready only when
 * the whole path a client uses answers.
 */
function injectProxy(
  spec: Obj,
  config: ProxyConfigInput,
  modelPort: number,
  image = DEFAULT_PROXY_IMAGE,
): void {
  const containers = spec.containers as Obj[];
  const model = containers[0] as Obj & { readinessProbe: { httpGet: Obj } };
  model.ports = [{ name: "model", containerPort: modelPort, protocol: "TCP" }];
  model.readinessProbe = {
    ...model.readinessProbe,
    httpGet: { ...model.readinessProbe.httpGet, port: config.listenPort },
  };
  containers.push(proxyContainer(config, image));
}

/**
 * A Service of the ModelDeployment: `<mdep>` is what clients call; others
 * are `<mdep>-preview`, `<mdep>-stable` and `<mdep>-canary`. It selects one
 * revision, or every revision of the ModelDeployment when `revision` is
 * undefined (the replicas router during a canary).
 */
export function desiredService(mdep: ModelDeployment, name: string, revision: string | undefined): Obj {
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
