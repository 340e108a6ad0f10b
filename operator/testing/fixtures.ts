// Objects shared by the core's unit tests.
import type { ModelDeployment, ModelVersion } from "../api/index.ts";

export function modelVersion(name = "iris-v1", overrides: Partial<ModelVersion["spec"]> = {}): ModelVersion {
  return {
    apiVersion: "modelops.io/v1alpha1",
    kind: "ModelVersion",
    metadata: { name, namespace: "ml", uid: `uid-${name}`, generation: 1 },
    spec: {
      modelName: "iris",
      version: name.replace(/^iris-/, ""),
      artifact: { uri: `pvc://models/iris/${name}`, format: "sklearn" },
      runtime: { name: "mlserver", image: "seldonio/mlserver:1.7.1", protocol: "v2", port: 8080 },
      stage: "None",
      ...overrides,
    },
  } as ModelVersion;
}

export function modelDeployment(version = "iris-v1", status?: ModelDeployment["status"]): ModelDeployment {
  return {
    apiVersion: "modelops.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: "iris", namespace: "ml", uid: "uid-mdep", generation: 2 },
    spec: { modelVersion: version, replicas: 3, progressDeadlineSeconds: 600 },
    ...(status ? { status } : {}),
  } as ModelDeployment;
}
