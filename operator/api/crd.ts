// Pure CRD generator: zod schema + kind metadata -> apiextensions.k8s.io/v1
// CustomResourceDefinition with a structural schema. No I/O.
import { z } from "zod";
import { GROUP, VERSION } from "./contract.ts";

export type JSONSchemaProps = { [key: string]: unknown };

export type PrinterColumn = {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description?: string;
  priority?: number;
  format?: string;
};

export type KindDefinition = {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  description: string;
  specSchema: z.ZodType;
  statusSchema: z.ZodType;
  /** Schema of metadata.name, when names derived from it limit it more than the apiserver does. */
  nameSchema?: z.ZodType;
  printerColumns: PrinterColumn[];
  scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string };
};

export type CustomResourceDefinition = {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
};

/** Formats the apiserver validates; anything else zod emits is dropped. */
const ALLOWED_FORMATS = new Set([
  "int32",
  "int64",
  "float",
  "double",
  "byte",
  "date",
  "date-time",
  "uri",
  "email",
  "hostname",
  "ipv4",
  "ipv6",
  "cidr",
  "mac",
  "uuid",
  "password",
]);

/** Keywords zod may emit that a structural schema must not contain. */
const DROPPED_KEYWORDS = new Set([
  "$schema",
  "$id",
  "id",
  "$defs",
  "definitions",
  "propertyNames",
  "examples",
  "readOnly",
  "writeOnly",
  "contentEncoding",
  "contentMediaType",
  "$comment",
]);

const FORBIDDEN_KEYWORDS = [
  "$ref",
  "oneOf",
  "allOf",
  "not",
  "const",
  "if",
  "then",
  "else",
  "patternProperties",
];

function isEmptySchema(value: unknown): boolean {
  return typeof value === "object" && value !== null && Object.keys(value).length === 0;
}

/** Converts one JSON Schema node (and its children) from zod's output to a Kubernetes structural schema. */
export function toStructural(node: JSONSchemaProps, path = "<root>"): JSONSchemaProps {
  for (const keyword of FORBIDDEN_KEYWORDS) {
    if (keyword in node) throw new Error(`${path}: "${keyword}" cannot be expressed in a structural schema`);
  }
  const out: JSONSchemaProps = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED_KEYWORDS.has(key)) continue;
    if (key === "format" && !ALLOWED_FORMATS.has(value as string)) continue;
    if (key === "additionalProperties" && (value === false || isEmptySchema(value))) continue;
    if ((key === "maximum" || key === "minimum") && Math.abs(value as number) === Number.MAX_SAFE_INTEGER)
      continue;
    out[key] = value;
  }
  if (out["x-kubernetes-int-or-string"] === true) {
    out.anyOf = [{ type: "integer" }, { type: "string" }];
    return out;
  }
  if ("anyOf" in out)
    throw new Error(`${path}: unions must be int-or-string; model "one of" with optional fields + CEL`);
  if (out["x-kubernetes-preserve-unknown-fields"] === true && isEmptySchema(out.properties))
    delete out.properties;
  if (out.properties) {
    const props = out.properties as Record<string, JSONSchemaProps>;
    out.properties = Object.fromEntries(
      Object.entries(props).map(([name, child]) => [name, toStructural(child, `${path}.${name}`)]),
    );
    if (isEmptySchema(out.properties) && !out["x-kubernetes-preserve-unknown-fields"]) delete out.properties;
  }
  if (out.items) out.items = toStructural(out.items as JSONSchemaProps, `${path}[]`);
  if (out.additionalProperties) {
    out.additionalProperties = toStructural(out.additionalProperties as JSONSchemaProps, `${path}{}`);
  }
  if (typeof out.type !== "string" && out["x-kubernetes-preserve-unknown-fields"] !== true) {
    throw new Error(`${path}: every node of a structural schema needs a single type`);
  }
  return out;
}

/** The structural OpenAPI schema of a zod schema, as the apiserver sees input (defaults optional). */
export function zodToStructural(schema: z.ZodType): JSONSchemaProps {
  const json = z.toJSONSchema(schema, {
    io: "input",
    target: "openapi-3.0",
    reused: "inline",
    cycles: "throw",
  });
  return toStructural(json as JSONSchemaProps);
}

export function crdName(def: Pick<KindDefinition, "plural">): string {
  return `${def.plural}.${GROUP}`;
}

export function buildCrd(def: KindDefinition): CustomResourceDefinition {
  const spec = zodToStructural(def.specSchema);
  const status = zodToStructural(def.statusSchema);
  const subresources: Record<string, unknown> = { status: {} };
  if (def.scale) subresources.scale = { ...def.scale };
  const openAPIV3Schema: JSONSchemaProps = {
    type: "object",
    description: def.description,
    properties: {
      apiVersion: {
        type: "string",
        description:
          "APIVersion defines the versioned schema of this representation of an object. Servers should convert " +
          "recognized schemas to the latest internal value, and may reject unrecognized values.",
      },
      kind: {
        type: "string",
        description: "Kind is a string value representing the REST resource this object represents.",
      },
      metadata: def.nameSchema
        ? { type: "object", properties: { name: zodToStructural(def.nameSchema) } }
        : { type: "object" },
      spec,
      status,
    },
    required: ["spec"],
  };
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: crdName(def), labels: { "app.kubernetes.io/part-of": "modelops-operator" } },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: def.categories,
      },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema },
          subresources,
          additionalPrinterColumns: def.printerColumns,
        },
      ],
    },
  };
}
