// setHeaderRoute in the engine: the header route is data in the desired
// traffic, in force from its step until the rollout ends, and only once the
// canary has a ready pod to take the matching requests.
import { describe, expect, it } from "vitest";
import type { CanaryStep, HeaderRouteMatch, ModelDeployment } from "../api/index.ts";
import { runUntil, setVersion, tick, type World, world } from "../testing/simulate.ts";

const BETA: HeaderRouteMatch[] = [{ header: "x-cohort", value: "beta" }];
const STAFF: HeaderRouteMatch[] = [{ cookie: "staff", value: "1" }];

function rollingOut(steps: CanaryStep[], router: World["router"] = "gatewayAPI"): World {
  const w = world(
    {
      apiVersion: "modelops.io/v1alpha1",
      kind: "ModelDeployment",
      metadata: { name: "iris", namespace: "ml", uid: "u1", generation: 1 },
      spec: {
        modelVersion: "v1",
        replicas: 4,
        paused: false,
        progressDeadlineSeconds: 600,
        strategy: { canary: { steps, scaleDownDelaySeconds: 30, abortScaleDownDelaySeconds: 600 } },
      },
    } as ModelDeployment,
    router,
  );
  runUntil(w, (d) => d.status.phase === "Available");
  setVersion(w, "v2");
  return w;
}

const dogfood: CanaryStep[] = [
  { setHeaderRoute: { match: BETA } },
  { pause: {} },
  { setWeight: 25 },
  { pause: {} },
];
const stepIndex = (w: World) => w.mdep.status?.currentStepIndex;

describe("setHeaderRoute", () => {
  it("routes the cohort to the canary only once one of its pods is ready, at weight 0 for everyone else", () => {
    const w = rollingOut(dogfood);
    const started = tick(w);
    expect(started.status.currentStepIndex).toBe(0);
    expect(started.traffic.headerRoute).toEqual([]); // its pod is not ready yet
    expect(started.status.trafficMessage).toContain("once one of its pods is ready");
    const held = runUntil(w, () => stepIndex(w) === 1);
    expect(held.traffic).toMatchObject({ canaryRevision: "rev-v2", canaryWeight: 0, headerRoute: BETA });
    expect(held.replicas.get("rev-v2")).toBe(1);
    expect(held.status.trafficMessage).toBe(
      "0% to v2 through the gatewayAPI router; requests with header x-cohort: beta all go to v2",
    );
  });

  it("stays in force with the later weights, through a spec pause, and is gone after promotion", () => {
    const w = rollingOut(dogfood);
    runUntil(w, () => stepIndex(w) === 1);
    const weighted = runUntil(w, () => stepIndex(w) === 3, 1000, 50, { verb: "promote", value: "promote@1" });
    expect(weighted.traffic).toMatchObject({ canaryWeight: 25, headerRoute: BETA });
    w.mdep = { ...w.mdep, spec: { ...w.mdep.spec, paused: true } };
    expect(tick(w).traffic).toMatchObject({ canaryWeight: 25, headerRoute: BETA });
    w.mdep = { ...w.mdep, spec: { ...w.mdep.spec, paused: false } };
    const promoted = runUntil(w, (d) => d.status.stableRevision === "rev-v2", 1000, 50, {
      verb: "promote",
      value: "promote@2",
    });
    expect(promoted.traffic).toMatchObject({
      stableRevision: "rev-v2",
      canaryRevision: undefined,
      headerRoute: [],
    });
  });

  it("is gone after an abort", () => {
    const w = rollingOut(dogfood);
    runUntil(w, () => stepIndex(w) === 1);
    const aborted = tick(w, { action: { verb: "abort", value: "abort@1" } });
    expect(aborted.status.phase).toBe("RolledBack");
    expect(aborted.traffic).toMatchObject({ canaryWeight: 0, headerRoute: [] });
  });

  it("is replaced by a later setHeaderRoute and removed by an empty one", () => {
    const w = rollingOut([
      { setHeaderRoute: { match: BETA } },
      { pause: {} },
      { setHeaderRoute: { match: STAFF } },
      { pause: {} },
      { setHeaderRoute: { match: [] } },
      { setWeight: 50 },
      { pause: {} },
    ]);
    runUntil(w, () => stepIndex(w) === 1);
    const staff = runUntil(w, () => stepIndex(w) === 3, 1000, 50, { verb: "promote", value: "promote@1" });
    expect(staff.traffic.headerRoute).toEqual(STAFF);
    expect(staff.status.message).toBe(
      "Step 4: paused until promoted (annotation modelops.io/action=promote)",
    );
    const none = runUntil(w, () => stepIndex(w) === 6, 1000, 50, { verb: "promote", value: "promote@2" });
    expect(none.traffic).toMatchObject({ canaryWeight: 50, headerRoute: [] });
    expect(none.status.trafficMessage).toBe("50% to v2 through the gatewayAPI router");
  });

  it("never reaches the replicas router, which cannot see headers", () => {
    const w = rollingOut(dogfood, "replicas");
    const d = runUntil(w, () => stepIndex(w) === 1);
    expect(d.traffic.headerRoute).toEqual([]);
    expect(d.status.trafficMessage).not.toContain("x-cohort");
  });
});
