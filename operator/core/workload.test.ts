import { describe, expect, it } from "vitest";
import { modelDeployment, modelVersion } from "./fixtures.ts";
import { desiredDeployment, desiredService, revisionHash } from "./workload.ts";

type Container = {
  image: string;
  args?: string[];
  env: { name: string; value: string }[];
  volumeMounts?: { mountPath: string; subPath?: string; readOnly: boolean }[];
  readinessProbe: { httpGet: { path: string } };
};
type PodSpec = { containers: Container[]; volumes?: { persistentVolumeClaim?: { claimName: string } }[] };
type Deployment = {
  metadata: {
    name: string;
    labels: Record<string, string>;
    ownerReferences: { uid: string; controller: boolean }[];
  };
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
};

function deploymentFor(overrides: Parameters<typeof modelVersion>[1] = {}): Deployment {
  const mdep = modelDeployment("iris-v1");
  const mv = modelVersion("iris-v1", overrides);
  return desiredDeployment(mdep, mv, revisionHash(mdep, mv), 3) as unknown as Deployment;
}

const envOf = (c: Container) => Object.fromEntries(c.env.map((e) => [e.name, e.value]));

describe("desiredDeployment", () => {
  it("mounts a pvc artifact read-only and tells MLServer where and how to load it", () => {
    const d = deploymentFor();
    const container = d.spec.template.spec.containers[0] as Container;
    expect(d.spec.template.spec.volumes?.[0]?.persistentVolumeClaim?.claimName).toBe("models");
    expect(container.volumeMounts).toEqual([
      { name: "model", mountPath: "/mnt/models", readOnly: true, subPath: "iris/iris-v1" },
    ]);
    expect(envOf(container)).toMatchObject({
      MLSERVER_MODEL_URI: "/mnt/models",
      MLSERVER_MODEL_NAME: "iris",
      MLSERVER_MODEL_IMPLEMENTATION: "mlserver_sklearn.SKLearnModel",
      MLSERVER_HTTP_PORT: "8080",
    });
    expect(container.readinessProbe.httpGet.path).toBe("/v2/health/ready");
  });

  it("passes a file artifact's path and a custom runtime's URI unchanged", () => {
    const triton = deploymentFor({
      artifact: { uri: "file:///models/resnet", format: "onnx" },
      runtime: { name: "triton", image: "tritonserver", protocol: "v2", port: 8000 },
    } as never).spec.template.spec;
    expect(triton.volumes).toBeUndefined();
    expect(triton.containers[0]?.args).toContain("--model-repository=/models/resnet");

    const custom = deploymentFor({
      artifact: { uri: "s3://bucket/model.bin", format: "custom" },
      runtime: { name: "custom", image: "my/server", protocol: "v1", port: 9000 },
    } as never).spec.template.spec.containers[0] as Container;
    expect(envOf(custom)).toMatchObject({ MODEL_URI: "s3://bucket/model.bin", PORT: "9000" });
    expect(custom.readinessProbe.httpGet.path).toBe("/v1/models/iris");
  });

  it("labels, selects and owns by revision", () => {
    const d = deploymentFor();
    const revision = d.metadata.labels["modelops.io/revision"] as string;
    expect(d.metadata.name).toBe(`iris-${revision}`);
    expect(d.spec.selector.matchLabels).toEqual({
      "modelops.io/deployment": "iris",
      "modelops.io/revision": revision,
    });
    expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
    expect(d.metadata.ownerReferences).toEqual([
      expect.objectContaining({ uid: "uid-mdep", controller: true }),
    ]);
    expect(d.spec.replicas).toBe(3);
  });
});

describe("desiredService", () => {
  it("routes port 80 to the serving revision's http port", () => {
    const svc = desiredService(modelDeployment(), "iris", "abc") as {
      spec: { selector: unknown; ports: unknown };
    };
    expect(svc.spec.selector).toEqual({ "modelops.io/deployment": "iris", "modelops.io/revision": "abc" });
    expect(svc.spec.ports).toEqual([{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }]);
  });
});
