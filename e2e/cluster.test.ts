// Proves the integration harness is a real cluster: Deployments get pods from
// the real controller-manager, scheduler and kwok nodes, garbage collection
// runs, and the operator's requests reach the audit log under its own user.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { kubectl, kubectlOk, waitFor } from "../hack/localcluster/kubectl.ts";
import { auditEvents } from "./harness/audit.ts";

const kubeconfig = inject("kubeconfig");
const binDir = inject("binDir");
const opts = { kubeconfig, binDir };
const ns = `harness-${randomBytes(3).toString("hex")}`;

interface Pod {
  metadata: { name: string };
  spec: { nodeName?: string };
  status: { phase?: string; conditions?: Array<{ type: string; status: string }> };
}

async function list<T>(kind: string, selector: string): Promise<T[]> {
  const out = await kubectlOk(["get", kind, "-n", ns, "-l", selector, "-o", "json"], opts);
  return (JSON.parse(out) as { items: T[] }).items;
}

const deployment = (name: string) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${ns}}
spec:
  replicas: 2
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers: [{name: app, image: registry.invalid/app:1}]
`;

describe("local control plane", () => {
  beforeAll(async () => {
    await kubectlOk(["create", "namespace", ns], opts);
  });
  afterAll(async () => {
    await kubectl(["delete", "namespace", ns, "--wait=false"], opts);
  });

  it("runs a Deployment's pods on kwok nodes and garbage-collects them", async () => {
    await kubectlOk(["apply", "-f", "-"], { ...opts, input: deployment("web") });
    const pods = await waitFor(
      async () => {
        const running = (await list<Pod>("pods", "app=web")).filter(
          (p) =>
            p.status.phase === "Running" &&
            p.spec.nodeName?.startsWith("kwok-node-") &&
            p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
        );
        return running.length === 2 ? running : undefined;
      },
      { timeoutMs: 60_000, description: "2 Running+Ready pods of deployment web" },
    );
    expect(pods).toHaveLength(2);
    expect((await list("replicasets", "app=web")).length).toBe(1);

    await kubectlOk(["delete", "deployment", "web", "-n", ns, "--wait=false"], opts);
    await waitFor(
      async () => {
        const left = [...(await list("replicasets", "app=web")), ...(await list("pods", "app=web"))];
        return left.length === 0 ? true : left.length;
      },
      { timeoutMs: 60_000, description: "ReplicaSet and pods of web to be garbage-collected" },
    );
  });

  it("records the operator user's writes in the audit log", async () => {
    const since = new Date(Date.now() - 1000);
    await kubectlOk(["create", "configmap", "audit-probe", "-n", ns], {
      ...opts,
      kubeconfig: inject("operatorKubeconfig"),
    });
    const writes = auditEvents(inject("auditLogPath"), { since }).filter(
      (e) => e.objectRef?.namespace === ns,
    );
    expect(writes.map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.name}`)).toEqual([
      "create configmaps/audit-probe",
    ]);
  });
});
