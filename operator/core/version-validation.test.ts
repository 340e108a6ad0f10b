import { describe, expect, it } from "vitest";
import { modelVersion } from "../testing/fixtures.ts";
import { validateModelVersion } from "./version-validation.ts";

describe("validateModelVersion", () => {
  it("accepts a pvc artifact on mlserver with a proper reference", () => {
    const mv = modelVersion("iris-v1", {
      reference: {
        features: [
          { name: "petal_length", type: "numeric", edges: [0, 2, 4, 8], fractions: [0.2, 0.5, 0.3] },
          { name: "colour", type: "categorical", categories: { red: 0.5, blue: 0.5 } },
        ],
      },
    } as never);
    expect(validateModelVersion(mv)).toEqual([]);
  });

  it.each([
    ["gs://bucket/model", "mlserver", "UnsupportedArtifactScheme"],
    ["hf://org/model", "triton", "UnsupportedArtifactScheme"],
    ["bucket/model", "mlserver", "InvalidArtifactURI"],
    ["file://relative/path", "mlserver", "InvalidArtifactURI"],
  ])("rejects %s on %s", (uri, runtime, reason) => {
    const mv = modelVersion("x", {
      artifact: { uri, format: "sklearn" },
      runtime: { name: runtime, image: "img", protocol: "v2", port: 8080 },
    } as never);
    expect(validateModelVersion(mv).map((p) => p.reason)).toEqual([reason]);
  });

  it.each(["s3://bucket/model", "https://models.example.org/iris.tar.gz"])(
    "accepts %s on a built-in runtime: the fetcher downloads it",
    (uri) => {
      const mv = modelVersion("x", { artifact: { uri, format: "sklearn" } } as never);
      expect(validateModelVersion(mv)).toEqual([]);
    },
  );

  it("needs a tracking server for an MLflow registry version, from the version or the operator", () => {
    const mv = modelVersion("x", { artifact: { uri: "models:/iris/3", format: "sklearn" } } as never);
    expect(validateModelVersion(mv).map((p) => p.reason)).toEqual(["MLflowTrackingURIMissing"]);
    expect(validateModelVersion(mv, { mlflowTrackingUri: "http://mlflow.mlops:5000" })).toEqual([]);
    const named = modelVersion("x", {
      artifact: { uri: "models:/iris/3", format: "sklearn", mlflow: { trackingUri: "https://mlflow" } },
    } as never);
    expect(validateModelVersion(named)).toEqual([]);
  });

  it("lets a custom runtime load any scheme itself", () => {
    const mv = modelVersion("x", {
      artifact: { uri: "oci://registry/model" },
      runtime: { name: "custom", image: "img", protocol: "v2", port: 8080 },
    } as never);
    expect(validateModelVersion(mv)).toEqual([]);
  });

  it("names the feature whose fractions do not sum to 1", () => {
    const mv = modelVersion("x", {
      reference: { features: [{ name: "age", type: "numeric", edges: [0, 1, 2], fractions: [0.5, 0.3] }] },
    } as never);
    const problems = validateModelVersion(mv);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/spec\.reference\.features\[0\] \(age\).*sum to 0\.8000/);
  });

  it("rejects edges that are not ascending", () => {
    const mv = modelVersion("x", {
      reference: {
        predictions: [{ name: "score", type: "numeric", edges: [0, 2, 1], fractions: [0.5, 0.5] }],
      },
    } as never);
    expect(validateModelVersion(mv)[0]?.message).toMatch(/strictly ascending/);
  });
});
