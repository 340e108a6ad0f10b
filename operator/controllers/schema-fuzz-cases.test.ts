// The cases operator/controllers/schema-fuzz.test.ts found, kept as a table
// (each failed, or hung, before its fix), and objects at the schema's
// maximum sizes, which random generation reaches too rarely.
import { describe, expect, it } from "vitest";
import {
  type DriftMethod,
  driftMonitorSchema,
  driftMonitorStatusSchema,
  type ModelVersion,
  modelDeploymentSchema,
  modelVersionSchema,
  modelVersionStatusSchema,
} from "../api/index.ts";
import { canonicalQuantity } from "../core/quantity.ts";
import { desiredDeployment, revisionHash } from "../core/workload.ts";
import { evaluateDrift } from "../drift/evaluate.ts";
import { expectParses, expectValidDeployment, modelVersionStatus, NOW } from "../testing/schema-checks.ts";
import { composeDriftStatus } from "./driftmonitor/status.ts";

/** Objects at the schema's maximum sizes, where a message or list built from them may outgrow status. */
describe("the largest objects the schema admits", () => {
  const bucket = (name: string) => ({ name, type: "numeric" as const, edges: [0, 0], fractions: [0.5] });
  const names = (prefix: string) => Array.from({ length: 256 }, (_, i) => `${prefix}${"ü".repeat(120)}${i}`);

  it("a ModelVersion whose 512 reference entries are all wrong is Invalid with a status the CRD accepts", () => {
    const mv = {
      apiVersion: "modelops.io/v1alpha1",
      kind: "ModelVersion",
      metadata: { name: "m".repeat(63), namespace: "ns" },
      spec: {
        modelName: "m",
        version: "1",
        artifact: { uri: `s3://${"b".repeat(2040)}`, format: "sklearn" },
        runtime: { name: "triton", image: "i" },
        reference: { features: names("f").map(bucket), predictions: names("p").map(bucket) },
      },
    };
    const parsed = admittedOne(mv);
    const { problems, status } = modelVersionStatus(parsed);
    expect(problems.map((p) => p.reason)).toContain("InvalidReference");
    expect(problems.at(-1)?.message).toMatch(/and \d+ more problems in spec.reference/);
    expectParses(modelVersionStatusSchema, status);
  });
});

function admittedOne(x: unknown): ModelVersion {
  return modelVersionSchema.parse(x);
}

/** What the properties found, kept as cases: each failed (or hung) before its fix. */
describe("cases the properties found", () => {
  it.each([
    ["1e99999999", "1e99999999"],
    ["1e-99999999", "1e-99999999"],
    ["7e+999999999999", "7e+999999999999"],
    ["0e99999999", "0"],
    ["0.5", "500m"],
  ])("quantity %s formats at once (it hung the reconcile computing 10^99999999) as %s", (q, want) => {
    expect(canonicalQuantity(q)).toBe(want);
  });

  const feature = (
    type: "numeric" | "categorical",
    reference: number[],
    live: number[],
    method?: DriftMethod,
  ) => ({
    name: "f",
    kind: "Feature" as const,
    type,
    reference,
    live,
    edges: type === "numeric" ? reference.map((_, i) => i).concat(reference.length) : undefined,
    method,
  });
  it.each([
    ["a count beyond int64 made sampleSize unwritable", feature("categorical", [1, 0], [1e308, 0])],
    [
      "counts of +Inf summed to Infinity (null in JSON)",
      feature("numeric", [0.5, 0.5], [Number.POSITIVE_INFINITY, 1]),
    ],
    [
      "chi-square overflowed to Infinity (null in JSON)",
      feature("categorical", [1, 0], [1.3e158, 5e-324], "chiSquare"),
    ],
  ])("drift: %s; status stays writable", (_why, f) => {
    const evaluation = evaluateDrift({ features: [f], minSampleSize: 1, correction: "none" });
    const dm = driftMonitorSchema.parse({
      apiVersion: "modelops.io/v1alpha1",
      kind: "DriftMonitor",
      metadata: { name: "d" },
      spec: { targetRef: { name: "m" } },
    });
    expectParses(
      driftMonitorStatusSchema,
      composeDriftStatus({
        dm,
        outcome: { kind: "evaluated", evaluation },
        criticalSince: undefined,
        actions: undefined,
        now: NOW,
      }),
    );
  });
});

describe("a template cannot give pods more than the operator's own", () => {
  it("keeps the pods' revision labels whatever spec.template.labels says, so they join no other selector", () => {
    const mv = admittedOne({
      apiVersion: "modelops.io/v1alpha1",
      kind: "ModelVersion",
      metadata: { name: "v1", namespace: "ns" },
      spec: {
        modelName: "m",
        version: "1",
        artifact: { uri: "pvc://models/m", format: "sklearn" },
        runtime: { name: "mlserver", image: "i" },
      },
    });
    const mdep = modelDeploymentSchema.parse({
      apiVersion: "modelops.io/v1alpha1",
      kind: "ModelDeployment",
      metadata: { name: "mine", namespace: "ns", uid: "u" },
      spec: {
        modelVersion: "v1",
        template: {
          labels: {
            "modelops.io/deployment": "theirs",
            "modelops.io/revision": "abc",
            "modelops.io/version": "x",
            app: "theirs",
          },
        },
      },
    });
    const d = desiredDeployment(mdep, mv, revisionHash(mdep, mv), 1);
    expectValidDeployment(d, mdep, mv);
    expect(d.spec.template.metadata?.labels).toMatchObject({
      "modelops.io/deployment": "mine",
      "modelops.io/version": "v1",
    });
  });
});
