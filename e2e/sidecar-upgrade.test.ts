// An operator upgrade brings a new sidecar image, yet restarts no inference
// pod: a revision's pod template is fixed when the revision is created, so
// the new sidecar arrives with each ModelDeployment's next rollout, through
// its strategy and analysis, not everywhere at once, unanalysed.
import { afterAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../hack/localcluster/kubectl.ts";
import type { RunningManager } from "../operator/manager.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { startInProcess } from "./harness/operator.ts";
import { mdepManifest, waitStatus } from "./harness/rollout.ts";

const kubeconfig = inject("kubeconfig");
const STRATEGY = "canary:\n  steps:\n    - setWeight: 50";
let ns: TestNamespace | undefined;
let operator: RunningManager | undefined;

type Deployment = {
  metadata: { generation: number };
  spec: { template: { spec: { containers: { name: string; image: string }[] } } };
};

afterAll(async () => {
  await operator?.stop();
  await ns?.delete();
});

const start = (proxyImage: string, n: TestNamespace) =>
  startInProcess({ kubeconfig: inject("operatorKubeconfig"), namespace: n.name, proxyImage });

describe("operator upgrade", () => {
  it("keeps every running revision's pods; the next rollout brings the new sidecar", async () => {
    ns = await createTestNamespace("sidecar-upgrade", kubeconfig, inject("binDir"));
    await ns.applySampleVersions();
    operator = await start("modelops-operator:old", ns);
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest("iris", "iris-classifier-v1", STRATEGY));
    const v1 = await waitStatus(ns, "iris", (s) => s.phase === "Available", "v1 Available");
    const name = `iris-${v1.stableRevision}`;
    const before = (await ns.getJson<Deployment>("deployment", name)) as Deployment;
    const sidecarOf = (d: Deployment | undefined) =>
      d?.spec.template.spec.containers.find((c) => c.name === "modelops-proxy")?.image;
    expect(sidecarOf(before)).toBe("modelops-operator:old");

    await operator.stop();
    operator = await start("modelops-operator:new", ns);
    // Make the new operator reconcile the ModelDeployment (a scale change), then look.
    await ns.kubectlOk(["scale", "mdep", "iris", "--replicas=3"]);
    const scaled = await waitFor(
      async () => {
        const d = await ns?.getJson<Deployment & { spec: { replicas: number } }>("deployment", name);
        return d?.spec.replicas === 3 ? d : undefined;
      },
      { timeoutMs: 30_000, description: "the new operator scaled the running revision" },
    );
    expect(sidecarOf(scaled)).toBe("modelops-operator:old");
    expect(scaled.metadata.generation).toBe(before.metadata.generation + 1); // the scale, nothing else

    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest("iris", "iris-classifier-v2", STRATEGY));
    const v2 = await waitStatus(ns, "iris", (s) => s.stableVersion === "iris-classifier-v2", "v2 promoted");
    expect(sidecarOf(await ns.getJson<Deployment>("deployment", `iris-${v2.stableRevision}`))).toBe(
      "modelops-operator:new",
    );
  });
});
