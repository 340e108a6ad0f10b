import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import {
  driftMonitorSchema,
  type ModelDeploymentInput,
  modelDeploymentSchema,
  modelVersionSchema,
  parseDurationMs,
} from "./index.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const SCHEMAS: Record<string, z.ZodType> = {
  ModelVersion: modelVersionSchema,
  ModelDeployment: modelDeploymentSchema,
  DriftMonitor: driftMonitorSchema,
};

function load(path: string): { kind: string } & Record<string, unknown> {
  return yaml.load(readFileSync(path, "utf8")) as { kind: string } & Record<string, unknown>;
}

const sampleDir = join(ROOT, "config", "samples");
const samples = readdirSync(sampleDir).filter((f) => f !== "kustomization.yaml");
const invalidDir = join(ROOT, "e2e", "fixtures", "invalid");
const invalid = readdirSync(invalidDir).filter((f) => f.endsWith(".yaml"));

describe("samples", () => {
  it("include every kind", () => {
    expect(samples.map((f) => load(join(sampleDir, f)).kind).sort()).toEqual([
      "DriftMonitor",
      "ModelDeployment",
      "ModelVersion",
      "ModelVersion",
    ]);
  });

  it.each(samples)("%s parses", (file) => {
    const obj = load(join(sampleDir, file));
    const result = (SCHEMAS[obj.kind] as z.ZodType).safeParse(obj);
    expect(result.error?.issues ?? []).toEqual([]);
  });

  it("are listed in kustomization.yaml", () => {
    const k = yaml.load(readFileSync(join(sampleDir, "kustomization.yaml"), "utf8")) as {
      resources: string[];
    };
    expect([...k.resources].sort()).toEqual([...samples].sort());
  });
});

describe("invalid fixtures", () => {
  it("are at least 10, each with an expect comment naming a field", () => {
    expect(invalid.length).toBeGreaterThanOrEqual(10);
    for (const file of invalid) {
      expect(readFileSync(join(invalidDir, file), "utf8")).toMatch(/^# expect: (spec|metadata)\.\S+/);
    }
  });

  // zod mirrors the CEL rules, so the operator never trusts an object the apiserver would reject.
  it.each(invalid)("%s is rejected by zod too", (file) => {
    const obj = load(join(invalidDir, file));
    expect((SCHEMAS[obj.kind] as z.ZodType).safeParse(obj).success).toBe(false);
  });
});

const meta = { name: "iris" };

describe("defaults", () => {
  it("fills ModelDeployment defaults", () => {
    const input: ModelDeploymentInput = {
      apiVersion: "modelops.io/v1alpha1",
      kind: "ModelDeployment",
      metadata: meta,
      spec: {
        modelVersion: "iris-v1",
        strategy: {
          canary: { steps: [{ analysis: { metrics: [{ name: "e", builtin: "errorRate", max: 0.01 }] } }] },
        },
      },
    };
    const md = modelDeploymentSchema.parse(input);
    expect(md.spec.replicas).toBe(1);
    expect(md.spec.paused).toBe(false);
    expect(md.spec.progressDeadlineSeconds).toBe(600);
    const analysis = md.spec.strategy?.canary?.steps[0]?.analysis;
    expect(analysis?.interval).toBe("1m");
    expect(analysis?.failureLimit).toBe(0);
    expect(analysis?.metrics[0]?.noData).toBe("Inconclusive");
  });

  it("fills ModelVersion and DriftMonitor defaults", () => {
    const mv = modelVersionSchema.parse({
      apiVersion: "modelops.io/v1alpha1",
      kind: "ModelVersion",
      metadata: meta,
      spec: {
        modelName: "iris",
        version: "1",
        artifact: { uri: "pvc://models/iris", format: "sklearn" },
        runtime: { name: "mlserver", image: "seldonio/mlserver:1.7.1", env: [{ name: "A" }] },
      },
    });
    expect(mv.spec.stage).toBe("None");
    expect(mv.spec.runtime.protocol).toBe("v2");
    expect(mv.spec.runtime.port).toBe(8080);
    expect(mv.spec.runtime.env?.[0]?.value).toBe("");
    const dm = driftMonitorSchema.parse({
      apiVersion: "modelops.io/v1alpha1",
      kind: "DriftMonitor",
      metadata: meta,
      spec: { targetRef: { name: "iris" }, features: [{ name: "x" }], actions: {} },
    });
    expect(dm.spec).toMatchObject({
      interval: "5m",
      window: "1h",
      minSampleSize: 100,
      correction: "benjaminiHochberg",
      predictions: true,
      features: [{ name: "x" }], // method omitted: chosen by feature type and sample size
      actions: { rollback: false },
    });
  });
});

describe("rules mirrored in zod", () => {
  const mdep = (spec: Record<string, unknown>) =>
    modelDeploymentSchema.safeParse({
      apiVersion: "modelops.io/v1alpha1",
      kind: "ModelDeployment",
      metadata: meta,
      spec: { modelVersion: "v1", ...spec },
    }).success;

  it("accepts each strategy and router alone", () => {
    expect(mdep({ strategy: { blueGreen: {} } })).toBe(true);
    expect(mdep({ strategy: { shadow: { duration: "10m" } } })).toBe(true);
    expect(mdep({ trafficRouting: { istio: { virtualService: "iris" } } })).toBe(true);
    expect(mdep({ trafficRouting: { replicas: {} } })).toBe(true);
  });

  it("rejects empty or ambiguous choices", () => {
    expect(mdep({ trafficRouting: {} })).toBe(false);
    expect(mdep({ strategy: { canary: { steps: [{}] } } })).toBe(false);
    expect(mdep({ strategy: { canary: { steps: [{ setWeight: 10 }] }, shadow: { duration: "1m" } } })).toBe(
      false,
    );
  });

  it("checks tolerations as the apiserver checks a Pod's", () => {
    const tolerate = (...tolerations: Record<string, unknown>[]) => mdep({ template: { tolerations } });
    expect(tolerate({ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" })).toBe(true);
    expect(tolerate({ key: "dedicated", value: "ml" })).toBe(true); // operator Equal by default
    expect(tolerate({ operator: "Exists" })).toBe(true); // every taint
    expect(tolerate({ key: "", operator: "Exists", value: "" })).toBe(true);
    expect(tolerate({ key: "k", effect: "NoExecute", tolerationSeconds: 300 })).toBe(true);
    expect(tolerate({ key: "k", operator: "Exists", value: "v" })).toBe(false);
    expect(tolerate({ value: "v" })).toBe(false); // no key needs Exists
    expect(tolerate({ key: "k", effect: "NoSchedule", tolerationSeconds: 300 })).toBe(false);
    expect(tolerate({ key: "k", operator: "In" })).toBe(false);
    expect(tolerate({ key: "k", effect: "Evict" })).toBe(false);
    expect(tolerate({ key: "bad key" })).toBe(false);
    expect(tolerate({ key: "k", effect: "NoExecute", tolerationSeconds: 1.5 })).toBe(false);
    expect(tolerate(...Array.from({ length: 33 }, () => ({ operator: "Exists" })))).toBe(false);
    const issue = modelDeploymentSchema.safeParse({
      apiVersion: "modelops.io/v1alpha1",
      kind: "ModelDeployment",
      metadata: meta,
      spec: { modelVersion: "v1", template: { tolerations: [{ key: "k", operator: "Exists", value: "v" }] } },
    }).error?.issues[0];
    expect(issue?.path).toEqual(["spec", "template", "tolerations", 0, "value"]);
    expect(issue?.message).toContain("remove value, or use operator Equal");
  });

  it("checks drift thresholds by method", () => {
    const dm = (feature: Record<string, unknown>) =>
      driftMonitorSchema.safeParse({
        apiVersion: "modelops.io/v1alpha1",
        kind: "DriftMonitor",
        metadata: meta,
        spec: { targetRef: { name: "iris" }, features: [{ name: "x", ...feature }] },
      }).success;
    expect(dm({ method: "psi", warning: 0.1, critical: 0.25 })).toBe(true);
    expect(dm({ method: "ks", warning: 0.05, critical: 0.01 })).toBe(true);
    expect(dm({ method: "ks", warning: 0.01, critical: 0.05 })).toBe(false);
    expect(dm({ method: "chiSquare", warning: 2 })).toBe(false);
  });
});

describe("parseDurationMs", () => {
  it.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h30m", 5_400_000],
    ["1.5h", 5_400_000],
  ])("%s = %d ms", (d, ms) => {
    expect(parseDurationMs(d)).toBe(ms);
  });

  it.each(["", "5 minutes", "10", "1d", "-1s"])("rejects %j", (d) => {
    expect(() => parseDurationMs(d)).toThrow(/duration/);
  });
});
