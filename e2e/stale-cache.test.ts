// An SRE's action is acted on once, even when a reconcile reads a cache that
// has not yet seen the status write saying it was handled (the annotation
// stays; only status.lastHandledAction says it is done). The reconciler runs
// against the real apiserver here, with caches the test fills and keeps stale.
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { API_VERSION, LABEL_DEPLOYMENT } from "../operator/api/index.ts";
import type { ReconcileDeps } from "../operator/controllers/context.ts";
import { reconcileModelDeployment } from "../operator/controllers/modeldeployment/reconciler.ts";
import type { RunningManager } from "../operator/manager.ts";
import { createRouters } from "../operator/rollout/routers/index.ts";
import { KubeClient } from "../operator/runtime/kube.ts";
import { silentLogger } from "../operator/runtime/logger.ts";
import { createRegistry } from "../operator/runtime/metrics.ts";
import { Store } from "../operator/runtime/store.ts";
import type { KubeObject } from "../operator/runtime/types.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { startInProcess } from "./harness/operator.ts";
import { mdepManifest, rolloutStatus, waitStatus } from "./harness/rollout.ts";

let ns: TestNamespace;
let operator: RunningManager | undefined;
let kube: KubeClient;

/** The informers' caches as they are now; they stay so while the test reconciles. */
async function snapshot(): Promise<ReconcileDeps["stores"]> {
  const fill = async (apiVersion: string, kind: string, labelSelector?: string) => {
    const store = new Store<KubeObject>();
    const list = await kube.list(
      { apiVersion, kind, namespace: ns.name },
      labelSelector ? { labelSelector } : {},
    );
    for (const item of list.items) store.set({ apiVersion, kind, ...item });
    return store;
  };
  return {
    modelVersions: await fill(API_VERSION, "ModelVersion"),
    modelDeployments: await fill(API_VERSION, "ModelDeployment"),
    deployments: await fill("apps/v1", "Deployment", LABEL_DEPLOYMENT),
    services: await fill("v1", "Service", LABEL_DEPLOYMENT),
    hpas: await fill("autoscaling/v2", "HorizontalPodAutoscaler", LABEL_DEPLOYMENT),
    driftMonitors: await fill(API_VERSION, "DriftMonitor"),
  };
}

describe("actions under a stale cache", () => {
  beforeAll(async () => {
    ns = await createTestNamespace("stale", inject("kubeconfig"), inject("binDir"));
    await ns.applySampleVersions();
    const kc = new KubeConfig();
    kc.loadFromFile(inject("operatorKubeconfig"));
    kube = new KubeClient(kc);
    operator = await startInProcess({ kubeconfig: inject("operatorKubeconfig"), namespace: ns.name });
  });
  afterAll(async () => {
    await operator?.stop();
    await ns?.delete();
  });

  it("a promote reconciled twice from the same stale cache is handled once", async () => {
    const name = "stale";
    const strategy = "canary: {steps: [{setWeight: 25}, {pause: {}}, {setWeight: 50}, {pause: {}}]}";
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest(name, "iris-classifier-v1", strategy, 4));
    await waitStatus(ns, name, (s) => s.phase === "Available", "v1 Available");
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest(name, "iris-classifier-v2", strategy, 4));
    await waitStatus(ns, name, (s) => s.phase === "Paused" && s.currentStepIndex === 1, "paused at 25%");
    // From here only the test reconciles, from caches it controls.
    await operator?.stop();
    operator = undefined;
    await ns.kubectlOk(["annotate", "mdep", name, "modelops.io/action=promote@once"]);

    const events: { reason: string; message: string }[] = [];
    let clock = new Date();
    const deps: ReconcileDeps = {
      kube,
      stores: await snapshot(),
      events: { event: (_obj, _type, reason, message) => void events.push({ reason, message }) },
      log: silentLogger(),
      now: () => clock,
      registry: createRegistry({ defaultMetrics: false }),
      prometheus: undefined,
      prometheusAddress: undefined,
      routers: createRouters(kube),
    };
    const key = { namespace: ns.name, name };
    await reconcileModelDeployment(deps, key);
    const handled = await rolloutStatus(ns, name);
    expect(handled.lastHandledAction).toBe("promote@once");
    expect(handled.currentStepIndex).toBeGreaterThan(1);

    // The caches have not seen that write; a later reconcile reads them again.
    clock = new Date(clock.getTime() + 2000);
    await expect(reconcileModelDeployment(deps, key)).rejects.toMatchObject({ status: 409 });
    expect(await rolloutStatus(ns, name)).toEqual(handled);
    expect(events.filter((e) => e.reason === "ActionHandled")).toHaveLength(1);
  });
});
