// Stands in for a Gateway API implementation's controller: the test cluster
// has none, yet Argo CD's built-in HTTPRoute health waits for one to accept
// the route (status.parents, conditions at the route's generation). Every
// generation of the route gets Accepted and ResolvedRefs, as a gateway that
// programs it at once would write.
import type { KubeClient } from "../../operator/runtime/kube.ts";
import type { KubeObject } from "../../operator/runtime/types.ts";

type Route = KubeObject & {
  spec: { parentRefs?: Array<{ name: string }> };
  status?: { parents?: Array<{ conditions?: Array<{ observedGeneration?: number }> }> };
};

export function standInGateway(admin: KubeClient, namespace: string, name: string): { stop(): void } {
  const ref = { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", namespace, name };
  let stopped = false;
  const tick = async () => {
    const route = await admin.getOrUndefined<Route>(ref);
    const generation = route?.metadata?.generation;
    if (!route || generation === undefined) return;
    if (route.status?.parents?.[0]?.conditions?.[0]?.observedGeneration === generation) return;
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const condition = (type: string) => ({
      type,
      status: "True",
      reason: type,
      message: "",
      observedGeneration: generation,
      lastTransitionTime: now,
    });
    const parents = (route.spec.parentRefs ?? []).map((p) => ({
      parentRef: p,
      controllerName: "gateway.example.test/stand-in",
      conditions: [condition("Accepted"), condition("ResolvedRefs")],
    }));
    await admin.mergePatch({ ...ref, subresource: "status" }, { status: { parents } });
  };
  const loop = async () => {
    while (!stopped) {
      await tick().catch(() => {});
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  void loop();
  return {
    stop: () => {
      stopped = true;
    },
  };
}
