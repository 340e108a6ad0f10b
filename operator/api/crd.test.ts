import { describe, expect, it } from "vitest";
import { z } from "zod";
import { renderCrds, staleFiles } from "../../hack/generate-crds.ts";
import { pluralOf } from "../runtime/paths.ts";
import { buildCrd, crdDefinitions, type JSONSchemaProps, toStructural, zodToStructural } from "./index.ts";

type Visit = (node: JSONSchemaProps, path: string) => void;

function walk(node: JSONSchemaProps, path: string, visit: Visit): void {
  visit(node, path);
  for (const [name, child] of Object.entries((node.properties ?? {}) as Record<string, JSONSchemaProps>)) {
    walk(child, `${path}.${name}`, visit);
  }
  if (node.items) walk(node.items as JSONSchemaProps, `${path}[]`, visit);
  if (typeof node.additionalProperties === "object")
    walk(node.additionalProperties as JSONSchemaProps, `${path}{}`, visit);
}

const crds = crdDefinitions.map((def) => ({ def, crd: buildCrd(def) }));

function versionOf(crd: ReturnType<typeof buildCrd>) {
  return (crd.spec.versions as Record<string, unknown>[])[0] as Record<string, unknown> & {
    schema: { openAPIV3Schema: JSONSchemaProps };
  };
}

function rootSchema(kind: string): JSONSchemaProps {
  const entry = crds.find((c) => c.def.kind === kind);
  if (!entry) throw new Error(kind);
  return versionOf(entry.crd).schema.openAPIV3Schema;
}

/** The schema node at a dotted path such as "spec.strategy.canary.steps[]". */
function nodeAt(kind: string, path: string): JSONSchemaProps {
  let node = rootSchema(kind);
  for (const part of path.split(".")) {
    const name = part.replace(/\[\]$/, "");
    node = (node.properties as Record<string, JSONSchemaProps>)[name] as JSONSchemaProps;
    if (!node) throw new Error(`no ${path} in ${kind}`);
    if (part.endsWith("[]")) node = node.items as JSONSchemaProps;
  }
  return node;
}

function rulesAt(kind: string, path: string): string[] {
  const rules = (nodeAt(kind, path)["x-kubernetes-validations"] ?? []) as {
    rule: string;
    message?: string;
  }[];
  for (const r of rules) expect(r.message, `${path}: ${r.rule} has a message`).toBeTruthy();
  return rules.map((r) => r.rule);
}

const FORBIDDEN = [
  "$schema",
  "$ref",
  "$defs",
  "definitions",
  "oneOf",
  "allOf",
  "not",
  "const",
  "propertyNames",
];

describe.each(crds)("CRD $def.kind", ({ def, crd }) => {
  const schema = versionOf(crd).schema.openAPIV3Schema;

  it("has standard identity, names and subresources", () => {
    expect(crd.metadata.name).toBe(`${def.plural}.modelops.io`);
    // The client addresses objects of this kind by the guessed plural.
    expect(pluralOf(def.kind)).toBe(def.plural);
    expect(crd.spec.group).toBe("modelops.io");
    expect(crd.spec.scope).toBe("Namespaced");
    expect((crd.spec.names as Record<string, unknown>).categories).toEqual(["modelops"]);
    expect(versionOf(crd).name).toBe("v1alpha1");
    expect((versionOf(crd).subresources as Record<string, unknown>).status).toEqual({});
    expect(schema.description).toBeTruthy();
    expect(Object.keys(schema.properties as object)).toEqual([
      "apiVersion",
      "kind",
      "metadata",
      "spec",
      "status",
    ]);
  });

  it("is a structural schema", () => {
    walk(schema, def.kind, (node, path) => {
      for (const k of FORBIDDEN) expect(node, `${path} has ${k}`).not.toHaveProperty(k);
      const intOrString = node["x-kubernetes-int-or-string"] === true;
      if (!intOrString) expect(node, `${path} has anyOf`).not.toHaveProperty("anyOf");
      if (!intOrString && node["x-kubernetes-preserve-unknown-fields"] !== true) {
        expect(typeof node.type, `${path} has a type`).toBe("string");
      }
      expect(node.additionalProperties, `${path} additionalProperties: false`).not.toBe(false);
      if (node.additionalProperties)
        expect(node, `${path} mixes properties and additionalProperties`).not.toHaveProperty("properties");
      if (node.type === "integer")
        expect(Math.abs((node.maximum as number) ?? 0)).toBeLessThan(Number.MAX_SAFE_INTEGER);
    });
  });

  it("describes every field for kubectl explain", () => {
    for (const part of ["spec", "status"]) {
      walk(
        (schema.properties as Record<string, JSONSchemaProps>)[part] as JSONSchemaProps,
        part,
        (node, path) => {
          if (path.endsWith("[]") || path.endsWith("{}")) return;
          expect(node.description, `${def.kind} ${path} has a description`).toBeTruthy();
        },
      );
    }
  });

  it("bounds every spec list and every string a CEL rule walks, so rule cost is bounded", () => {
    const spec = (schema.properties as Record<string, JSONSchemaProps>).spec as JSONSchemaProps;
    walk(spec, "spec", (node, path) => {
      if (node.type === "array") expect(node.maxItems, `${path} maxItems`).toBeTypeOf("number");
      const rules = (node["x-kubernetes-validations"] ?? []) as { rule: string }[];
      if (node.type === "string" && rules.length > 0)
        expect(node.maxLength, `${path} maxLength`).toBeTypeOf("number");
    });
  });
});

describe("CEL rules", () => {
  it("ModelVersion: version, artifact, modelName, runtime immutable; optional fields covered at spec", () => {
    for (const f of ["spec.version", "spec.artifact", "spec.modelName", "spec.runtime"]) {
      expect(rulesAt("ModelVersion", f)).toContain("self == oldSelf");
    }
    const specRules = rulesAt("ModelVersion", "spec").join("\n");
    for (const f of ["signature", "lineage", "metrics", "reference"])
      expect(specRules).toContain(`oldSelf.${f}`);
    expect(rulesAt("ModelVersion", "spec.stage")).toEqual([]);
  });

  it("ModelVersion: reference distributions are checked", () => {
    const rules = rulesAt("ModelVersion", "spec.reference.features[]").join("\n");
    expect(rules).toContain("size(self.edges) == size(self.fractions) + 1");
    expect(rules).toContain("has(self.categories)");
    expect(rules).toContain("isSorted()");
  });

  it("ModelDeployment: exactly-one rules on strategy, step, router and metric", () => {
    expect(rulesAt("ModelDeployment", "spec.strategy")[0]).toContain("has(self.canary)");
    expect(rulesAt("ModelDeployment", "spec.strategy.canary.steps[]")[0]).toContain("has(self.setWeight)");
    expect(rulesAt("ModelDeployment", "spec.trafficRouting")[0]).toContain("has(self.istio)");
    expect(rulesAt("ModelDeployment", "spec.strategy.canary.analysis.metrics[]")[0]).toBe(
      "has(self.builtin) != has(self.query)",
    );
    expect(rulesAt("ModelDeployment", "spec.strategy.shadow")[0]).toContain("has(self.duration)");
    const weight = nodeAt("ModelDeployment", "spec.strategy.canary.steps[].setWeight");
    expect([weight.minimum, weight.maximum]).toEqual([0, 100]);
  });

  it("ModelDeployment: tolerations are checked as in a Pod, at most 32", () => {
    const tolerations = nodeAt("ModelDeployment", "spec.template.tolerations");
    expect(tolerations.maxItems).toBe(32);
    const rules = rulesAt("ModelDeployment", "spec.template.tolerations[]");
    expect(rules).toEqual([
      "!(has(self.operator) && self.operator == 'Exists' && has(self.value) && self.value != '')",
      "(has(self.key) && self.key != '') || (has(self.operator) && self.operator == 'Exists')",
      "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
    ]);
    expect(nodeAt("ModelDeployment", "spec.template.tolerations[].operator").enum).toEqual([
      "Exists",
      "Equal",
    ]);
    expect(nodeAt("ModelDeployment", "spec.template.tolerations[].effect").enum).toEqual([
      "NoSchedule",
      "PreferNoSchedule",
      "NoExecute",
    ]);
    expect(nodeAt("ModelDeployment", "spec.template.tolerations[].tolerationSeconds").type).toBe("integer");
  });

  it("durations are checked with a CEL rule that names the bad value", () => {
    const interval = nodeAt("DriftMonitor", "spec.interval");
    expect(interval.default).toBe("5m");
    expect(rulesAt("DriftMonitor", "spec.interval")[0]).toContain("self.matches(r'");
  });

  it("rules only use single-quoted CEL strings without invalid escapes", () => {
    for (const { crd } of crds) {
      walk(versionOf(crd).schema.openAPIV3Schema, "", (node) => {
        for (const r of (node["x-kubernetes-validations"] ?? []) as { rule: string }[]) {
          // A backslash is only valid inside raw strings (r'...') here.
          if (r.rule.includes("\\")) expect(r.rule).toMatch(/r'[^']*\\/);
        }
      });
    }
  });
});

describe("printer columns and scale", () => {
  const columns = (kind: string) =>
    (
      versionOf(crds.find((c) => c.def.kind === kind)?.crd as ReturnType<typeof buildCrd>)
        .additionalPrinterColumns as {
        name: string;
      }[]
    ).map((c) => c.name);

  it("lists the documented columns", () => {
    expect(columns("ModelVersion")).toEqual(["Model", "Version", "Stage", "Phase", "Age"]);
    expect(columns("ModelDeployment")).toEqual([
      "Phase",
      "Stable",
      "Canary",
      "Weight",
      "Ready",
      "Desired",
      "Age",
      "URL",
    ]);
    expect(columns("DriftMonitor")).toEqual(["Target", "Verdict", "Last Evaluated", "Age"]);
  });

  it("gives ModelDeployment a scale subresource", () => {
    const mdep = crds.find((c) => c.def.kind === "ModelDeployment")?.crd as ReturnType<typeof buildCrd>;
    expect((versionOf(mdep).subresources as Record<string, unknown>).scale).toEqual({
      specReplicasPath: ".spec.replicas",
      statusReplicasPath: ".status.replicas",
      labelSelectorPath: ".status.selector",
    });
    expect(nodeAt("ModelDeployment", "status.selector").type).toBe("string");
  });
});

describe("toStructural", () => {
  it("rejects unions other than int-or-string", () => {
    expect(() => zodToStructural(z.object({ a: z.union([z.string(), z.boolean()]).describe("a") }))).toThrow(
      /unions/,
    );
  });

  it("rejects $ref and untyped nodes", () => {
    expect(() => toStructural({ $ref: "#/x" })).toThrow(/\$ref/);
    expect(() => toStructural({ description: "no type" })).toThrow(/type/);
  });

  it("turns records into additionalProperties and drops strictness", () => {
    const out = zodToStructural(z.object({ m: z.record(z.string(), z.number()), e: z.object({}).strict() }));
    const props = out.properties as Record<string, JSONSchemaProps>;
    expect(props.m).toEqual({ type: "object", additionalProperties: { type: "number" } });
    expect(props.e).toEqual({ type: "object" });
  });
});

describe("crds/", () => {
  it("is up to date with the schemas (run `npm run generate` if this fails)", () => {
    expect(staleFiles()).toEqual([]);
  });

  it("renders deterministically with the do-not-edit header", () => {
    const a = renderCrds();
    const b = renderCrds();
    expect([...a.keys()]).toEqual([
      "modelops.io_modelversions.yaml",
      "modelops.io_modeldeployments.yaml",
      "modelops.io_driftmonitors.yaml",
    ]);
    for (const [name, text] of a) {
      expect(text).toBe(b.get(name));
      expect(text.startsWith("# generated by hack/generate-crds.ts; do not edit\n")).toBe(true);
      expect(text).not.toContain("&ref");
    }
  });
});
