import { describe, expect, it } from "vitest";
import type { ModelDeployment } from "../api/index.ts";
import { runUntil, setVersion, tick, type World, world } from "../testing/simulate.ts";
import { pendingAction } from "./actions.ts";
import { SHADOW_NEEDS_MESH } from "./shadow.ts";

const analysis = { interval: "1m", count: 2, failureLimit: 0, inconclusiveLimit: 0, metrics: [] };

function mdep(strategy: ModelDeployment["spec"]["strategy"]): ModelDeployment {
  return {
    apiVersion: "modelops.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: "iris", namespace: "ml", uid: "u1", generation: 1 },
    spec: { modelVersion: "v1", replicas: 3, paused: false, progressDeadlineSeconds: 600, strategy },
  } as ModelDeployment;
}

function rollingOut(
  strategy: ModelDeployment["spec"]["strategy"],
  router: World["router"] = "replicas",
): World {
  const w = world(mdep(strategy), router);
  runUntil(w, (d) => d.status.phase === "Available");
  setVersion(w, "v2");
  return w;
}

const delays = { scaleDownDelaySeconds: 30, abortScaleDownDelaySeconds: 600 };
const blueGreen = (extra: Record<string, unknown> = {}) => ({
  blueGreen: { autoPromotionEnabled: true, prePromotionAnalysis: analysis, ...delays, ...extra },
});

describe("blue-green", () => {
  it("runs the preview at full size, analyses it, then switches all traffic", () => {
    const w = rollingOut(blueGreen());
    const first = tick(w);
    expect(first.replicas.get("rev-v2")).toBe(3);
    expect(first.traffic.previewRevision).toBe("rev-v2");
    expect(first.traffic.stableRevision).toBe("rev-v1");
    runUntil(w, () => w.mdep.status?.analysisRuns?.[0]?.name === "prePromotion");
    expect(tick(w, { advanceMs: 60_000 }).traffic.stableRevision).toBe("rev-v1");
    w.analysis.prePromotion = "Successful";
    const promoted = tick(w);
    expect(promoted.traffic.stableRevision).toBe("rev-v2");
    expect(promoted.status.stableVersion).toBe("v2");
  });

  it("keeps the active Service on the old revision when pre-promotion analysis fails", () => {
    const w = rollingOut(blueGreen());
    w.analysis.prePromotion = "Failed";
    const d = runUntil(w, (x) => x.status.phase === "RolledBack");
    expect(d.traffic.stableRevision).toBe("rev-v1");
    expect(d.traffic.previewRevision).toBeUndefined();
    expect(d.status.history?.[0]?.result).toBe("RolledBack");
  });

  it("waits for a promote action when auto-promotion is off", () => {
    const w = rollingOut(blueGreen({ autoPromotionEnabled: false, prePromotionAnalysis: undefined }));
    const waiting = runUntil(w, (d) => d.status.pauseReason === "AwaitingPromotion");
    expect(waiting.traffic.stableRevision).toBe("rev-v1");
    expect(tick(w, { advanceMs: 86_400_000 }).traffic.stableRevision).toBe("rev-v1");
    expect(tick(w, { action: { verb: "promote", value: "promote@x" } }).traffic.stableRevision).toBe(
      "rev-v2",
    );
  });

  it("promotes after autoPromotionSeconds", () => {
    const w = rollingOut(blueGreen({ autoPromotionSeconds: 120, prePromotionAnalysis: undefined }));
    runUntil(w, (d) => d.status.pauseReason === "AutoPromotionDelay");
    const d = runUntil(w, (x) => x.traffic.stableRevision === "rev-v2", 10_000);
    expect(d.status.phase).not.toBe("RolledBack");
  });

  it("rolls back to the warm previous revision when the post-promotion guard fails", () => {
    const w = rollingOut(blueGreen({ prePromotionAnalysis: undefined, postPromotionAnalysis: analysis }));
    const promoted = runUntil(w, (d) => d.status.stableVersion === "v2");
    expect(promoted.status.analysisRuns?.[0]?.name).toBe("postPromotion");
    const warm = tick(w, { advanceMs: 120_000 });
    expect(warm.replicas.get("rev-v1")).toBe(3); // kept warm while guarding
    expect(w.revisions.get("rev-v1")?.readyReplicas).toBe(3);
    w.analysis.postPromotion = "Failed";
    const d = tick(w);
    expect(d.status.phase).toBe("RolledBack");
    expect(d.traffic.stableRevision).toBe("rev-v1");
    expect(d.status.history?.[0]).toMatchObject({ version: "v2", result: "RolledBack" });
    expect(tick(w, { advanceMs: 1000 }).traffic.stableRevision).toBe("rev-v1");
  });

  it("retires the previous revision once the guard passes", () => {
    const w = rollingOut(blueGreen({ prePromotionAnalysis: undefined, postPromotionAnalysis: analysis }));
    runUntil(w, (d) => d.status.stableVersion === "v2");
    w.analysis.postPromotion = "Successful";
    const d = tick(w);
    expect(d.status.retiringRevisions?.map((r) => r.revision)).toEqual(["rev-v1"]);
    expect(runUntil(w, (x) => x.deleteRevisions.includes("rev-v1"), 5000).status.phase).toBe("Available");
  });
});

describe("without a strategy", () => {
  it("switches once all new pods are ready", () => {
    const w = rollingOut(undefined);
    const first = tick(w);
    expect(first.traffic.stableRevision).toBe("rev-v1");
    const d = runUntil(w, (x) => x.traffic.stableRevision === "rev-v2");
    expect(w.revisions.get("rev-v2")?.readyReplicas).toBe(3);
    expect(d.status.history?.[0]?.result).toBe("Promoted");
  });
});

describe("shadow", () => {
  const shadow = { shadow: { mirrorPercent: 40, duration: "10m", ...delays } };

  it("is refused on the replicas router when the proxy sidecar is turned off", () => {
    const w = rollingOut(shadow);
    w.mdep.spec.proxy = { enabled: false };
    const d = tick(w);
    expect(d.status.phase).toBe("Paused");
    expect(d.status.message).toBe(SHADOW_NEEDS_MESH);
    expect(d.traffic.stableRevision).toBe("rev-v1");
    expect(d.replicas.has("rev-v2")).toBe(false);
  });

  it("on the replicas router, mirrors without rendering the stable revision again (no pod restarts)", () => {
    const w = rollingOut(shadow);
    const mirroring = runUntil(w, (d) => d.traffic.mirrorPercent === 40);
    expect(mirroring.traffic).toMatchObject({
      stableRevision: "rev-v1",
      canaryRevision: "rev-v2",
      canaryWeight: 0,
    });
    expect(mirroring.render.map((r) => r.revision)).toEqual(["rev-v2"]);
    expect(mirroring.replicas.get("rev-v2")).toBe(2);
    const done = runUntil(w, (d) => d.status.stableVersion === "v2", 60_000);
    expect(done.traffic.mirrorPercent).toBe(0);
  });

  it("mirrors a share of traffic, serves nobody, and promotes after its duration", () => {
    const w = rollingOut(shadow, "gatewayAPI");
    const mirroring = runUntil(w, (d) => d.traffic.mirrorPercent === 40);
    expect(mirroring.traffic.canaryWeight).toBe(0);
    expect(mirroring.replicas.get("rev-v2")).toBe(2); // ceil(3 x 40%)
    expect(tick(w, { advanceMs: 300_000 }).status.stableVersion).toBe("v1");
    const done = runUntil(w, (d) => d.status.stableVersion === "v2", 60_000);
    expect(done.traffic.mirrorPercent).toBe(0);
  });

  it("aborts when its analysis fails", () => {
    const w = rollingOut({ shadow: { mirrorPercent: 100, analysis, ...delays } }, "istio");
    w.analysis.shadow = "Failed";
    expect(runUntil(w, (d) => d.status.phase === "RolledBack").traffic.mirrorPercent).toBe(0);
  });
});

describe("pendingAction", () => {
  it("returns each annotation value once and rejects unknown verbs", () => {
    const ann = { "modelops.io/action": "promote@17" };
    expect(pendingAction(ann, undefined)).toEqual({ verb: "promote", value: "promote@17" });
    expect(pendingAction(ann, "promote@17")).toBeUndefined();
    expect(pendingAction({ "modelops.io/action": "undo" }, "promote@17")).toEqual({
      verb: "undo",
      value: "undo",
    });
    expect(pendingAction({ "modelops.io/action": "rollback" }, undefined)).toEqual({ invalid: "rollback" });
    expect(pendingAction({}, undefined)).toBeUndefined();
  });
});
