// Kubernetes core/v1 shapes the inference pods take from spec.template:
// affinity, topology spread, volumes and mounts (security contexts are in
// security-context.ts). Typed
// with the fields people set, and every list bounded, so the apiserver can
// cost the CRD's CEL rules and `kubectl explain` documents them; a field left
// out here is refused by kubectl's strict field validation, not silently
// dropped.
import { z } from "zod";
import { celExactlyOne, exactlyOne } from "./analysis.ts";
import {
  listMap,
  maxProperties,
  objectNameSchema,
  quantitySchema,
  stringMapSchema,
  withCel,
} from "./common.ts";

/** A label or taint key: an optional DNS-subdomain prefix and "/", then a name of at most 63 characters. */
const QUALIFIED_NAME = z.string().min(1).max(317);
const LABEL_VALUE = z.string().max(63);
/** A volume name is a DNS-1123 label. */
export const VOLUME_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const FILE_MODE = z.number().int().min(0).max(0o777);

const values = (what: string) => z.array(LABEL_VALUE).max(64).optional().describe(what);

export const labelSelectorSchema = z
  .object({
    matchLabels: maxProperties(stringMapSchema, 32).optional().describe("Labels the pods must carry."),
    matchExpressions: z
      .array(
        z
          .object({
            key: QUALIFIED_NAME.describe("Label key."),
            operator: z
              .enum(["In", "NotIn", "Exists", "DoesNotExist"])
              .describe("In, NotIn, Exists or DoesNotExist."),
            values: values("Values for In and NotIn; none for Exists and DoesNotExist."),
          })
          .describe("A label requirement."),
      )
      .max(16)
      .optional()
      .describe("Label requirements, all of which must hold."),
  })
  .describe("Selects pods by label (metav1.LabelSelector).");

const nodeSelectorTermSchema = z
  .object({
    matchExpressions: z
      .array(
        z
          .object({
            key: QUALIFIED_NAME.describe("Node label key."),
            operator: z
              .enum(["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"])
              .describe("In, NotIn, Exists, DoesNotExist, Gt or Lt."),
            values: values("Values for In and NotIn; one integer for Gt and Lt; none for Exists."),
          })
          .describe("A node label requirement."),
      )
      .max(16)
      .optional()
      .describe("Requirements on the node's labels."),
  })
  .describe("Node requirements that must all hold.");

const weight = z.number().int().min(1).max(100).describe("Weight (1..100) of this preference.");

const nodeAffinitySchema = z
  .object({
    requiredDuringSchedulingIgnoredDuringExecution: z
      .object({
        nodeSelectorTerms: z
          .array(nodeSelectorTermSchema)
          .min(1)
          .max(16)
          .describe("Terms of which at least one must hold."),
      })
      .optional()
      .describe("Nodes the pods may only be scheduled on."),
    preferredDuringSchedulingIgnoredDuringExecution: z
      .array(z.object({ weight, preference: nodeSelectorTermSchema }).describe("A weighted node preference."))
      .max(16)
      .optional()
      .describe("Nodes the scheduler prefers."),
  })
  .describe("Node affinity, as in a Pod.");

const MATCH_LABEL_KEYS_NEED_SELECTOR =
  "matchLabelKeys narrows labelSelector, so it needs one: set labelSelector (e.g. matchLabels: " +
  '{"modelops.io/deployment": <name>}), or remove matchLabelKeys';
const matchLabelKeysRule = {
  rule: "!has(self.matchLabelKeys) || has(self.labelSelector)",
  message: MATCH_LABEL_KEYS_NEED_SELECTOR,
  fieldPath: ".matchLabelKeys",
};
const matchLabelKeysRefine = (t: { matchLabelKeys?: string[] | undefined; labelSelector?: unknown }) =>
  t.matchLabelKeys === undefined || t.labelSelector !== undefined;

const podAffinityTermSchema = withCel(
  z
    .object({
      labelSelector: labelSelectorSchema.optional(),
      namespaces: z
        .array(z.string().max(63))
        .max(16)
        .optional()
        .describe("Namespaces of the pods; default own."),
      namespaceSelector: labelSelectorSchema.optional(),
      topologyKey: QUALIFIED_NAME.describe(
        'Node label that defines the domain, e.g. "kubernetes.io/hostname".',
      ),
      matchLabelKeys: z
        .array(QUALIFIED_NAME)
        .max(16)
        .optional()
        .describe('Pod label keys whose values are added to the selector, e.g. ["modelops.io/revision"].'),
    })
    .refine(matchLabelKeysRefine, { message: MATCH_LABEL_KEYS_NEED_SELECTOR, path: ["matchLabelKeys"] })
    .describe("Pods, and the topology domain in which they count."),
  [matchLabelKeysRule],
);

const podAffinitySchema = (what: string) =>
  z
    .object({
      requiredDuringSchedulingIgnoredDuringExecution: z
        .array(podAffinityTermSchema)
        .max(16)
        .optional()
        .describe("Terms that must hold."),
      preferredDuringSchedulingIgnoredDuringExecution: z
        .array(z.object({ weight, podAffinityTerm: podAffinityTermSchema }).describe("A weighted term."))
        .max(16)
        .optional()
        .describe("Terms the scheduler prefers."),
    })
    .describe(what);

export const affinitySchema = z
  .object({
    nodeAffinity: nodeAffinitySchema.optional(),
    podAffinity: podAffinitySchema("Schedule the inference pods near these pods.").optional(),
    podAntiAffinity: podAffinitySchema("Schedule the inference pods away from these pods.").optional(),
  })
  .describe("Scheduling constraints of the inference pods, as in a Pod's affinity.");

const MIN_DOMAINS_NEEDS_DO_NOT_SCHEDULE =
  "minDomains applies only with whenUnsatisfiable: DoNotSchedule: set it, or remove minDomains";

export const topologySpreadConstraintSchema = withCel(
  z
    .object({
      maxSkew: z.number().int().min(1).describe("Most the pod count may differ between two domains."),
      topologyKey: QUALIFIED_NAME.describe(
        'Node label that defines the domains, e.g. "topology.kubernetes.io/zone".',
      ),
      whenUnsatisfiable: z
        .enum(["DoNotSchedule", "ScheduleAnyway"])
        .describe("DoNotSchedule: keep the pod pending; ScheduleAnyway: only prefer less skew."),
      labelSelector: labelSelectorSchema
        .optional()
        .describe('Pods that count, e.g. {matchLabels: {"modelops.io/deployment": <name>}}.'),
      matchLabelKeys: z
        .array(QUALIFIED_NAME)
        .max(16)
        .optional()
        .describe(
          'Pod label keys added to the selector, e.g. ["modelops.io/revision"]: each revision spreads.',
        ),
      minDomains: z.number().int().min(1).optional().describe("Least number of eligible domains."),
      nodeAffinityPolicy: z
        .enum(["Honor", "Ignore"])
        .optional()
        .describe("Whether node affinity limits domains."),
      nodeTaintsPolicy: z.enum(["Honor", "Ignore"]).optional().describe("Whether node taints limit domains."),
    })
    .refine(matchLabelKeysRefine, { message: MATCH_LABEL_KEYS_NEED_SELECTOR, path: ["matchLabelKeys"] })
    .refine((c) => c.minDomains === undefined || c.whenUnsatisfiable === "DoNotSchedule", {
      message: MIN_DOMAINS_NEEDS_DO_NOT_SCHEDULE,
      path: ["minDomains"],
    })
    .describe("How the inference pods spread across a topology, as in a Pod."),
  [
    {
      rule: "!has(self.minDomains) || self.whenUnsatisfiable == 'DoNotSchedule'",
      message: MIN_DOMAINS_NEEDS_DO_NOT_SCHEDULE,
      fieldPath: ".minDomains",
    },
    matchLabelKeysRule,
  ],
);

const keyToPathSchema = z
  .array(
    z
      .object({
        key: z.string().min(1).max(253).describe("Key to project."),
        path: z.string().min(1).max(4096).describe("Relative path of the file."),
        mode: FILE_MODE.optional().describe("File mode (0..0777)."),
      })
      .describe("One key as a file."),
  )
  .max(64)
  .optional()
  .describe("Keys to project, each as a file; default every key, named after it.");

const secretProjection = z
  .object({
    name: objectNameSchema("Name of the Secret in the same namespace."),
    items: keyToPathSchema,
    optional: z.boolean().optional().describe("Start even if the Secret or a key is missing."),
  })
  .describe("A Secret's keys as files. Its author needs get on the Secret.");
const configMapProjection = z
  .object({
    name: objectNameSchema("Name of the ConfigMap in the same namespace."),
    items: keyToPathSchema,
    optional: z.boolean().optional().describe("Start even if the ConfigMap or a key is missing."),
  })
  .describe("A ConfigMap's keys as files.");

const PROJECTION_SOURCES = ["secret", "configMap", "serviceAccountToken"];
const projectionSourceSchema = withCel(
  z
    .object({
      secret: secretProjection.optional(),
      configMap: configMapProjection.optional(),
      serviceAccountToken: z
        .object({
          audience: z
            .string()
            .max(253)
            .optional()
            .describe("Audience of the token; default the apiserver's."),
          expirationSeconds: z
            .number()
            .int()
            .min(600)
            .max(86400 * 366)
            .optional()
            .describe("Lifetime (>= 600)."),
          path: z.string().min(1).max(4096).describe("Relative path of the token file."),
        })
        .optional()
        .describe("A token of the pod's ServiceAccount."),
    })
    .refine((s) => exactlyOne(s, PROJECTION_SOURCES), {
      message: "set exactly one of secret, configMap or serviceAccountToken",
    })
    .describe("One source of a projected volume."),
  [celExactlyOne(PROJECTION_SOURCES, "a projected source", "use one source per list item")],
);

/**
 * Sources of one projected volume. Small, and a constant: the admission
 * policy lists every projected Secret by source index (CEL has no flatten on
 * every supported Kubernetes version).
 */
export const PROJECTED_SOURCES_MAX = 8;

export const VOLUME_SOURCES = ["emptyDir", "secret", "configMap", "persistentVolumeClaim", "projected"];

export const volumeFields = {
  emptyDir: z
    .object({
      medium: z.enum(["", "Memory"]).optional().describe('"" (node disk) or "Memory" (tmpfs).'),
      sizeLimit: quantitySchema.optional(),
    })
    .optional()
    .describe("A scratch directory that lives as long as the pod."),
  secret: z
    .object({
      secretName: objectNameSchema("Name of the Secret in the same namespace."),
      items: keyToPathSchema,
      defaultMode: FILE_MODE.optional().describe("Mode of the files (0..0777); default 0644."),
      optional: z.boolean().optional().describe("Start even if the Secret or a key is missing."),
    })
    .optional()
    .describe("A Secret's keys as files. Its author needs get on the Secret (admission policy)."),
  configMap: z
    .object({
      name: objectNameSchema("Name of the ConfigMap in the same namespace."),
      items: keyToPathSchema,
      defaultMode: FILE_MODE.optional().describe("Mode of the files (0..0777); default 0644."),
      optional: z.boolean().optional().describe("Start even if the ConfigMap or a key is missing."),
    })
    .optional()
    .describe("A ConfigMap's keys as files."),
  persistentVolumeClaim: z
    .object({
      claimName: objectNameSchema("Name of the PersistentVolumeClaim in the same namespace."),
      readOnly: z.boolean().optional().describe("Mount read-only."),
    })
    .optional()
    .describe("A PersistentVolumeClaim."),
  projected: z
    .object({
      sources: z
        .array(projectionSourceSchema)
        .min(1)
        .max(PROJECTED_SOURCES_MAX)
        .describe(`Sources merged into one directory (at most ${PROJECTED_SOURCES_MAX}).`),
      defaultMode: FILE_MODE.optional().describe("Mode of the files (0..0777); default 0644."),
    })
    .optional()
    .describe("Secrets, ConfigMaps and ServiceAccount tokens in one directory."),
};

/** A volume without its name rules; pod-template.ts adds the names the operator keeps for itself. */
export const volumeBaseSchema = z.object({
  name: z
    .string()
    .min(1)
    .max(63)
    .regex(VOLUME_NAME_PATTERN)
    .describe("Name of the volume, unique in the pod."),
  ...volumeFields,
});
export const volumeSourceRule = {
  refine: (v: Record<string, unknown>) => exactlyOne(v, VOLUME_SOURCES),
  message: `set exactly one of ${VOLUME_SOURCES.join(", ")}`,
  cel: celExactlyOne(VOLUME_SOURCES, "a volume", "use one volume per source"),
};

export const volumeMountBaseSchema = z.object({
  name: z
    .string()
    .min(1)
    .max(63)
    .regex(VOLUME_NAME_PATTERN)
    .describe("Name of a volume in template.volumes."),
  mountPath: z.string().min(1).max(4096).describe("Path in the model server container."),
  readOnly: z.boolean().optional().describe("Mount read-only."),
  subPath: z.string().max(4096).optional().describe("Path inside the volume to mount; default its root."),
});

export const localObjectReferenceListSchema = listMap(
  z
    .array(z.object({ name: objectNameSchema("Name of a Secret of type kubernetes.io/dockerconfigjson.") }))
    .max(16),
  ["name"],
);
