// Checks that the docs speak of what exists: every field of a modelops.io
// example manifest and every `spec.…`/`status.…` path in prose is in a CRD's
// schema, every status phase list names exactly the phases of the schema,
// and every {{placeholder}} is one a query can use. Pure: the caller passes
// the markdown and the generated CRDs (hack/docs-check.test.ts runs it on
// README.md and docs/).
import yaml from "js-yaml";

export interface Doc {
  file: string;
  text: string;
}

/** The part of an OpenAPI v3 schema the walk needs. */
export interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  enum?: unknown[];
}

export interface Kind {
  kind: string;
  schema: Schema;
}

/** In examples, `{...}` (a key "...") stands for what the example leaves out. */
const ELISION = "...";

export function checkDocs(docs: Doc[], kinds: Kind[], placeholders: readonly string[]): string[] {
  return docs.flatMap((doc) => [
    ...checkExamples(doc, kinds),
    ...checkFieldPaths(doc, kinds),
    ...checkPhaseLists(doc, kinds),
    ...checkPlaceholders(doc, placeholders),
  ]);
}

/** Line number (1-based) of a character offset. */
function lineOf(text: string, offset: number): number {
  return text.slice(0, offset).split("\n").length;
}

function checkExamples(doc: Doc, kinds: Kind[]): string[] {
  const problems: string[] = [];
  for (const block of doc.text.matchAll(/```yaml\n([\s\S]*?)```/g)) {
    const where = `${doc.file}:${lineOf(doc.text, block.index ?? 0)}`;
    let objects: unknown[];
    try {
      objects = yaml.loadAll(block[1] ?? "");
    } catch (err) {
      problems.push(`${where}: the YAML example does not parse: ${(err as Error).message.split("\n")[0]}`);
      continue;
    }
    for (const object of objects) {
      if (!isRecord(object) || typeof object.apiVersion !== "string") continue;
      if (!object.apiVersion.startsWith("modelops.io/")) continue;
      const kind = kinds.find((k) => k.kind === object.kind);
      if (!kind) {
        problems.push(`${where}: example of kind ${String(object.kind)}, which no CRD defines`);
        continue;
      }
      for (const path of unknownFields(object, kind.schema, "")) {
        problems.push(`${where}: ${kind.kind} example sets ${path}, which the schema does not have`);
      }
    }
  }
  return problems;
}

/** Paths in `value` that `schema` does not define. */
export function unknownFields(value: unknown, schema: Schema, path: string): string[] {
  if (schema["x-kubernetes-preserve-unknown-fields"]) return [];
  if (Array.isArray(value)) {
    return schema.items
      ? value.flatMap((item, i) => unknownFields(item, schema.items as Schema, `${path}[${i}]`))
      : [];
  }
  if (!isRecord(value)) return [];
  return Object.entries(value).flatMap(([key, child]) => {
    if (key === ELISION) return [];
    const childPath = path ? `${path}.${key}` : key;
    const childSchema = schema.properties?.[key];
    if (childSchema) return unknownFields(child, childSchema, childPath);
    if (typeof schema.additionalProperties === "object")
      return unknownFields(child, schema.additionalProperties, childPath);
    if (schema.additionalProperties === true) return [];
    return [childPath];
  });
}

/** `spec.a.b` or `status.a[]` in backticks, as the docs write a field. */
const FIELD_PATH = /`((?:spec|status)(?:\.[A-Za-z][A-Za-z0-9]*(?:\[\])?)+)`/g;

function checkFieldPaths(doc: Doc, kinds: Kind[]): string[] {
  const problems: string[] = [];
  for (const match of doc.text.matchAll(FIELD_PATH)) {
    const path = match[1] ?? "";
    if (kinds.some((k) => resolves(k.schema, path.replaceAll("[]", "").split(".")))) continue;
    problems.push(`${doc.file}:${lineOf(doc.text, match.index ?? 0)}: \`${path}\` is a field of no CRD`);
  }
  return problems;
}

function resolves(schema: Schema, path: string[]): boolean {
  let at: Schema | undefined = schema;
  for (const key of path) {
    if (at?.["x-kubernetes-preserve-unknown-fields"]) return true;
    while (at?.items) at = at.items;
    at =
      at?.properties?.[key] ??
      (typeof at?.additionalProperties === "object" ? at.additionalProperties : undefined);
    if (!at) return false;
  }
  return true;
}

/**
 * A phase list: "`phase` (A, B, C)" in prose or "| `phase` | A, B, C |" in a
 * table. It must name exactly the phases of one kind's status.phase enum.
 */
const PHASE_LIST = /`phase`(?: \(| \| )([A-Z][A-Za-z]*(?:, [A-Z][A-Za-z]*)+)/g;

function checkPhaseLists(doc: Doc, kinds: Kind[]): string[] {
  const enums = kinds.map((k) => ({
    kind: k.kind,
    phases: (k.schema.properties?.status?.properties?.phase?.enum ?? []).map(String),
  }));
  const problems: string[] = [];
  for (const match of doc.text.matchAll(PHASE_LIST)) {
    const listed = (match[1] ?? "").split(", ");
    const best = enums.find((e) => listed.some((p) => e.phases.includes(p)));
    const where = `${doc.file}:${lineOf(doc.text, match.index ?? 0)}`;
    if (!best) {
      problems.push(`${where}: phases ${listed.join(", ")} belong to no kind`);
      continue;
    }
    const missing = best.phases.filter((p) => !listed.includes(p));
    const extra = listed.filter((p) => !best.phases.includes(p));
    if (missing.length > 0)
      problems.push(`${where}: the ${best.kind} phase list misses ${missing.join(", ")}`);
    if (extra.length > 0) problems.push(`${where}: ${extra.join(", ")} is not a ${best.kind} phase`);
  }
  return problems;
}

function checkPlaceholders(doc: Doc, placeholders: readonly string[]): string[] {
  const problems: string[] = [];
  for (const match of doc.text.matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g)) {
    if (placeholders.includes(match[1] ?? "")) continue;
    problems.push(
      `${doc.file}:${lineOf(doc.text, match.index ?? 0)}: {{${match[1]}}} is no query placeholder`,
    );
  }
  return problems;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
