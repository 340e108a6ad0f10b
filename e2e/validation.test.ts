// Bad manifests are rejected by the real apiserver at apply time (schema and
// CEL rules of the generated CRDs), with a message naming the field and rule.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";

const dir = "e2e/fixtures/invalid";
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith(".yaml"))
  .map((file) => {
    const text = readFileSync(join(dir, file), "utf8");
    const expected = /^# expect: (.+)$/m.exec(text)?.[1];
    if (!expected) throw new Error(`${file} has no "# expect:" line`);
    return { file, text, expected };
  });

let ns: TestNamespace;

describe("invalid manifests", () => {
  beforeAll(async () => {
    ns = await createTestNamespace("invalid", inject("kubeconfig"), inject("binDir"));
  });
  afterAll(async () => {
    await ns?.delete();
  });

  it("has at least eight cases", () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(8);
  });

  it.each(fixtures)("rejects $file", async ({ text, expected }) => {
    const result = await ns.kubectl(["apply", "-f", "-"], text);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(expected);
    const kind = /^kind: (\w+)$/m.exec(text)?.[1] ?? "";
    const name = /^ {2}name: (\S+)$/m.exec(text)?.[1] ?? "";
    expect(await ns.getJson(kind, name)).toBeUndefined(); // nothing half-created
  });

  // One character more is refused (fixtures *-name-too-long.yaml); names at
  // the limit are accepted, and reconcile-errors.test.ts shows they are served.
  it("accepts the longest names whose derived names are valid", async () => {
    const version = "iris-classifier-trained-on-the-may-2024-snapshot-with-new-featu";
    const mdep = "payments-fraud-detector-for-card-transactions-in-europe";
    const monitor = "drift-of-the-payments-fraud-detector-for-card-transactions-in-e";
    expect([version.length, mdep.length, monitor.length]).toEqual([63, 55, 63]);
    const sample = readFileSync("config/samples/modelversion.yaml", "utf8");
    const result = await ns.kubectl(
      ["apply", "-f", "-"],
      `${sample.replace("name: iris-classifier-v1", `name: ${version}`)}
---
apiVersion: modelops.io/v1alpha1
kind: ModelDeployment
metadata: {name: ${mdep}}
spec: {modelVersion: ${version}}
---
apiVersion: modelops.io/v1alpha1
kind: DriftMonitor
metadata: {name: ${monitor}}
spec: {targetRef: {name: ${mdep}}}
`,
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });

  it("accepts setHeaderRoute steps on the gatewayAPI and istio routers", async () => {
    const mdep = (name: string, routing: string) => `apiVersion: modelops.io/v1alpha1
kind: ModelDeployment
metadata: {name: ${name}}
spec:
  modelVersion: iris-classifier-v1
  trafficRouting: ${routing}
  strategy:
    canary:
      steps:
      - setHeaderRoute:
          match: [{header: x-cohort, value: beta}, {header: x-team, regex: "ml|data"}, {cookie: cohort, value: beta}]
      - pause: {}
      - setHeaderRoute: {match: []}
      - setWeight: 50
`;
    const result = await ns.kubectl(
      ["apply", "-f", "-"],
      `${mdep("header-route-gateway", "{gatewayAPI: {httpRoute: iris}}")}---\n${mdep("header-route-istio", "{istio: {virtualService: iris}}")}`,
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });

  it("keeps a ModelVersion immutable except its stage", async () => {
    await ns.kubectlOk(["apply", "-f", "config/samples/modelversion.yaml"]);
    const sample = readFileSync("config/samples/modelversion.yaml", "utf8");

    const newVersion = await ns.kubectl(
      ["apply", "-f", "-"],
      sample.replace('version: "1"', 'version: "1b"'),
    );
    expect(newVersion.code).not.toBe(0);
    expect(newVersion.stderr).toContain("spec.version: Invalid value");
    expect(newVersion.stderr).toContain("version is immutable: create a new ModelVersion");

    const newArtifact = await ns.kubectl(
      ["apply", "-f", "-"],
      sample.replace("pvc://models/iris-classifier/v1", "pvc://models/iris-classifier/v1-retrained"),
    );
    expect(newArtifact.code).not.toBe(0);
    expect(newArtifact.stderr).toContain("artifact is immutable");

    const promoted = await ns.kubectl(
      ["apply", "-f", "-"],
      sample.replace("stage: Production", "stage: Archived"),
    );
    expect(promoted.stderr).toBe("");
    expect(promoted.code).toBe(0);
  });
});
