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
});
