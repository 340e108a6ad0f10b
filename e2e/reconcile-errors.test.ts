// What a user sees when the operator cannot write what it owns: a refusal by
// the apiserver becomes the Reconciled=False condition and a Warning Event
// with the apiserver's own message, the rest of status stays true, and both
// clear once the cause is gone. And the longest name the CRD accepts gives
// valid names to everything derived from it.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { RunningManager } from "../operator/manager.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { startInProcess } from "./harness/operator.ts";
import { mdepManifest, type RolloutStatus, waitStatus } from "./harness/rollout.ts";

let ns: TestNamespace;
let operator: RunningManager;

/** No strategy: a new version gets its own Deployment at full size at once. */
function plainMdep(name: string, version: string): string {
  return `apiVersion: modelops.io/v1alpha1
kind: ModelDeployment
metadata: {name: ${name}}
spec: {modelVersion: ${version}, replicas: 1}
`;
}

const reconciled = (s: RolloutStatus) => s.conditions?.find((c) => c.type === "Reconciled");

describe("reconcile errors reach the user", () => {
  beforeAll(async () => {
    ns = await createTestNamespace("recerr", inject("kubeconfig"), inject("binDir"));
    await ns.applySampleVersions();
    operator = await startInProcess({ kubeconfig: inject("operatorKubeconfig"), namespace: ns.name });
  });
  afterAll(async () => {
    await operator?.stop();
    await ns?.delete();
  });

  it("a ResourceQuota refusing the new revision is a condition and an Event, and both clear when it goes", async () => {
    const name = "quota";
    await ns.kubectlOk(["apply", "-f", "-"], plainMdep(name, "iris-classifier-v1"));
    const v1 = await waitStatus(ns, name, (s) => s.phase === "Available", "v1 Available");
    expect(reconciled(v1)?.status).toBe("True");

    // One Deployment is all the namespace may have: the new revision's is refused.
    await ns.kubectlOk(["create", "quota", "one-deployment", "--hard=count/deployments.apps=1"]);
    await ns.kubectlOk([
      "wait",
      "resourcequota/one-deployment",
      "--for=jsonpath={.status.used.count/deployments\\.apps}=1",
      "--timeout=60s",
    ]);
    await ns.kubectlOk([
      "patch",
      "mdep",
      name,
      "--type=merge",
      "-p",
      '{"spec":{"modelVersion":"iris-classifier-v2"}}',
    ]);

    const failed = await waitStatus(ns, name, (s) => reconciled(s)?.status === "False", "Reconciled=False");
    const condition = reconciled(failed);
    expect(condition?.reason).toBe("Forbidden");
    expect(condition?.message).toContain("exceeded quota: one-deployment");
    expect(condition?.message).toContain("count/deployments.apps");
    // The rest of status is still true: v1 serves, nothing was rolled out.
    expect(failed.phase).toBe("Available");
    expect(failed.stableVersion).toBe("iris-classifier-v1");
    expect(failed.canaryVersion).toBeUndefined();
    const mdep = await ns.getJson<{ metadata: { generation: number } }>("mdep", name);
    expect(condition?.observedGeneration).toBe(mdep?.metadata.generation);
    await expect
      .poll(() => ns.eventMessages(name, "ReconcileFailed"), { timeout: 30_000 })
      .toContain("exceeded quota: one-deployment");

    await ns.kubectlOk(["delete", "quota", "one-deployment"]);
    const healed = await waitStatus(
      ns,
      name,
      (s) => s.stableVersion === "iris-classifier-v2" && reconciled(s)?.status === "True",
      "v2 serving and Reconciled=True",
      180_000,
    );
    expect(healed.phase).toBe("Available");
  });

  it("serves names as long as the CRDs allow: the preview Service and the version label at 63", async () => {
    const name = "payments-fraud-detector-for-card-transactions-in-europe"; // 55: <name>-preview is 63
    const version = "iris-classifier-trained-on-the-may-2024-snapshot-with-new-featu"; // 63
    const sample = readFileSync("config/samples/modelversion-v2.yaml", "utf8");
    await ns.kubectlOk(["apply", "-f", "-"], sample.replace("name: iris-classifier-v2", `name: ${version}`));
    const strategy = "blueGreen: {autoPromotionEnabled: false}";
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest(name, "iris-classifier-v1", strategy, 1));
    await waitStatus(ns, name, (s) => s.phase === "Available", "v1 Available");
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest(name, version, strategy, 1));
    const previewing = await waitStatus(
      ns,
      name,
      (s) => s.phase === "Paused" && s.canaryVersion === version,
      "the new version ready behind the preview Service",
    );
    expect(reconciled(previewing)?.status).toBe("True");
    const preview = await ns.getJson<{ metadata: { name: string } }>("service", `${name}-preview`);
    expect(preview?.metadata.name).toHaveLength(63);
  });
});
