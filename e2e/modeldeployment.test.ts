// A user's path through the operator: kubectl apply of the samples, scaling,
// deleting, and a deployment applied before its version exists.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../hack/localcluster/kubectl.ts";
import type { RunningManager } from "../operator/manager.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { startInProcess } from "./harness/operator.ts";

const kubeconfig = inject("kubeconfig");
const binDir = inject("binDir");

type Condition = { type: string; status: string; reason: string; message: string };
type Mdep = {
  spec: { replicas: number };
  status?: {
    phase?: string;
    replicas?: number;
    readyReplicas?: number;
    stableVersion?: string;
    url?: string;
    observedGeneration?: number;
    conditions?: Condition[];
  };
  metadata: { generation: number; uid: string };
};
type Owned = {
  metadata: { name: string; ownerReferences?: { kind: string; uid: string; controller?: boolean }[] };
  spec: { replicas?: number; selector?: unknown };
  status?: { readyReplicas?: number };
};

let ns: TestNamespace;
let operator: RunningManager;

async function ownedBy(kind: string, uid: string): Promise<Owned[]> {
  const out = await ns.kubectlOk(["get", kind, "-l", "modelops.io/deployment", "-o", "json"]);
  return (JSON.parse(out) as { items: Owned[] }).items.filter((o) =>
    o.metadata.ownerReferences?.some((r) => r.kind === "ModelDeployment" && r.uid === uid && r.controller),
  );
}

async function waitAvailable(name: string, replicas: number): Promise<Mdep> {
  return waitFor(
    async () => {
      const m = await ns.getJson<Mdep>("mdep", name);
      const available = m?.status?.conditions?.some((c) => c.type === "Available" && c.status === "True");
      return available && m?.status?.readyReplicas === replicas && m.status.replicas === replicas
        ? m
        : undefined;
    },
    { timeoutMs: 90_000, description: `ModelDeployment ${name} Available with ${replicas} ready replicas` },
  );
}

describe("ModelDeployment on a real control plane", () => {
  beforeAll(async () => {
    ns = await createTestNamespace("mdep", kubeconfig, binDir);
    operator = await startInProcess({ kubeconfig: inject("operatorKubeconfig"), namespace: ns.name });
  });
  afterAll(async () => {
    await operator?.stop();
    await ns?.delete();
  });

  it("serves the sample: owned Deployment and Service, kwok pods Ready, Available", async () => {
    await ns.kubectlOk([
      "apply",
      "-f",
      "config/samples/modelversion.yaml",
      "-f",
      "config/samples/modeldeployment.yaml",
    ]);
    const mdep = await waitAvailable("iris-classifier", 2);
    expect(mdep.status?.stableVersion).toBe("iris-classifier-v1");
    expect(mdep.status?.phase).toBe("Available");
    expect(mdep.status?.observedGeneration).toBe(mdep.metadata.generation);

    const [deployment, ...moreDeployments] = await ownedBy("deployments", mdep.metadata.uid);
    expect(moreDeployments).toEqual([]);
    expect(deployment?.spec.replicas).toBe(2);
    const services = await ownedBy("services", mdep.metadata.uid);
    expect(services.map((s) => s.metadata.name)).toEqual(["iris-classifier"]);
    // status.url names that Service; kubectl shows it with -o wide only, to keep the default columns short.
    const url = `http://iris-classifier.${ns.name}.svc.cluster.local`;
    expect(mdep.status?.url).toBe(url);
    const [header, row] = (await ns.kubectlOk(["get", "mdep", "iris-classifier", "-o", "wide"])).split("\n");
    expect(header?.trim().split(/\s+/).at(-1)).toBe("URL");
    expect(row?.trim().split(/\s+/).at(-1)).toBe(url);
    expect(await ns.kubectlOk(["get", "mdep", "iris-classifier"])).not.toContain("URL");

    const pods = JSON.parse(
      await ns.kubectlOk(["get", "pods", "-l", "modelops.io/deployment=iris-classifier", "-o", "json"]),
    ) as {
      items: { spec: { nodeName?: string; volumes?: { persistentVolumeClaim?: { claimName: string } }[] } }[];
    };
    expect(pods.items).toHaveLength(2);
    expect(pods.items.every((p) => p.spec.nodeName?.startsWith("kwok-node-"))).toBe(true);
    expect(pods.items[0]?.spec.volumes?.some((v) => v.persistentVolumeClaim?.claimName === "models")).toBe(
      true,
    );

    // Every phase change is an Event.
    await expect
      .poll(() => ns.eventMessages("iris-classifier", "PhaseAvailable"))
      .toContain("iris-classifier-v1");
    const mv = await ns.getJson<{ status?: { phase?: string } }>("mv", "iris-classifier-v1");
    expect(mv?.status?.phase).toBe("Ready");
  });

  it("follows kubectl scale through the scale subresource to the Deployment and status", async () => {
    await ns.kubectlOk(["scale", "mdep", "iris-classifier", "--replicas=5"]);
    const mdep = await waitAvailable("iris-classifier", 5);
    const [deployment] = await ownedBy("deployments", mdep.metadata.uid);
    expect(deployment?.spec.replicas).toBe(5);
    expect(deployment?.status?.readyReplicas).toBe(5);
  });

  it("leaves the children to the real garbage collector when deleted", async () => {
    const mdep = await ns.getJson<Mdep>("mdep", "iris-classifier");
    expect(mdep).toBeDefined();
    await ns.kubectlOk(["delete", "mdep", "iris-classifier", "--wait=false"]);
    await waitFor(
      async () => {
        const left = [
          ...(await ownedBy("deployments", mdep?.metadata.uid ?? "")),
          ...(await ownedBy("services", mdep?.metadata.uid ?? "")),
        ];
        const pods = await ns.kubectlOk([
          "get",
          "pods",
          "-l",
          "modelops.io/deployment=iris-classifier",
          "-o",
          "name",
        ]);
        return left.length === 0 && pods.trim() === "" ? true : undefined;
      },
      { timeoutMs: 60_000, description: "Deployment, Service and pods of iris-classifier deleted" },
    );
  });

  it("reports a missing ModelVersion, then becomes Available once it is applied", async () => {
    const manifest = readFileSync("config/samples/modeldeployment.yaml", "utf8")
      .replace("name: iris-classifier\n", "name: early\n")
      .replace("modelVersion: iris-classifier-v1", "modelVersion: iris-classifier-v2");
    await ns.kubectlOk(["apply", "-f", "-"], manifest);
    const waiting = await waitFor(
      async () => {
        const m = await ns.getJson<Mdep>("mdep", "early");
        const c = m?.status?.conditions?.find((x) => x.type === "ModelVersionReady");
        return c?.status === "False" ? { m, c } : undefined;
      },
      { timeoutMs: 30_000, description: "ModelVersionReady=False on mdep early" },
    );
    expect(waiting.c.reason).toBe("ModelVersionNotFound");
    expect(waiting.c.message).toContain("iris-classifier-v2");
    expect(waiting.m?.status?.phase).toBe("Pending");
    await expect
      .poll(() => ns.eventMessages("early", "ModelVersionNotFound"))
      .toContain("iris-classifier-v2");

    await ns.kubectlOk(["apply", "-f", "config/samples/modelversion-v2.yaml"]);
    const mdep = await waitAvailable("early", 2);
    expect(mdep.status?.stableVersion).toBe("iris-classifier-v2");
  });

  it("hands every template pod field to a Deployment the apiserver accepts, and the sidecar its resources", async () => {
    await ns.kubectlOk(["create", "serviceaccount", "iris-runner"]);
    await ns.kubectlOk(["apply", "-f", "config/samples/modelversion.yaml"]);
    await ns.kubectlOk(["apply", "-f", "-"], GPU_DEPLOYMENT);
    const mdep = await waitFor(async () => ns.getJson<Mdep>("mdep", "gpu"), { description: "mdep gpu" });
    type PodSpec = Record<string, unknown> & {
      containers: {
        name: string;
        resources?: unknown;
        securityContext?: unknown;
        volumeMounts?: unknown[];
      }[];
    };
    const deployment = await waitFor(
      async () =>
        (await ownedBy("deployments", mdep.metadata.uid))[0] as unknown as {
          spec: { template: { spec: PodSpec } };
        },
      { timeoutMs: 30_000, description: "the Deployment of mdep gpu" },
    );
    const pod = deployment.spec.template.spec;
    const model = pod.containers.find((c) => c.name === "model");
    const proxy = pod.containers.find((c) => c.name === "modelops-proxy");
    expect(pod).toMatchObject({
      serviceAccountName: "iris-runner",
      imagePullSecrets: [{ name: "registry-creds" }],
      priorityClassName: "inference-critical",
      nodeSelector: { "nvidia.com/gpu.present": "true" },
      tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
      affinity: {
        nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{}] } },
      },
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "kubernetes.io/hostname" }],
      securityContext: { fsGroup: 2000, seccompProfile: { type: "RuntimeDefault" } },
    });
    expect((pod.volumes as { name: string }[]).map((v) => v.name)).toEqual(["model", "cache", "tls"]);
    expect(model?.volumeMounts).toContainEqual({ name: "tls", mountPath: "/etc/tls", readOnly: true });
    // Pods get requests equal to limits for extended resources; the Deployment keeps what was written.
    expect(model?.resources).toEqual({ limits: { "nvidia.com/gpu": "1", memory: "8Gi" } });
    expect(model?.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(proxy?.resources).toEqual({
      requests: { cpu: "20m", memory: "32Mi" },
      limits: { memory: "128Mi" },
    });
    await ns.kubectlOk(["delete", "mdep", "gpu", "--wait=false"]);
  });
});

/** A GPU ModelDeployment using every template field (its pods stay Pending: the kwok nodes have no GPU). */
const GPU_DEPLOYMENT = `apiVersion: modelops.io/v1alpha1
kind: ModelDeployment
metadata: {name: gpu}
spec:
  modelVersion: iris-classifier-v1
  replicas: 1
  proxy: {resources: {requests: {cpu: 20m, memory: 32Mi}, limits: {memory: 128Mi}}}
  template:
    serviceAccountName: iris-runner
    imagePullSecrets: [{name: registry-creds}]
    priorityClassName: inference-critical
    nodeSelector: {nvidia.com/gpu.present: "true"}
    tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
    affinity:
      nodeAffinity:
        requiredDuringSchedulingIgnoredDuringExecution:
          nodeSelectorTerms: [{matchExpressions: [{key: nvidia.com/gpu.product, operator: In, values: [A100]}]}]
    topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: kubernetes.io/hostname
        whenUnsatisfiable: ScheduleAnyway
        labelSelector: {matchLabels: {modelops.io/deployment: gpu}}
        matchLabelKeys: [modelops.io/revision]
    resources: {limits: {nvidia.com/gpu: 1, memory: 8Gi}}
    volumes:
      - {name: cache, emptyDir: {medium: Memory, sizeLimit: 1Gi}}
      - {name: tls, secret: {secretName: iris-tls}}
    volumeMounts:
      - {name: cache, mountPath: /cache}
      - {name: tls, mountPath: /etc/tls, readOnly: true}
    securityContext: {runAsUser: 1000, runAsNonRoot: true, fsGroup: 2000}
    containerSecurityContext: {readOnlyRootFilesystem: true}
`;
