// The README and docs/ describe only fields, phases and placeholders that
// exist (hack/docs-check.ts); the checker itself is shown to catch each kind
// of drift on small made-up documents.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";
import { describe, expect, it } from "vitest";
import { ANALYSIS_QUERY_PLACEHOLDERS, DRIFT_QUERY_PLACEHOLDERS } from "../operator/api/index.ts";
import { checkDocs, type Doc, type Kind, type Schema } from "./docs-check.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PLACEHOLDERS = [...Object.keys(ANALYSIS_QUERY_PLACEHOLDERS), ...Object.keys(DRIFT_QUERY_PLACEHOLDERS)];

function crdKinds(): Kind[] {
  const dir = join(root, "crds");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => {
      const crd = yaml.load(readFileSync(join(dir, f), "utf8")) as {
        spec: { names: { kind: string }; versions: { schema: { openAPIV3Schema: Schema } }[] };
      };
      return { kind: crd.spec.names.kind, schema: crd.spec.versions[0]?.schema.openAPIV3Schema ?? {} };
    });
}

function projectDocs(): Doc[] {
  const docs = readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`);
  return ["README.md", ...docs].map((file) => ({ file, text: readFileSync(join(root, file), "utf8") }));
}

describe("docs", () => {
  const kinds = crdKinds();

  it("name only fields, phases and placeholders the schema and the queries have", () => {
    expect(checkDocs(projectDocs(), kinds, PLACEHOLDERS)).toEqual([]);
  });

  it("the query fields' descriptions list every placeholder the operator fills in", () => {
    const crds = readdirSync(join(root, "crds"))
      .map((f) => readFileSync(join(root, "crds", f), "utf8"))
      .join("\n");
    for (const name of PLACEHOLDERS) expect(crds).toContain(`{{${name}}}`);
  });

  describe("the checker catches", () => {
    const check = (text: string) => checkDocs([{ file: "x.md", text }], kinds, PLACEHOLDERS);

    it("an example field the schema does not have, with its path and line", () => {
      const text =
        "intro\n```yaml\napiVersion: modelops.io/v1alpha1\nkind: ModelDeployment\nmetadata: {name: a}\n" +
        "spec:\n  modelVersion: v1\n  strategy: {canary: {stepz: []}}\n  trafficRouting: {...}\n```\n";
      expect(check(text)).toEqual([
        "x.md:2: ModelDeployment example sets spec.strategy.canary.stepz, which the schema does not have",
      ]);
    });

    it("an example that does not parse", () => {
      expect(check("```yaml\na: [\n```\n")[0]).toMatch(/^x\.md:1: the YAML example does not parse/);
    });

    it("a field path in prose that no CRD has, but not one that exists", () => {
      expect(check("set `spec.template.tolerations` and `status.nosuch`")).toEqual([
        "x.md:1: `status.nosuch` is a field of no CRD",
      ]);
    });

    it("a phase list that misses a phase or names one that does not exist", () => {
      expect(check("`phase` (Pending, Progressing, Paused, Available, RolledBack, Exploded)")).toEqual([
        "x.md:1: the ModelDeployment phase list misses Degraded",
        "x.md:1: Exploded is not a ModelDeployment phase",
      ]);
    });

    it("an unknown placeholder", () => {
      expect(check("use {{revision}} and {{canaryRevision}}")).toEqual([
        "x.md:1: {{canaryRevision}} is no query placeholder",
      ]);
    });
  });
});
