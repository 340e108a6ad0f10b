// spec.template's pod fields and spec.proxy.resources on a revision's
// Deployment, and in its revision hash. (workload.test.ts covers the rest of
// the workload; tolerations, nodeSelector and env are pinned there.)
import type { V1Container, V1PodSpec } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import type { ModelDeployment, PodTemplateOverrides } from "../api/index.ts";
import { modelDeployment, modelVersion } from "../testing/fixtures.ts";
import { desiredDeployment, revisionHash } from "./workload.ts";

const mv = modelVersion("iris-v1");
const s3Version = modelVersion("iris-v1", {
  artifact: { uri: "s3://models/iris/v2", format: "sklearn", secretRef: { name: "iris-s3" } },
} as never);

function withTemplate(
  template: PodTemplateOverrides,
  proxy?: ModelDeployment["spec"]["proxy"],
): ModelDeployment {
  const mdep = modelDeployment("iris-v1");
  mdep.spec.template = template;
  if (proxy) mdep.spec.proxy = proxy;
  return mdep;
}

function podOf(mdep: ModelDeployment, version = mv): { spec: V1PodSpec; model: V1Container } {
  const spec = desiredDeployment(mdep, version, "rev1", 1).spec.template?.spec as V1PodSpec;
  return { spec, model: spec.containers.find((c) => c.name === "model") as V1Container };
}

const zoneSpread = {
  maxSkew: 1,
  topologyKey: "topology.kubernetes.io/zone",
  whenUnsatisfiable: "ScheduleAnyway" as const,
  matchLabelKeys: ["modelops.io/revision"],
};
const gpuAffinity = {
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [
        { matchExpressions: [{ key: "nvidia.com/gpu.product", operator: "In" as const, values: ["A100"] }] },
      ],
    },
  },
};
const cacheVolume = { name: "cache", emptyDir: { medium: "Memory" as const, sizeLimit: "1024Mi" } };
const tlsVolume = { name: "tls", secret: { secretName: "iris-tls" } };
const cacheMount = { name: "cache", mountPath: "/cache" };

/** One value per template field this file covers: each must reach the pod and change the revision. */
const FIELDS: Record<string, PodTemplateOverrides> = {
  affinity: { affinity: gpuAffinity },
  topologySpreadConstraints: { topologySpreadConstraints: [zoneSpread] },
  serviceAccountName: { serviceAccountName: "iris-runner" },
  imagePullSecrets: { imagePullSecrets: [{ name: "registry-creds" }] },
  volumes: { volumes: [tlsVolume] },
  volumeMounts: { volumes: [cacheVolume], volumeMounts: [cacheMount] },
  priorityClassName: { priorityClassName: "inference-critical" },
  securityContext: { securityContext: { runAsUser: 1000, fsGroup: 2000 } },
  containerSecurityContext: { containerSecurityContext: { readOnlyRootFilesystem: true } },
  resources: { resources: { limits: { "nvidia.com/gpu": 1 } } },
};

describe("spec.template on the pod", () => {
  it("puts scheduling and identity fields on the pod spec as given", () => {
    const { spec } = podOf(
      withTemplate({
        affinity: gpuAffinity,
        topologySpreadConstraints: [zoneSpread],
        serviceAccountName: "iris-runner",
        imagePullSecrets: [{ name: "registry-creds" }],
        priorityClassName: "inference-critical",
      }),
    );
    expect(spec.affinity).toEqual(gpuAffinity);
    expect(spec.topologySpreadConstraints).toEqual([zoneSpread]);
    expect(spec.serviceAccountName).toBe("iris-runner");
    expect(spec.imagePullSecrets).toEqual([{ name: "registry-creds" }]);
    expect(spec.priorityClassName).toBe("inference-critical");
  });

  it("adds volumes beside the model volume and mounts them into the model server only", () => {
    const template = { volumes: [cacheVolume, tlsVolume], volumeMounts: [cacheMount] };
    const { spec, model } = podOf(withTemplate(template), s3Version);
    expect(spec.volumes).toEqual([
      { name: "model", emptyDir: {} },
      { name: "cache", emptyDir: { medium: "Memory", sizeLimit: "1Gi" } }, // canonical, as the apiserver stores it
      tlsVolume,
    ]);
    expect(model.volumeMounts).toEqual([
      { name: "model", mountPath: "/mnt/models", readOnly: true },
      cacheMount,
    ]);
    const others = [...spec.containers, ...(spec.initContainers ?? [])].filter((c) => c.name !== "model");
    expect(others.map((c) => c.name).sort()).toEqual(["fetch-model", "modelops-proxy"]);
    for (const c of others) expect(c.volumeMounts?.map((m) => m.name) ?? []).not.toContain("cache");
  });

  it("mounts a template volume on a pod that has no model volume (a file artifact)", () => {
    const fileVersion = modelVersion("iris-v1", {
      artifact: { uri: "file:///models/resnet", format: "onnx" },
      runtime: { name: "triton", image: "tritonserver", protocol: "v2", port: 8000 },
    } as never);
    const { spec, model } = podOf(
      withTemplate({ volumes: [cacheVolume], volumeMounts: [cacheMount] }),
      fileVersion,
    );
    expect(spec.volumes?.map((v) => v.name)).toEqual(["cache"]);
    expect(model.volumeMounts).toEqual([cacheMount]);
  });

  it("merges the security contexts over the operator's: its defaults stay unless overridden", () => {
    const defaults = podOf(modelDeployment("iris-v1"));
    expect(defaults.spec.securityContext).toEqual({ seccompProfile: { type: "RuntimeDefault" } });
    expect(defaults.model.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    const { spec, model } = podOf(
      withTemplate({
        securityContext: { runAsUser: 1000, runAsNonRoot: true, fsGroup: 2000 },
        containerSecurityContext: { readOnlyRootFilesystem: true, capabilities: { add: ["SYS_NICE"] } },
      }),
    );
    expect(spec.securityContext).toEqual({
      seccompProfile: { type: "RuntimeDefault" },
      runAsUser: 1000,
      runAsNonRoot: true,
      fsGroup: 2000,
    });
    expect(model.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { add: ["SYS_NICE"], drop: ["ALL"] },
    });
    const proxy = spec.containers.find((c) => c.name === "modelops-proxy");
    expect(proxy?.securityContext).toMatchObject({ runAsUser: 65532, readOnlyRootFilesystem: true });
  });

  it("gives the model server extended resources such as nvidia.com/gpu", () => {
    const { model } = podOf(
      withTemplate({
        resources: { requests: { cpu: "0.5" }, limits: { "nvidia.com/gpu": 1, memory: "8Gi" } },
      }),
    );
    expect(model.resources).toEqual({
      requests: { cpu: "500m" },
      limits: { "nvidia.com/gpu": "1", memory: "8Gi" },
    });
  });

  it("sets none of the new pod fields when the template has none", () => {
    const { spec, model } = podOf(modelDeployment("iris-v1"));
    for (const field of ["affinity", "topologySpreadConstraints", "serviceAccountName", "imagePullSecrets"])
      expect(spec).not.toHaveProperty(field);
    expect(spec).not.toHaveProperty("priorityClassName");
    expect(spec.volumes?.map((v) => v.name)).toEqual(["model"]);
    expect(model.volumeMounts?.map((m) => m.name)).toEqual(["model"]);
  });
});

describe("spec.proxy.resources", () => {
  it("replaces the sidecar's default resources and leaves the model server's alone", () => {
    const sidecarOf = (mdep: ModelDeployment) =>
      podOf(mdep).spec.containers.find((c) => c.name === "modelops-proxy");
    expect(sidecarOf(modelDeployment("iris-v1"))?.resources).toEqual({
      requests: { cpu: "50m", memory: "64Mi" },
      limits: { memory: "256Mi" },
    });
    const mdep = withTemplate(
      {},
      { enabled: true, resources: { requests: { cpu: "0.2", memory: "128Mi" }, limits: { cpu: 1 } } },
    );
    expect(sidecarOf(mdep)?.resources).toEqual({
      requests: { cpu: "200m", memory: "128Mi" },
      limits: { cpu: "1" },
    });
    expect(podOf(mdep).model.resources).toEqual(podOf(modelDeployment("iris-v1")).model.resources);
  });
});

describe("revision hash of the template's pod fields", () => {
  const base = revisionHash(modelDeployment("iris-v1"), mv);

  it.each(Object.entries(FIELDS))(
    "%s set makes a new revision, and a changed value another",
    (field, template) => {
      const set = revisionHash(withTemplate(template), mv);
      expect(set).not.toBe(base);
      const changed = structuredClone(template);
      mutate(changed, field);
      expect(revisionHash(withTemplate(changed), mv)).not.toBe(set);
    },
  );

  it("spec.proxy.resources set makes a new revision, and a changed value another", () => {
    const small = revisionHash(
      withTemplate({}, { enabled: true, resources: { limits: { memory: "256Mi" } } }),
      mv,
    );
    const large = revisionHash(
      withTemplate({}, { enabled: true, resources: { limits: { memory: "512Mi" } } }),
      mv,
    );
    expect(new Set([base, small, large]).size).toBe(3);
  });

  it("keeps the hash of a template without them, so upgrading the operator rolls nothing out", () => {
    // Pinned in workload.test.ts too: the hashes made before these fields existed.
    expect(base).toBe("5467cc8d83");
    const empty = {
      topologySpreadConstraints: [],
      imagePullSecrets: [],
      volumes: [],
      volumeMounts: [],
      affinity: {},
      securityContext: {},
      containerSecurityContext: {},
    };
    expect(revisionHash(withTemplate(empty), mv)).toBe(base);
    expect(revisionHash(withTemplate({}, { enabled: true }), mv)).toBe(base);
  });
});

/** Changes one value of `field` in a FIELDS entry. */
function mutate(template: PodTemplateOverrides, field: string): void {
  const t = template as Record<string, unknown> & PodTemplateOverrides;
  switch (field) {
    case "affinity":
      t.affinity = { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } };
      return;
    case "topologySpreadConstraints":
      t.topologySpreadConstraints = [{ ...zoneSpread, maxSkew: 2 }];
      return;
    case "serviceAccountName":
    case "priorityClassName":
      t[field] = "other";
      return;
    case "imagePullSecrets":
      t.imagePullSecrets = [{ name: "other" }];
      return;
    case "volumes":
      t.volumes = [{ name: "tls", secret: { secretName: "other" } }];
      return;
    case "volumeMounts":
      t.volumeMounts = [{ ...cacheMount, readOnly: true }];
      return;
    case "securityContext":
      t.securityContext = { runAsUser: 1001 };
      return;
    case "containerSecurityContext":
      t.containerSecurityContext = { readOnlyRootFilesystem: false };
      return;
    case "resources":
      t.resources = { limits: { "nvidia.com/gpu": 2 } };
      return;
    default:
      throw new Error(`no mutation for ${field}`);
  }
}
