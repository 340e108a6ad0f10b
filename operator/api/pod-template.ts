// spec.template of a ModelDeployment: what a user sets on the inference pods,
// beside what the operator puts there (the model volume, the artifact
// fetcher, the modelops-proxy sidecar). Names and paths the operator uses are
// refused at admission, so a template can never break the operator's pods.
import { z } from "zod";
import {
  envListSchema,
  listMap,
  maxProperties,
  objectNameSchema,
  resourceRequirementsSchema,
  stringMapSchema,
  withCel,
} from "./common.ts";
import { MODEL_MOUNT_PATH, MODEL_VOLUME } from "./contract.ts";
import {
  affinitySchema,
  localObjectReferenceListSchema,
  PROJECTED_SOURCES_MAX,
  topologySpreadConstraintSchema,
  volumeBaseSchema,
  volumeMountBaseSchema,
  volumeSourceRule,
} from "./pod-spec.ts";
import { containerSecurityContextSchema, podSecurityContextSchema } from "./security-context.ts";

/**
 * A taint key: a label key (an optional DNS-subdomain prefix and "/", then a
 * name), or empty as in a Pod (every key, with operator Exists).
 */
const TAINT_KEY_PATTERN =
  /^(([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** A taint value: a label value, possibly empty. */
const TAINT_VALUE_PATTERN = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const EXISTS_WITH_VALUE =
  "operator Exists matches every value of the key, so it takes no value: remove value, or use operator " +
  "Equal (the default) to match this value only";
const NO_KEY_WITHOUT_EXISTS =
  "a toleration without a key matches every taint, which needs operator Exists: set key, or set operator: Exists";
const SECONDS_WITHOUT_NO_EXECUTE =
  "tolerationSeconds (how long the pod stays on a node after a matching taint appears) applies only to effect " +
  "NoExecute: set effect: NoExecute, or remove tolerationSeconds";

/** A Kubernetes Toleration (core/v1), with the apiserver's checks of it made at admission. */
export const tolerationSchema = withCel(
  z
    .object({
      key: z
        .string()
        .max(317)
        .regex(TAINT_KEY_PATTERN)
        .optional()
        .describe(
          'Taint key the toleration matches, e.g. "nvidia.com/gpu". Omitted: every key (operator must be Exists).',
        ),
      operator: z
        .enum(["Exists", "Equal"])
        .optional()
        .describe("Equal: the taint's value must equal value. Exists: any value. Omitted: Equal."),
      value: z
        .string()
        .max(63)
        .regex(TAINT_VALUE_PATTERN)
        .optional()
        .describe("Taint value the toleration matches with operator Equal; none with Exists."),
      effect: z
        .enum(["NoSchedule", "PreferNoSchedule", "NoExecute"])
        .optional()
        .describe(
          "Taint effect the toleration matches: NoSchedule, PreferNoSchedule or NoExecute. Omitted: all.",
        ),
      tolerationSeconds: z
        .number()
        .int()
        .optional()
        .describe(
          "With effect NoExecute: seconds the pod stays bound to a node after a matching taint appears. " +
            "Omitted: forever.",
        ),
    })
    .refine((t) => !(t.operator === "Exists" && t.value), { message: EXISTS_WITH_VALUE, path: ["value"] })
    .refine((t) => Boolean(t.key) || t.operator === "Exists", {
      message: NO_KEY_WITHOUT_EXISTS,
      path: ["operator"],
    })
    .refine((t) => t.tolerationSeconds === undefined || t.effect === "NoExecute", {
      message: SECONDS_WITHOUT_NO_EXECUTE,
      path: ["effect"],
    })
    .describe("Lets the inference pods be scheduled on (or stay on) nodes with a matching taint."),
  [
    {
      rule: "!(has(self.operator) && self.operator == 'Exists' && has(self.value) && self.value != '')",
      message: EXISTS_WITH_VALUE,
      fieldPath: ".value",
    },
    {
      rule: "(has(self.key) && self.key != '') || (has(self.operator) && self.operator == 'Exists')",
      message: NO_KEY_WITHOUT_EXISTS,
      fieldPath: ".operator",
    },
    {
      rule: "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
      message: SECONDS_WITHOUT_NO_EXECUTE,
      fieldPath: ".effect",
    },
  ],
);
export type Toleration = z.infer<typeof tolerationSchema>;

const RESERVED_VOLUME = `volume name "${MODEL_VOLUME}" is the operator's (the model artifact's volume): rename your volume`;
const RESERVED_MOUNT_NAME =
  `volumeMount name "${MODEL_VOLUME}" is the operator's (the model artifact's volume): mount a volume of ` +
  "template.volumes, under another name";
const RESERVED_MOUNT_PATH =
  `mountPath ${MODEL_MOUNT_PATH} (and below) is where the operator mounts the model artifact: mount your ` +
  "volume elsewhere";
/** MODEL_MOUNT_PATH itself or any path below it, however many slashes separate the parts. */
const MODEL_DIR_PATTERN = `^/+${MODEL_MOUNT_PATH.split("/").filter(Boolean).join("/+")}(/.*)?$`;
const MOUNT_WITHOUT_VOLUME =
  "every volumeMount must name a volume of template.volumes: add the volume, or correct the mount's name";

/**
 * Secrets a template's volumes may name, secret volumes and projected
 * sources together. The admission policy checks the author's get on each
 * with one authorizer call, and the apiserver allows only a few such calls
 * per policy; the chart's admission-policy.yaml has one check per slot.
 */
export const TEMPLATE_SECRETS_MAX = 8;
const TOO_MANY_SECRETS =
  `the volumes name more than ${TEMPLATE_SECRETS_MAX} Secrets (secret volumes and projected secret sources ` +
  "together), each of which admission checks against your rights: put the keys into fewer Secrets";
/** CEL: how many Secrets the template's volumes name (one term per projected source index). */
const SECRET_COUNT_CEL = [
  "self.volumes.filter(v, has(v.secret)).size()",
  ...Array.from(
    { length: PROJECTED_SOURCES_MAX },
    (_, k) =>
      `self.volumes.filter(v, has(v.projected) && v.projected.sources.size() > ${k} && ` +
      `has(v.projected.sources[${k}].secret)).size()`,
  ),
].join(" + ");
type TemplateVolume = z.infer<typeof volumeBaseSchema>;
function secretCount(volumes: TemplateVolume[] | undefined): number {
  return (volumes ?? []).reduce(
    (n, v) => n + (v.secret ? 1 : 0) + (v.projected?.sources.filter((s) => s.secret).length ?? 0),
    0,
  );
}

const volumeSchema = withCel(
  volumeBaseSchema
    .refine(volumeSourceRule.refine, { message: volumeSourceRule.message })
    .refine((v) => v.name !== MODEL_VOLUME, { message: RESERVED_VOLUME, path: ["name"] })
    .describe("A volume of the inference pods (core/v1 Volume: the common sources)."),
  [
    volumeSourceRule.cel,
    { rule: `self.name != '${MODEL_VOLUME}'`, message: RESERVED_VOLUME, fieldPath: ".name" },
  ],
);

const volumeMountSchema = withCel(
  volumeMountBaseSchema
    .refine((m) => m.name !== MODEL_VOLUME, { message: RESERVED_MOUNT_NAME, path: ["name"] })
    .refine((m) => !new RegExp(MODEL_DIR_PATTERN).test(m.mountPath), {
      message: RESERVED_MOUNT_PATH,
      path: ["mountPath"],
    })
    .describe("A volume mounted into the model server container."),
  [
    { rule: `self.name != '${MODEL_VOLUME}'`, message: RESERVED_MOUNT_NAME, fieldPath: ".name" },
    {
      rule: `!self.mountPath.matches('${MODEL_DIR_PATTERN}')`,
      message: RESERVED_MOUNT_PATH,
      fieldPath: ".mountPath",
    },
  ],
);

export const podTemplateOverridesSchema = withCel(
  z
    .object({
      labels: maxProperties(stringMapSchema, 64).optional().describe("Extra labels for the inference pods."),
      annotations: maxProperties(stringMapSchema, 64)
        .optional()
        .describe("Extra annotations for the inference pods."),
      resources: resourceRequirementsSchema
        .optional()
        .describe(
          "Resources of the model server container; override the ModelVersion's runtime.resources. Any " +
            'resource name, extended ones included: {limits: {"nvidia.com/gpu": 1}}.',
        ),
      nodeSelector: maxProperties(stringMapSchema, 64)
        .optional()
        .describe("Node labels the inference pods must be scheduled on."),
      tolerations: z
        .array(tolerationSchema)
        .max(32)
        .optional()
        .describe(
          "Tolerations of the inference pods, as in a Pod: taints they may be scheduled despite (e.g. of GPU " +
            "or dedicated nodes). Combine with nodeSelector to also keep them there.",
        ),
      env: envListSchema
        .optional()
        .describe(
          "Extra environment variables of the model server container; override the runtime's on a name clash.",
        ),
      affinity: affinitySchema.optional(),
      topologySpreadConstraints: listMap(
        z
          .array(topologySpreadConstraintSchema)
          .max(8)
          .describe("How the inference pods spread across zones or nodes, as in a Pod."),
        ["topologyKey", "whenUnsatisfiable"],
      ).optional(),
      serviceAccountName: objectNameSchema(
        "ServiceAccount the inference pods run as (same namespace). Its author must be allowed to impersonate " +
          "it, as the edit role allows (admission policy). Default: the namespace's default.",
      ).optional(),
      imagePullSecrets: localObjectReferenceListSchema
        .optional()
        .describe("Secrets (same namespace) with credentials for pulling the model server's image."),
      volumes: listMap(
        z
          .array(volumeSchema)
          .max(32)
          .describe("Extra volumes of the inference pods; mount them with volumeMounts."),
        ["name"],
      ).optional(),
      volumeMounts: listMap(
        z
          .array(volumeMountSchema)
          .max(32)
          .describe("Volumes of template.volumes mounted into the model server."),
        ["mountPath"],
      ).optional(),
      priorityClassName: objectNameSchema("PriorityClass of the inference pods.").optional(),
      securityContext: podSecurityContextSchema.optional(),
      containerSecurityContext: containerSecurityContextSchema.optional(),
    })
    .refine((t) => (t.volumeMounts ?? []).every((m) => (t.volumes ?? []).some((v) => v.name === m.name)), {
      message: MOUNT_WITHOUT_VOLUME,
      path: ["volumeMounts"],
    })
    .refine((t) => secretCount(t.volumes) <= TEMPLATE_SECRETS_MAX, {
      message: TOO_MANY_SECRETS,
      path: ["volumes"],
    })
    .describe("Overrides for the inference pods. Changing them rolls out a new revision."),
  [
    {
      rule: "!has(self.volumeMounts) || self.volumeMounts.all(m, has(self.volumes) && self.volumes.exists(v, v.name == m.name))",
      message: MOUNT_WITHOUT_VOLUME,
      fieldPath: ".volumeMounts",
    },
    {
      rule: `!has(self.volumes) || ${SECRET_COUNT_CEL} <= ${TEMPLATE_SECRETS_MAX}`,
      message: TOO_MANY_SECRETS,
      fieldPath: ".volumes",
    },
  ],
);
export type PodTemplateOverrides = z.infer<typeof podTemplateOverridesSchema>;
