// Building blocks shared by the three kinds. Every schema here ends up in the
// CRDs, so every field carries a description written for `kubectl explain`.
import { z } from "zod";
import type { Condition } from "../runtime/conditions.ts";
import { API_VERSION } from "./contract.ts";

/** One `x-kubernetes-validations` entry: a CEL rule the apiserver checks. */
export type CelRule = {
  rule: string;
  /** What is wrong and how to fix it. */
  message?: string;
  messageExpression?: string;
  /** JSON path, relative to the schema node, of the field the error names. */
  fieldPath?: string;
  reason?: "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate";
  optionalOldSelf?: boolean;
};

/**
 * Attaches CEL rules to a schema; the CRD generator copies them verbatim.
 * zod does not evaluate them, so parse-time checks are added separately with
 * `.refine` where the controller relies on them.
 */
export function withCel<T extends z.ZodType>(schema: T, rules: CelRule[]): T {
  return schema.meta({ "x-kubernetes-validations": rules }) as T;
}

/** Marks a list as a map keyed by `keys`, so server-side apply merges items by key. */
export function listMap<T extends z.ZodType>(schema: T, keys: string[]): T {
  return schema.meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": keys }) as T;
}

/** Bounds the number of keys of a record; the apiserver needs it to cost CEL rules that walk maps. */
export function maxProperties<T extends z.ZodType>(schema: T, max: number): T {
  return schema.meta({ maxProperties: max }) as T;
}

/** The schema of a whole object of one kind: apiVersion, kind, metadata, spec and status. */
export function kindSchema<K extends string, S extends z.ZodType, T extends z.ZodType>(
  kind: K,
  spec: S,
  status: T,
) {
  return z.object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(kind),
    metadata: objectMetaSchema,
    spec,
    status: status.optional(),
  });
}

/**
 * A duration: numbers and units, e.g. "90s" or "1h30m". A number has at most 6
 * digits before the point and the whole string at most 20 characters, so no
 * duration exceeds about 240 years: CEL's duration() (int64 nanoseconds) never
 * overflows while the range rule evaluates it.
 */
export const DURATION_PATTERN = /^([0-9]{1,6}(\.[0-9]+)?(ms|s|m|h))+$/;
const DURATION_MAX_LENGTH = 20;
const DURATION_SYNTAX =
  'write it like "30s", "5m" or "1h30m" (a number of at most 6 digits and a unit ms, s, m or h; no spaces)';

/** The durations a field accepts, both ends included, e.g. { min: "1s", max: "24h" }. */
export interface DurationRange {
  min: string;
  max: string;
}

/**
 * A duration field bounded to `range`. Every duration gets a range: an
 * unbounded one lets "0s" spin a loop (an analysis querying Prometheus as fast
 * as the operator requeues) or "600h" exceed what a timer holds. CEL rules
 * instead of `pattern`, so a rejection names the bad value and the fix; the
 * refines make zod agree with the apiserver.
 */
export function durationSchema(range: DurationRange, description: string) {
  const [minMs, maxMs] = [parseDurationMs(range.min), parseDurationMs(range.max)];
  const allowed = `from ${range.min} to ${range.max}`;
  const syntax = `self.matches(r'${DURATION_PATTERN.source}')`;
  return withCel(
    z
      .string()
      .max(DURATION_MAX_LENGTH)
      .refine((d) => DURATION_PATTERN.test(d), {
        error: (i) => `"${i.input}" is not a duration: ${DURATION_SYNTAX}`,
      })
      .refine(
        (d) => !DURATION_PATTERN.test(d) || (parseDurationMs(d) >= minMs && parseDurationMs(d) <= maxMs),
        { error: (i) => `"${i.input}" is out of range: write a duration ${allowed}` },
      )
      .describe(`${description} From ${range.min} to ${range.max}; units ms, s, m, h.`),
    [
      {
        rule: syntax,
        message: `must be a duration: ${DURATION_SYNTAX}`,
        messageExpression: `'"' + self + '" is not a duration: ${DURATION_SYNTAX}'`,
      },
      {
        // Only a well-formed string reaches duration(); a malformed one is the rule above's to report.
        rule: `!${syntax} || (duration(self) >= duration('${range.min}') && duration(self) <= duration('${range.max}'))`,
        message: `must be a duration ${allowed}`,
        messageExpression: `'"' + self + '" is out of range: write a duration ${allowed}'`,
      },
    ],
  );
}

const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds in a duration string; throws on a string that does not match DURATION_PATTERN. */
export function parseDurationMs(duration: string): number {
  if (!DURATION_PATTERN.test(duration)) {
    throw new Error(`invalid duration "${duration}": write it like "30s", "5m" or "1h30m"`);
  }
  let total = 0;
  for (const match of duration.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)) {
    total += Number(match[1]) * (DURATION_UNIT_MS[match[2] as string] as number);
  }
  return total;
}

/** A Kubernetes label value: at most 63 characters, alphanumeric at both ends. */
export const LABEL_VALUE_PATTERN = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
export const LABEL_VALUE_MAX_LENGTH = 63;

/**
 * metadata.name of a kind whose name the operator puts in a label value (the
 * apiserver accepts 253 characters). A CEL rule rather than maxLength, so a
 * rejection says why; on the name rather than the object's root, so that the
 * apiserver ratchets it: an object created before the rule existed can still
 * be updated, and its status written.
 */
export function labelValueNameSchema(kind: string, carriedBy: string) {
  const message =
    `must be at most ${LABEL_VALUE_MAX_LENGTH} characters: ${carriedBy}, and a label value is at most ` +
    `${LABEL_VALUE_MAX_LENGTH} characters`;
  return withCel(
    z
      .string()
      .refine((name) => name.length <= LABEL_VALUE_MAX_LENGTH, { message })
      .describe(`Name of the ${kind}; ${carriedBy}.`),
    [{ rule: `self.size() <= ${LABEL_VALUE_MAX_LENGTH}`, message }],
  );
}

/** A DNS-1123 subdomain: the syntax of most object names. */
export const OBJECT_NAME_PATTERN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function objectNameSchema(what: string) {
  return z.string().min(1).max(253).regex(OBJECT_NAME_PATTERN).describe(what);
}

const stringMap = z.record(z.string(), z.string().max(4096));

export const objectMetaSchema = z
  .object({
    name: z.string().describe("Name of the object, unique in its namespace."),
    namespace: z.string().optional().describe("Namespace of the object."),
    uid: z.string().optional().describe("Unique id set by the apiserver."),
    resourceVersion: z.string().optional().describe("Opaque version for optimistic concurrency."),
    generation: z
      .number()
      .int()
      .optional()
      .describe("Sequence number of spec changes, set by the apiserver."),
    creationTimestamp: z.string().optional().describe("RFC 3339 time the object was created."),
    deletionTimestamp: z.string().optional().describe("RFC 3339 time the object was asked to be deleted."),
    labels: stringMap.optional().describe("Labels of the object."),
    annotations: stringMap.optional().describe("Annotations of the object."),
    finalizers: z.array(z.string()).optional().describe("Finalizers that block deletion."),
    ownerReferences: z.array(z.object({}).loose()).optional().describe("Objects this object belongs to."),
  })
  .loose()
  .describe("Standard object metadata; unknown keys (managedFields...) are kept.");
export type ObjectMeta = z.infer<typeof objectMetaSchema>;

export const conditionSchema = z
  .object({
    type: z
      .string()
      .min(1)
      .max(316)
      .regex(
        /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/,
      )
      .describe("Type of the condition in CamelCase, e.g. Ready, Progressing, Degraded."),
    status: z
      .enum(["True", "False", "Unknown"])
      .describe("Whether the condition holds: True, False or Unknown."),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
      .describe("Machine-readable CamelCase reason for the last transition."),
    message: z.string().max(32768).describe("Human-readable detail: what happened and what to do about it."),
    lastTransitionTime: z
      .string()
      .meta({ format: "date-time" })
      .describe("RFC 3339 time the status last changed."),
    observedGeneration: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("metadata.generation the condition was computed from."),
  })
  .describe("One aspect of the object's state (metav1.Condition).") satisfies z.ZodType<Condition>;
export type { Condition };

/** status.observedGeneration, the same on every kind. */
export const observedGenerationSchema = z
  .number()
  .int()
  .min(0)
  .optional()
  .describe("metadata.generation last processed by the operator.");

export const conditionsSchema = listMap(
  z.array(conditionSchema).max(32).describe("Current conditions of the object, one per type."),
  ["type"],
);

/** A resource quantity: an integer or a string such as "500m", "1Gi", "2". */
export const QUANTITY_PATTERN =
  /^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;

export const quantitySchema = z
  .union([z.number().int(), z.string().regex(QUANTITY_PATTERN)])
  .meta({ "x-kubernetes-int-or-string": true, pattern: QUANTITY_PATTERN.source })
  .describe('A resource quantity, e.g. 2, "500m" (CPU), "1Gi" (memory).');
export type Quantity = z.infer<typeof quantitySchema>;

const resourceListSchema = maxProperties(z.record(z.string().max(253), quantitySchema), 32);

/**
 * An extended resource (a device plugin's, e.g. nvidia.com/gpu: a domain and
 * a name, outside kubernetes.io) cannot be overcommitted: a Pod that requests
 * one must also limit it, or the apiserver refuses the Deployment long after
 * `kubectl apply` succeeded.
 */
const isExtendedResource = (name: string) => name.includes("/") && !name.includes("kubernetes.io/");
const EXTENDED_REQUEST_WITHOUT_LIMIT =
  "an extended resource (a device's, e.g. nvidia.com/gpu) in requests must also be in limits, with the same " +
  "value (Kubernetes does not overcommit devices): set limits, e.g. {nvidia.com/gpu: 1}; requests then " +
  "default to limits";

export const resourceRequirementsSchema = withCel(
  z
    .object({
      requests: resourceListSchema
        .optional()
        .describe('Minimum resources the container is scheduled with, e.g. {cpu: "500m", memory: "1Gi"}.'),
      limits: resourceListSchema
        .optional()
        .describe('Maximum resources the container may use, e.g. {memory: "2Gi", "nvidia.com/gpu": 1}.'),
    })
    .refine(
      (r) =>
        Object.keys(r.requests ?? {}).every((k) => !isExtendedResource(k) || r.limits?.[k] !== undefined),
      { message: EXTENDED_REQUEST_WITHOUT_LIMIT, path: ["requests"] },
    )
    .describe("Compute resources of the model server container (as in a Pod's resources)."),
  [
    {
      rule:
        "!has(self.requests) || self.requests.all(k, !k.contains('/') || k.contains('kubernetes.io/') || " +
        "(has(self.limits) && k in self.limits))",
      message: EXTENDED_REQUEST_WITHOUT_LIMIT,
      fieldPath: ".requests",
    },
  ],
);
export type ResourceRequirements = z.infer<typeof resourceRequirementsSchema>;

export const envVarSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(256)
      .regex(/^[-._a-zA-Z][-._a-zA-Z0-9]*$/)
      .describe("Name of the environment variable."),
    value: z.string().max(32768).default("").describe('Value of the environment variable. Default "".'),
  })
  .describe("An environment variable set in the model server container.");
export type EnvVar = z.infer<typeof envVarSchema>;

export const envListSchema = listMap(
  z.array(envVarSchema).max(128).describe("Environment variables of the model server container."),
  ["name"],
);

export const stringMapSchema = stringMap;

/** Reference to a key of a Secret or ConfigMap in the object's namespace. */
export function keyRefSchema(what: string) {
  return z
    .object({
      name: objectNameSchema(`Name of the ${what} in the same namespace.`),
      key: z
        .string()
        .min(1)
        .max(253)
        .regex(/^[-._a-zA-Z0-9]+$/)
        .describe(`Key inside the ${what}.`),
    })
    .describe(`A key of a ${what} in the same namespace.`);
}

/** "{{a}} (what a is), {{b}} (what b is)": a placeholder list for a field's description. */
export function describePlaceholders(placeholders: Record<string, string>): string {
  return Object.entries(placeholders)
    .map(([name, meaning]) => `{{${name}}} (${meaning})`)
    .join(", ");
}
