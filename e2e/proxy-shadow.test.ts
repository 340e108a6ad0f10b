// Shadow without a mesh: on the replicas router, the stable revision's
// modelops-proxy sidecars mirror a share of requests to the <mdep>-canary
// Service, which selects the shadow revision and exists only while it
// mirrors; clients' Service keeps selecting the stable revision alone. The
// stable pods learn the share from the shadow at run time, so the rollout
// never changes their template (no restart). Real control plane, operator
// in-process; the proxy's mirroring itself is covered by
// operator/proxy/server.test.ts and e2e/proxy.test.ts.
import { afterAll, describe, expect, inject, it } from "vitest";
import { CONFIG_ENV, parseProxyConfig } from "../operator/api/proxy-config.ts";
import type { RunningManager } from "../operator/manager.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { startInProcess } from "./harness/operator.ts";
import { mdepManifest, serviceRevision, waitStatus } from "./harness/rollout.ts";

const kubeconfig = inject("kubeconfig");
const binDir = inject("binDir");
let ns: TestNamespace | undefined;
let operator: RunningManager | undefined;

type PodTemplate = {
  metadata: { generation: number };
  spec: { template: { spec: { containers: { name: string; env?: { name: string; value: string }[] }[] } } };
};

async function proxyConfigOf(n: TestNamespace, deployment: string) {
  const d = await n.getJson<PodTemplate>("deployment", deployment);
  const proxy = d?.spec.template.spec.containers.find((c) => c.name === "modelops-proxy");
  return parseProxyConfig(proxy?.env?.find((e) => e.name === CONFIG_ENV)?.value);
}

afterAll(async () => {
  await operator?.stop();
  await ns?.delete();
});

describe("shadow on the replicas router", () => {
  it("mirrors through the stable revision's proxies to the canary Service, then promotes", async () => {
    ns = await createTestNamespace("proxy-shadow", kubeconfig, binDir);
    await ns.applySampleVersions();
    operator = await startInProcess({ kubeconfig: inject("operatorKubeconfig"), namespace: ns.name });
    const strategy = "shadow:\n  mirrorPercent: 40\n  duration: 8s";
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest("iris", "iris-classifier-v1", strategy));
    const v1 = await waitStatus(ns, "iris", (s) => s.phase === "Available", "v1 Available");
    const stable = v1.stableRevision as string;
    const stableGeneration = (await ns.getJson<PodTemplate>("deployment", `iris-${stable}`))?.metadata
      .generation;
    // Every revision's proxies ask the canary Service for a share; none exists yet.
    expect((await proxyConfigOf(ns, `iris-${stable}`)).shadow).toMatchObject({
      url: `http://iris-canary.${ns.name}.svc:80`,
    });
    expect(await ns.getJson("service", "iris-canary")).toBeUndefined();

    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest("iris", "iris-classifier-v2", strategy));
    const mirroring = await waitStatus(ns, "iris", (s) => s.stage === "Mirroring", "mirroring");
    const shadowRevision = mirroring.canaryRevision as string;
    expect(mirroring.canaryWeight).toBe(0);
    await expect
      .poll(() => serviceRevision(ns as TestNamespace, "iris-canary"), { timeout: 10_000 })
      .toBe(shadowRevision);
    expect(await serviceRevision(ns, "iris")).toBe(stable);
    // The shadow's proxies answer with the share they ask for; the stable's template is untouched.
    expect((await proxyConfigOf(ns, `iris-${shadowRevision}`)).mirrorPercent).toBe(40);
    expect((await ns.getJson<PodTemplate>("deployment", `iris-${stable}`))?.metadata.generation).toBe(
      stableGeneration,
    );

    await waitStatus(ns, "iris", (s) => s.stableVersion === "iris-classifier-v2", "promoted after 8 s");
    expect(await serviceRevision(ns, "iris")).toBe(shadowRevision);
    // Mirroring ended with the rollout: the canary Service is gone.
    await expect.poll(() => ns?.getJson("service", "iris-canary"), { timeout: 10_000 }).toBeUndefined();
  });
});
