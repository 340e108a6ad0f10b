// spec.template's pod fields: what zod refuses (the CEL rules' mirror) and
// the CRD rules themselves. The apiserver runs the CEL rules in
// e2e/validation.test.ts (fixtures e2e/fixtures/invalid/mdep-*volume*, *mount*).
import { describe, expect, it } from "vitest";
import { buildCrd } from "./crd.ts";
import { modelDeploymentDefinition, modelDeploymentSchema } from "./index.ts";

function parse(template: Record<string, unknown>, proxy?: Record<string, unknown>) {
  return modelDeploymentSchema.safeParse({
    apiVersion: "modelops.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: "iris" },
    spec: { modelVersion: "v1", template, ...(proxy ? { proxy } : {}) },
  });
}
const messages = (template: Record<string, unknown>) =>
  (parse(template).error?.issues ?? []).map((i) => `${i.path.join(".")}: ${i.message}`);

const gpuTemplate = {
  resources: { requests: { cpu: "4", "nvidia.com/gpu": 1 }, limits: { "nvidia.com/gpu": 1, memory: "16Gi" } },
  nodeSelector: { "nvidia.com/gpu.present": "true" },
  tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
  affinity: {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [
          { matchExpressions: [{ key: "nvidia.com/gpu.product", operator: "In", values: ["A100"] }] },
        ],
      },
    },
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 50,
          podAffinityTerm: {
            labelSelector: { matchLabels: { "modelops.io/deployment": "iris" } },
            topologyKey: "kubernetes.io/hostname",
          },
        },
      ],
    },
  },
  topologySpreadConstraints: [
    { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway" },
  ],
  serviceAccountName: "iris-runner",
  imagePullSecrets: [{ name: "registry-creds" }],
  priorityClassName: "inference-critical",
  volumes: [
    { name: "cache", emptyDir: { medium: "Memory", sizeLimit: "2Gi" } },
    { name: "tls", secret: { secretName: "iris-tls", defaultMode: 0o400 } },
    {
      name: "bundle",
      projected: { sources: [{ configMap: { name: "ca" } }, { secret: { name: "iris-tls" } }] },
    },
  ],
  volumeMounts: [
    { name: "cache", mountPath: "/cache" },
    { name: "tls", mountPath: "/etc/tls", readOnly: true },
    { name: "bundle", mountPath: "/mnt/models-extra" }, // beside the model dir, not in it
  ],
  securityContext: {
    runAsUser: 1000,
    runAsNonRoot: true,
    fsGroup: 2000,
    seccompProfile: { type: "RuntimeDefault" },
  },
  containerSecurityContext: { readOnlyRootFilesystem: true, capabilities: { add: ["SYS_NICE"] } },
};

describe("spec.template pod fields", () => {
  it("accepts a GPU template with every field, as in a Pod", () => {
    expect(parse(gpuTemplate).error?.issues ?? []).toEqual([]);
    expect(parse({}, { resources: { requests: { cpu: "100m" }, limits: { memory: "512Mi" } } }).success).toBe(
      true,
    );
  });

  it("refuses the operator's volume name, for a volume and for a mount, saying how to fix it", () => {
    expect(messages({ volumes: [{ name: "model", emptyDir: {} }] })).toEqual([
      `spec.template.volumes.0.name: volume name "model" is the operator's (the model artifact's volume): rename your volume`,
    ]);
    expect(
      messages({
        volumes: [{ name: "data", emptyDir: {} }],
        volumeMounts: [{ name: "model", mountPath: "/data" }],
      }),
    ).toContain(
      `spec.template.volumeMounts.0.name: volumeMount name "model" is the operator's (the model artifact's ` +
        "volume): mount a volume of template.volumes, under another name",
    );
  });

  it.each(["/mnt/models", "/mnt/models/", "/mnt/models/extra", "//mnt//models"])(
    "refuses mountPath %s",
    (path) => {
      expect(
        messages({
          volumes: [{ name: "data", emptyDir: {} }],
          volumeMounts: [{ name: "data", mountPath: path }],
        }),
      ).toEqual([
        "spec.template.volumeMounts.0.mountPath: mountPath /mnt/models (and below) is where the operator mounts " +
          "the model artifact: mount your volume elsewhere",
      ]);
    },
  );

  it("refuses a mount of a volume the template does not declare", () => {
    expect(messages({ volumeMounts: [{ name: "data", mountPath: "/data" }] })).toEqual([
      "spec.template.volumeMounts: every volumeMount must name a volume of template.volumes: add the volume, or " +
        "correct the mount's name",
    ]);
  });

  it("refuses an extended resource requested without a limit, as the apiserver refuses such a Pod", () => {
    expect(messages({ resources: { requests: { "nvidia.com/gpu": 1 } } })).toEqual([
      "spec.template.resources.requests: an extended resource (a device's, e.g. nvidia.com/gpu) in requests " +
        "must also be in limits, with the same value (Kubernetes does not overcommit devices): set limits, e.g. " +
        "{nvidia.com/gpu: 1}; requests then default to limits",
    ]);
    expect(
      parse({ resources: { requests: { "nvidia.com/gpu": 1 }, limits: { "nvidia.com/gpu": 1 } } }).success,
    ).toBe(true);
    // Native resources may be requested alone, kubernetes.io-prefixed ones included.
    expect(parse({ resources: { requests: { cpu: 1, "kubernetes.io/batch-cpu": 1 } } }).success).toBe(true);
    expect(parse({}, { resources: { requests: { "example.com/dongle": 1 } } }).success).toBe(false);
  });

  it("refuses more than 8 Secrets across secret volumes and projected sources", () => {
    const volumes = (n: number) => [
      ...Array.from({ length: n }, (_, i) => ({ name: `v${i}`, secret: { secretName: `s${i}` } })),
      {
        name: "bundle",
        projected: { sources: [{ configMap: { name: "ca" } }, { secret: { name: "last" } }] },
      },
    ];
    expect(parse({ volumes: volumes(7) }).success).toBe(true);
    expect(messages({ volumes: volumes(8) })).toEqual([
      "spec.template.volumes: the volumes name more than 8 Secrets (secret volumes and projected secret sources " +
        "together), each of which admission checks against your rights: put the keys into fewer Secrets",
    ]);
  });

  it("refuses a volume with no source or two, and a projected source with two", () => {
    expect(messages({ volumes: [{ name: "data" }] })[0]).toContain("set exactly one of emptyDir, secret");
    expect(parse({ volumes: [{ name: "d", emptyDir: {}, secret: { secretName: "s" } }] }).success).toBe(
      false,
    );
    const twoInOne = { secret: { name: "a" }, configMap: { name: "b" } };
    expect(parse({ volumes: [{ name: "d", projected: { sources: [twoInOne] } }] }).success).toBe(false);
  });

  it("refuses what a Pod refuses: minDomains with ScheduleAnyway, a bad seccomp pair, bad names and modes", () => {
    const spread = { maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "ScheduleAnyway", minDomains: 2 };
    expect(messages({ topologySpreadConstraints: [spread] })[0]).toContain("minDomains applies only with");
    const byRevision = {
      maxSkew: 1,
      topologyKey: "zone",
      whenUnsatisfiable: "DoNotSchedule",
      matchLabelKeys: ["r"],
    };
    expect(messages({ topologySpreadConstraints: [byRevision] })[0]).toContain(
      "matchLabelKeys narrows labelSelector",
    );
    const selected = { ...byRevision, labelSelector: { matchLabels: { "modelops.io/deployment": "iris" } } };
    expect(parse({ topologySpreadConstraints: [selected] }).success).toBe(true);
    const term = { topologyKey: "zone", matchLabelKeys: ["r"] };
    expect(
      parse({ affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] } } })
        .success,
    ).toBe(false);
    expect(parse({ securityContext: { seccompProfile: { type: "Localhost" } } }).success).toBe(false);
    expect(parse({ serviceAccountName: "Not_A_Name" }).success).toBe(false);
    expect(parse({ volumes: [{ name: "Data", emptyDir: {} }] }).success).toBe(false);
    expect(
      parse({ volumes: [{ name: "d", secret: { secretName: "s", defaultMode: 0o1000 } }] }).success,
    ).toBe(false);
    expect(parse({ containerSecurityContext: { privileged: true } }).data?.spec.template).toEqual({
      containerSecurityContext: {},
    }); // not offered: zod drops it, and the apiserver's strict field validation refuses it
  });

  it("bounds every list", () => {
    const many = (n: number, item: (i: number) => unknown) => Array.from({ length: n }, (_, i) => item(i));
    expect(parse({ volumes: many(33, (i) => ({ name: `v${i}`, emptyDir: {} })) }).success).toBe(false);
    expect(parse({ imagePullSecrets: many(17, (i) => ({ name: `s${i}` })) }).success).toBe(false);
    const spread = (i: number) => ({ maxSkew: 1, topologyKey: `k${i}`, whenUnsatisfiable: "DoNotSchedule" });
    expect(parse({ topologySpreadConstraints: many(9, spread) }).success).toBe(false);
  });
});

describe("the CRD's rules for them", () => {
  const spec = (
    buildCrd(modelDeploymentDefinition).spec.versions as {
      schema: { openAPIV3Schema: { properties: { spec: Record<string, unknown> } } };
    }[]
  )[0]?.schema.openAPIV3Schema.properties.spec as { properties: Record<string, Record<string, unknown>> };
  const template = spec.properties.template as {
    "x-kubernetes-validations": { rule: string }[];
    properties: Record<string, { items: { "x-kubernetes-validations": { rule: string }[] } }>;
  };
  const rules = (node: { "x-kubernetes-validations": { rule: string }[] }) =>
    node["x-kubernetes-validations"].map((r) => r.rule);

  it("keeps the model volume's name and path in CEL, where the apiserver refuses them at apply time", () => {
    expect(rules(template.properties.volumes?.items as never)).toContain("self.name != 'model'");
    expect(rules(template.properties.volumeMounts?.items as never)).toEqual([
      "self.name != 'model'",
      "!self.mountPath.matches('^/+mnt/+models(/.*)?$')",
    ]);
    expect(rules(template)[0]).toBe(
      "!has(self.volumeMounts) || self.volumeMounts.all(m, has(self.volumes) && self.volumes.exists(v, v.name == m.name))",
    );
    // One term per projected source index: the admission policy lists the Secrets the same way.
    expect(rules(template)[1]).toMatch(
      /^!has\(self.volumes\) \|\| self.volumes.filter\(v, has\(v.secret\)\).size\(\) \+ /,
    );
    expect(rules(template)[1]).toContain("has(v.projected.sources[7].secret)");
    expect(rules(template)[1]).toMatch(/ <= 8$/);
  });

  it("accepts any resource name in requests and limits, nvidia.com/gpu included", () => {
    const resources = template.properties.resources as unknown as {
      properties: Record<string, { additionalProperties: unknown; maxProperties: number }>;
    };
    expect(resources.properties.limits?.additionalProperties).toBeDefined();
    expect(resources.properties.limits?.maxProperties).toBe(32);
    const proxy = spec.properties.proxy as { properties: Record<string, unknown> };
    const { description: _proxy, ...proxyResources } = proxy.properties.resources as Record<string, unknown>;
    const { description: _model, ...modelResources } = resources as unknown as Record<string, unknown>;
    expect(proxyResources).toEqual(modelResources);
  });
});
