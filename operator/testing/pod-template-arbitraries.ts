// fast-check arbitraries of spec.template's pod fields, the operator's own
// volume name and model path among them: the fuzz keeps only what the schema
// admits, and checks the rendered pod holds no more than was given.
import fc from "fast-check";
import { resources } from "./arbitrary-values.ts";

const name = fc.constantFrom("model", "cache", "tls", "bundle", "data", "shm");
const secretName = fc.constantFrom("iris-tls", "registry-creds", "other");

const volume = fc
  .record({
    name,
    source: fc.oneof(
      fc.record({ emptyDir: fc.record({ medium: fc.constantFrom("", "Memory") }, { requiredKeys: [] }) }),
      fc.record({
        secret: fc.record(
          { secretName, defaultMode: fc.constantFrom(0o400, 0o644) },
          { requiredKeys: ["secretName"] },
        ),
      }),
      fc.record({ configMap: fc.record({ name: secretName }) }),
      fc.record({ persistentVolumeClaim: fc.record({ claimName: secretName, readOnly: fc.boolean() }) }),
      fc.record({
        projected: fc.record({
          sources: fc.array(
            fc.oneof(
              fc.record({ secret: fc.record({ name: secretName }) }),
              fc.record({ serviceAccountToken: fc.record({ path: fc.constant("token") }) }),
            ),
            { minLength: 1, maxLength: 9 },
          ),
        }),
      }),
      // No source, or two: the schema refuses both.
      fc.constant({}),
      fc.constant({ emptyDir: {}, secret: { secretName: "iris-tls" } }),
    ),
  })
  .map(({ name, source }) => ({ name, ...source }));

const volumeMount = fc.record(
  {
    name,
    mountPath: fc.constantFrom("/cache", "/etc/tls", "/mnt/models", "/mnt/models/x", "//mnt/models", "/mnt"),
    readOnly: fc.boolean(),
  },
  { requiredKeys: ["name", "mountPath"] },
);

const capabilities = fc.record(
  { add: fc.subarray(["SYS_NICE", "NET_BIND_SERVICE"]), drop: fc.subarray(["ALL", "NET_RAW"]) },
  { requiredKeys: [] },
);

export const podTemplateFields = {
  serviceAccountName: fc.constantFrom("default", "iris-runner"),
  imagePullSecrets: fc.array(fc.record({ name: secretName }), { maxLength: 3 }),
  priorityClassName: fc.constantFrom("inference-critical", "system-node-critical"),
  volumes: fc.uniqueArray(volume, { maxLength: 10, selector: (v) => v.name }),
  volumeMounts: fc.uniqueArray(volumeMount, { maxLength: 4, selector: (m) => m.mountPath }),
  affinity: fc.constant({
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        { weight: 100, podAffinityTerm: { topologyKey: "kubernetes.io/hostname" } },
      ],
    },
  }),
  topologySpreadConstraints: fc.uniqueArray(
    fc.record({
      maxSkew: fc.constantFrom(1, 2),
      topologyKey: fc.constantFrom("topology.kubernetes.io/zone", "kubernetes.io/hostname"),
      whenUnsatisfiable: fc.constantFrom("DoNotSchedule", "ScheduleAnyway"),
    }),
    { maxLength: 2, selector: (c) => `${c.topologyKey} ${c.whenUnsatisfiable}` },
  ),
  securityContext: fc.record(
    { runAsUser: fc.constantFrom(0, 1000), runAsNonRoot: fc.boolean(), fsGroup: fc.constant(2000) },
    { requiredKeys: [] },
  ),
  containerSecurityContext: fc.record(
    {
      allowPrivilegeEscalation: fc.boolean(),
      readOnlyRootFilesystem: fc.boolean(),
      capabilities,
      privileged: fc.constant(true), // not in the schema: zod drops it
    },
    { requiredKeys: [] },
  ),
};

export const proxySettings = fc.record({ enabled: fc.boolean(), resources }, { requiredKeys: [] });
