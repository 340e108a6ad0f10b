// How the ModelDeployment's total is split between revisions, for every
// router and every phase of every strategy: the stable revision always keeps
// the total until promotion, whatever an autoscaler does to the total.
import { describe, expect, it } from "vitest";
import type { ModelDeployment } from "../api/index.ts";
import { runUntil, setVersion, tick, type World, world } from "../testing/simulate.ts";

const delays = { scaleDownDelaySeconds: 30, abortScaleDownDelaySeconds: 600 };
const strategies: Record<string, ModelDeployment["spec"]["strategy"]> = {
  canary: { canary: { steps: [{ setWeight: 25 }, { pause: {} }], ...delays } },
  blueGreen: { blueGreen: { autoPromotionEnabled: false, ...delays } },
  shadow: { shadow: { mirrorPercent: 40, duration: "1h", ...delays } },
};

function rollingOut(
  strategy: ModelDeployment["spec"]["strategy"],
  router: World["router"],
  total: number,
): World {
  const mdep = {
    apiVersion: "modelops.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: "iris", namespace: "ml", uid: "u", generation: 1 },
    spec: { modelVersion: "v1", replicas: total, paused: false, progressDeadlineSeconds: 600, strategy },
  } as ModelDeployment;
  const w = world(mdep, router);
  runUntil(w, (d) => d.status.phase === "Available");
  setVersion(w, "v2");
  return w;
}

function scaleTo(w: World, total: number): void {
  w.mdep = { ...w.mdep, spec: { ...w.mdep.spec, replicas: total } };
}

// [strategy, router, total, expected canary pods at the held phase]
const cases: [string, World["router"], number, number][] = [
  ["canary", "replicas", 6, 2], // 25% as a ratio: 2 beside 6
  ["canary", "gatewayAPI", 6, 2], // ceil(6 x 25%)
  ["canary", "istio", 3, 1],
  ["blueGreen", "replicas", 6, 6], // the preview runs at full size
  ["blueGreen", "gatewayAPI", 4, 4],
  ["shadow", "gatewayAPI", 5, 2], // ceil(5 x 40%) for the mirrored share
  ["shadow", "istio", 1, 1],
];

describe("replica split", () => {
  it.each(cases)("%s on %s with %i pods", (strategy, router, total, canaryPods) => {
    const w = rollingOut(strategies[strategy], router, total);
    const held = runUntil(w, (d) => d.status.phase === "Paused" || d.traffic.mirrorPercent > 0, 1000, 50);
    expect(held.replicas.get("rev-v1")).toBe(total);
    expect(held.replicas.get("rev-v2")).toBe(canaryPods);

    // An autoscaler doubles the total mid-rollout: both revisions follow, stable never shrinks.
    scaleTo(w, total * 2);
    const grown = tick(w, { advanceMs: 1000 });
    expect(grown.replicas.get("rev-v1")).toBe(total * 2);
    expect(grown.replicas.get("rev-v2")).toBeGreaterThanOrEqual(canaryPods);

    // Promotion: the new revision serves at the current total, never at the minimum.
    const promoted = runUntil(w, (d) => d.status.stableVersion === "v2", 1000, 50, {
      verb: "promote-full",
      value: "p@1",
    });
    expect(promoted.replicas.get("rev-v2")).toBe(total * 2);
    expect(w.revisions.get("rev-v2")?.readyReplicas).toBe(total * 2);
  });
});
