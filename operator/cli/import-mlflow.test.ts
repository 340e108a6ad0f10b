import yaml from "js-yaml";
import { describe, expect, it } from "vitest";
import { modelVersionSchema } from "../api/modelversion.ts";
import {
  buildModelVersion,
  formatFromFlavors,
  k8sName,
  renderManifest,
  signatureFields,
} from "./import-mlflow.ts";

const mlmodel = {
  flavors: {
    python_function: { loader_module: "mlflow.sklearn", model_path: "model.pkl" },
    sklearn: { pickled_model: "model.pkl", serialization_format: "cloudpickle", sklearn_version: "1.5.2" },
  },
  signature: {
    inputs:
      '[{"type": "double", "name": "sepal_length", "required": true}, {"type": "string", "name": "colour"}]',
    outputs: '[{"type": "long", "name": "species", "required": true}]',
  },
};

describe("formatFromFlavors", () => {
  it("serves a pickled sklearn model with MLServer's sklearn runtime", () => {
    expect(formatFromFlavors(mlmodel.flavors)).toEqual({
      format: "sklearn",
      framework: "scikit-learn 1.5.2",
    });
  });
  it("falls back to the MLflow runtime for files the native runtimes do not load", () => {
    expect(
      formatFromFlavors({ sklearn: { pickled_model: "model.skops", serialization_format: "skops" } }).format,
    ).toBe("mlflow");
    expect(
      formatFromFlavors({ xgboost: { data: "model.xgb", xgb_version: "2.1" }, python_function: {} }),
    ).toMatchObject({ format: "mlflow", framework: "xgboost 2.1" });
    expect(formatFromFlavors({ xgboost: { data: "model.ubj", xgb_version: "2.1" } }).format).toBe("xgboost");
    expect(formatFromFlavors({ python_function: {}, transformers: {} })).toEqual({
      format: "mlflow",
      framework: "transformers",
    });
    expect(() => formatFromFlavors({ onnx: {} })).toThrow(/python_function/);
  });
});

describe("signatureFields", () => {
  it("maps column types to OIP datatypes; the reference's categorical names win", () => {
    expect(signatureFields(mlmodel.signature.outputs, new Set(["species"])).fields).toEqual([
      { name: "species", type: "categorical", datatype: "INT64" },
    ]);
    expect(signatureFields(mlmodel.signature.inputs, new Set()).fields).toEqual([
      { name: "sepal_length", type: "numeric", datatype: "FP64" },
      { name: "colour", type: "categorical", datatype: "BYTES" },
    ]);
    expect(
      signatureFields('[{"type": "tensor", "tensor-spec": {"dtype": "float32"}}]', new Set()).note,
    ).toMatch(/unnamed tensors/);
  });
});

describe("buildModelVersion", () => {
  const built = buildModelVersion({
    trackingUri: "https://user:pw@mlflow.example/",
    version: { name: "Fraud Model", version: "7", run_id: "r1" },
    alias: "champion",
    mlmodel,
    run: {
      info: { run_id: "r1", experiment_id: "1" },
      data: {
        metrics: [
          { key: "accuracy", value: 0.5, step: 0, timestamp: 1 },
          { key: "accuracy", value: 0.9, step: 1, timestamp: 2 },
        ],
        tags: [
          { key: "mlflow.user", value: "alice" },
          { key: "mlflow.source.git.commit", value: "abc123" },
        ],
      },
      inputs: { dataset_inputs: [{ dataset: { name: "fraud", digest: "d1g35t" } }] },
    },
    reference: {
      sampleSize: 10,
      features: [{ name: "sepal_length", type: "numeric", edges: [0, 1], fractions: [1] }],
      predictions: [{ name: "species", type: "categorical", categories: { "0": 1 } }],
    },
    opts: { stage: "Staging" },
  });

  it("pins the version number, says the alias was resolved, and keeps credentials out", () => {
    const text = renderManifest(built);
    expect(text).toMatch(/^# .*"Fraud Model" version 7/);
    expect(text).toMatch(/alias "champion" pointed at version 7/);
    expect(text).not.toContain("pw");
    const doc = yaml.load(text.replace(/^#.*\n/gm, "")) as Record<string, unknown>;
    expect(doc).toMatchObject({
      metadata: { name: "fraud-model-v7" },
      spec: {
        modelName: "Fraud-Model",
        version: "7",
        stage: "Staging",
        artifact: {
          uri: "models:/Fraud Model/7",
          format: "sklearn",
          mlflow: { trackingUri: "https://mlflow.example" },
        },
        lineage: { trainingRun: "r1", dataset: "fraud@d1g35t", gitCommit: "abc123", createdBy: "alice" },
        metrics: { accuracy: 0.9 },
      },
    });
    expect(modelVersionSchema.safeParse(doc).success).toBe(true);
  });

  it("leaves out a malformed reference and says why", () => {
    const b = buildModelVersion({
      trackingUri: "http://10.0.0.1:5000",
      version: { name: "m", version: "1" },
      mlmodel,
      reference: { features: [{ name: "x", type: "numeric", edges: [1] }] },
      opts: {},
    });
    expect(b.manifest.spec).not.toHaveProperty("reference");
    expect(b.comments.join("\n")).toMatch(/modelops-reference.json left out/);
    expect((b.manifest.spec as { artifact: { allowHttp?: boolean } }).artifact.allowHttp).toBe(true);
  });

  it("makes DNS-label names", () => {
    expect(k8sName("My_Model--v1.2")).toBe("my-model-v1-2");
  });
});
