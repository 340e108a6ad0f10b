import { describe, expect, it } from "vitest";
import pkg from "../../package.json" with { type: "json" };
import { DEFAULT_DRAIN_MS, parseProxyConfig } from "../api/proxy-config.ts";
import { desiredServices } from "../controllers/modeldeployment/services.ts";
import { modelDeployment, modelVersion } from "../testing/fixtures.ts";
import { desiredDeployment, desiredService, modelStopDelaySeconds, revisionHash } from "./workload.ts";

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
      artifact: { uri: "oci://registry/model:1", format: "custom" },
      runtime: { name: "custom", image: "my/server", protocol: "v1", port: 9000 },
    } as never).spec.template.spec.containers[0] as Container;
    expect(envOf(custom)).toMatchObject({ MODEL_URI: "oci://registry/model:1", PORT: "9000" });
    expect(custom.readinessProbe.httpGet.path).toBe("/v1/models/iris");
  });

  it("downloads a remote artifact in an init container that alone sees the credentials", () => {
    const mdep = modelDeployment("iris-v1");
    const mv = modelVersion("iris-v1", {
      artifact: {
        uri: "s3://models/iris/v2",
        format: "sklearn",
        sha256: "a".repeat(64),
        secretRef: { name: "iris-s3" },
        s3: { endpoint: "http://seaweed.storage:8333", pathStyle: true },
        allowHttp: true,
      },
    } as never);
    const pod = desiredDeployment(mdep, mv, "r1", 1, { proxyImage: "proxy:1", fetcherImage: "operator:1" })
      .spec.template.spec;
    expect(pod?.volumes).toEqual([{ name: "model", emptyDir: {} }]);
    // The fetcher runs in the operator's image; the sidecar has an image of its own.
    expect(pod?.containers.find((c) => c.name === "modelops-proxy")?.image).toBe("proxy:1");
    const [fetcher] = pod?.initContainers ?? [];
    expect(fetcher).toMatchObject({
      name: "fetch-model",
      image: "operator:1",
      command: ["node", "operator/fetcher/main.ts"],
      envFrom: [{ secretRef: { name: "iris-s3" } }],
      volumeMounts: [{ name: "model", mountPath: "/mnt/models" }],
      terminationMessagePolicy: "FallbackToLogsOnError",
    });
    expect(envOf(fetcher as Container)).toEqual({
      MODELOPS_ARTIFACT_URI: "s3://models/iris/v2",
      MODELOPS_ARTIFACT_DEST: "/mnt/models",
      MODELOPS_ARTIFACT_SHA256: "a".repeat(64),
      MODELOPS_S3_ENDPOINT: "http://seaweed.storage:8333",
      MODELOPS_S3_PATH_STYLE: "true",
      MODELOPS_ARTIFACT_ALLOW_HTTP: "true",
    });
    const model = pod?.containers[0];
    expect(model?.volumeMounts).toEqual([{ name: "model", mountPath: "/mnt/models", readOnly: true }]);
    expect(model?.envFrom).toBeUndefined();
    expect(envOf(model as Container)).toMatchObject({ MLSERVER_MODEL_URI: "/mnt/models" });
  });

  it("names the MLflow server of a registry version: the version's, else the operator's", () => {
    const fetcherEnv = (artifact: object, mlflowTrackingUri?: string) => {
      const mv = modelVersion("iris-v1", { artifact: { format: "sklearn", ...artifact } } as never);
      const pod = desiredDeployment(modelDeployment("iris-v1"), mv, "r1", 1, { mlflowTrackingUri }).spec
        .template.spec;
      return envOf(pod?.initContainers?.[0] as Container);
    };
    expect(
      fetcherEnv({ uri: "models:/iris/3", mlflow: { trackingUri: "https://mlflow" } }, "http://x"),
    ).toMatchObject({
      MLFLOW_TRACKING_URI: "https://mlflow",
    });
    expect(
      fetcherEnv({ uri: "models:/iris/3", mlflow: { trackingUri: "https://mlflow" } }, "http://x"),
    ).not.toHaveProperty("MODELOPS_ARTIFACT_ALLOW_HTTP");
    // The operator's own default is the administrator's choice, so plain http is allowed for it.
    expect(fetcherEnv({ uri: "models:/iris/3" }, "http://mlflow.mlops:5000")).toMatchObject({
      MLFLOW_TRACKING_URI: "http://mlflow.mlops:5000",
      MODELOPS_ARTIFACT_ALLOW_HTTP: "true",
    });
    expect(fetcherEnv({ uri: "https://h/iris.tar.gz" }, "http://mlflow.mlops:5000")).not.toHaveProperty(
      "MLFLOW_TRACKING_URI",
    );
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

describe("tolerations", () => {
  const mv = modelVersion("iris-v1");
  const gpu = [
    { key: "nvidia.com/gpu", operator: "Exists" as const, effect: "NoSchedule" as const },
    { key: "dedicated", value: "ml", effect: "NoExecute" as const, tolerationSeconds: 300 },
  ];
  const withTemplate = (template: NonNullable<ReturnType<typeof modelDeployment>["spec"]["template"]>) => {
    const mdep = modelDeployment("iris-v1");
    mdep.spec.template = template;
    return mdep;
  };
  const nodeSelector = { "nvidia.com/gpu.present": "true" };
  const env = [{ name: "WORKERS", value: "2" }];

  it("puts them on the pod as given, beside the nodeSelector", () => {
    const pod = desiredDeployment(withTemplate({ nodeSelector, tolerations: gpu }), mv, "rev1", 1).spec
      .template.spec;
    expect(pod?.tolerations).toEqual(gpu);
    expect(pod?.nodeSelector).toEqual(nodeSelector);
  });

  it("sets none on the pod when none are given", () => {
    expect(
      desiredDeployment(modelDeployment("iris-v1"), mv, "rev1", 1).spec.template.spec,
    ).not.toHaveProperty("tolerations");
    expect(
      desiredDeployment(withTemplate({ tolerations: [] }), mv, "rev1", 1).spec.template.spec,
    ).not.toHaveProperty("tolerations");
  });

  it("leaves the revision hash of a template without them as it was before the field existed", () => {
    // Pinned: computed by revisionHash before tolerations existed. A change here rolls out every ModelDeployment.
    expect(revisionHash(modelDeployment("iris-v1"), mv)).toBe("5467cc8d83");
    expect(revisionHash(withTemplate({ nodeSelector, env }), mv)).toBe("5186583dc5");
    // An empty list changes nothing on the pod, so it is no new revision either.
    expect(revisionHash(withTemplate({ nodeSelector, tolerations: [], env }), mv)).toBe("5186583dc5");
    expect(revisionHash(withTemplate({ tolerations: [] }), mv)).toBe("5467cc8d83");
  });

  it("makes a new revision when they are set or changed", () => {
    const before = revisionHash(withTemplate({ nodeSelector, env }), mv);
    const tolerating = revisionHash(withTemplate({ nodeSelector, tolerations: gpu, env }), mv);
    expect(tolerating).not.toBe(before);
    const fewer = revisionHash(withTemplate({ nodeSelector, tolerations: gpu.slice(0, 1), env }), mv);
    expect(new Set([before, tolerating, fewer]).size).toBe(3);
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

type AnyContainer = Record<string, unknown> & {
  name: string;
  ports: { name: string; containerPort: number }[];
  env?: { name: string; value: string }[];
  readinessProbe?: { httpGet: { path: string; port: number | string } };
  securityContext: Record<string, unknown>;
};

function podOf(mdep = modelDeployment("iris-v1"), overrides: Parameters<typeof modelVersion>[1] = {}) {
  const mv = modelVersion("iris-v1", overrides);
  const d = desiredDeployment(mdep, mv, "rev1", 1, { proxyImage: "op:1" }) as unknown as {
    spec: {
      template: { metadata: { annotations?: Record<string, string> }; spec: { containers: AnyContainer[] } };
    };
  };
  return d.spec.template;
}

describe("modelops-proxy sidecar", () => {
  it("takes the http port Services target; the model moves to 'model' and is probed through the proxy", () => {
    const pod = podOf();
    const [model, proxy] = pod.spec.containers as [AnyContainer, AnyContainer];
    expect(proxy.name).toBe("modelops-proxy");
    expect(proxy.image).toBe("op:1");
    expect(proxy.ports).toEqual([
      { name: "http", containerPort: 8000, protocol: "TCP" },
      { name: "metrics", containerPort: 9090, protocol: "TCP" },
    ]);
    expect(model.ports).toEqual([{ name: "model", containerPort: 8080, protocol: "TCP" }]);
    expect(model.readinessProbe?.httpGet).toEqual({ path: "/v2/health/ready", port: 8000 });
    expect(proxy.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true });
    expect(pod.metadata.annotations).toMatchObject({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": "9090",
    });
  });

  it("runs the proxy's own image and binary unless the operator names another image", () => {
    const d = desiredDeployment(modelDeployment("iris-v1"), modelVersion("iris-v1"), "rev1", 1);
    const proxy = d.spec.template.spec?.containers.find((c) => c.name === "modelops-proxy");
    expect(proxy?.image).toBe(`modelops-proxy:${pkg.version}`);
    expect(proxy?.command).toEqual(["/modelops-proxy"]);
  });

  it("passes a config the proxy accepts, with the version's signature and reference", () => {
    const [, proxy] = podOf(modelDeployment("iris-v1"), {
      signature: { inputs: [{ name: "x", type: "numeric" }], outputs: [{ name: "y", type: "categorical" }] },
      reference: {
        features: [{ name: "x", type: "numeric", edges: [0, 1, 2], fractions: [0.5, 0.5] }],
        predictions: [{ name: "y", type: "categorical", categories: { a: 0.7, b: 0.3 } }],
      },
    }).spec.containers as [AnyContainer, AnyContainer];
    const config = parseProxyConfig(proxy.env?.find((e) => e.name === "MODELOPS_PROXY_CONFIG")?.value);
    expect(config).toMatchObject({
      namespace: "ml",
      deployment: "iris",
      revision: "rev1",
      version: "iris-v1",
      upstream: "http://127.0.0.1:8080",
      listenPort: 8000,
      reference: {
        features: [{ name: "x", type: "numeric", edges: [0, 1, 2] }],
        predictions: [{ name: "y", type: "categorical", categories: ["a", "b"] }],
      },
    });
    // The replicas router: the proxies ask the canary Service for a share to mirror (none without a shadow).
    expect(config.shadow).toMatchObject({ url: "http://iris-canary.ml.svc:80" });
    expect(config.shadow?.percent).toBeUndefined();
    expect(config.mirrorPercent).toBeUndefined();
  });

  it("never collides with the model server's port", () => {
    const pod = podOf(modelDeployment("iris-v1"), {
      runtime: { name: "triton", image: "t", protocol: "v2", port: 8000 },
    } as never);
    expect(pod.spec.containers[1]?.ports[0]?.containerPort).toBe(8001);
  });

  it("is left out when the ModelDeployment opts out", () => {
    const mdep = modelDeployment("iris-v1");
    mdep.spec.proxy = { enabled: false };
    const pod = podOf(mdep);
    expect(pod.spec.containers.map((c) => c.name)).toEqual(["model"]);
    expect(pod.spec.containers[0]?.ports).toEqual([{ name: "http", containerPort: 8080, protocol: "TCP" }]);
    expect(pod.metadata.annotations).toBeUndefined();
  });

  it("keeps the model serving through the proxy's drain: a preStop sleep on the model container only", () => {
    const [model, proxy] = podOf().spec.containers as [AnyContainer, AnyContainer];
    // The proxy drains DEFAULT_DRAIN_MS (5 s) after SIGTERM and forwards to the model meanwhile.
    expect(DEFAULT_DRAIN_MS).toBe(5_000);
    expect(model.lifecycle).toEqual({ preStop: { sleep: { seconds: 8 } } });
    expect(modelStopDelaySeconds(true)).toBe(8);
    expect(proxy.lifecycle).toBeUndefined();

    const mdep = modelDeployment("iris-v1");
    mdep.spec.proxy = { enabled: false };
    const [alone] = podOf(mdep).spec.containers as [AnyContainer];
    // Without the sidecar, only while the endpoint removal reaches the kube-proxies.
    expect(alone.lifecycle).toEqual({ preStop: { sleep: { seconds: 5 } } });
    expect(modelStopDelaySeconds(false)).toBe(5);
  });
});

describe("shadow on the replicas router", () => {
  const configOf = (mdep: ReturnType<typeof modelDeployment>, revision: string) => {
    const pod = desiredDeployment(mdep, modelVersion("iris-v1"), revision, 1).spec.template.spec;
    const [, proxy] = (pod?.containers ?? []) as [AnyContainer, AnyContainer];
    return parseProxyConfig(proxy.env?.find((e) => e.name === "MODELOPS_PROXY_CONFIG")?.value);
  };
  const shadowStrategy = (mirrorPercent: number) =>
    ({ shadow: { mirrorPercent, scaleDownDelaySeconds: 30, abortScaleDownDelaySeconds: 600 } }) as never;

  it("gives every revision the same config whatever the rollout does, so mirroring never restarts a pod", () => {
    const mdep = modelDeployment("iris-v1");
    mdep.spec.strategy = shadowStrategy(40);
    const stable = configOf(mdep, "s1");
    const shadow = configOf(mdep, "c1");
    expect(stable.shadow).toMatchObject({ url: "http://iris-canary.ml.svc:80" });
    expect(stable.shadow?.percent).toBeUndefined(); // asked of the shadow at run time
    expect(shadow.mirrorPercent).toBe(40); // what it answers while it is the shadow
    mdep.spec.trafficRouting = { istio: { virtualService: "iris" } } as never;
    expect(configOf(mdep, "s1").shadow).toBeUndefined(); // the mesh mirrors
  });

  it("owns an <mdep>-canary Service selecting the shadow revision only while it mirrors", () => {
    const traffic = {
      stableRevision: "s1",
      canaryRevision: "c1",
      previewRevision: undefined,
      canaryWeight: 0,
      mirrorPercent: 40,
      headerRoute: [],
    };
    const names = (t: Parameters<typeof desiredServices>[1]) =>
      desiredServices(modelDeployment("iris-v1"), t, "replicas").map((svc) => [
        svc.metadata.name,
        svc.spec.selector?.["modelops.io/revision"],
      ]);
    expect(names(traffic)).toEqual([
      ["iris", "s1"],
      ["iris-canary", "c1"],
    ]);
    // Starting (pods not ready yet), a canary at weight 0, or after the rollout: no Service, no mirroring.
    expect(names({ ...traffic, mirrorPercent: 0 })).toEqual([["iris", "s1"]]);
    expect(names({ ...traffic, canaryRevision: undefined, mirrorPercent: 0 })).toEqual([["iris", "s1"]]);
  });
});
