// One test per rollout-safety defect found in review, each written against
// the engine before its fix (where it failed) and kept so it cannot return.
// The world measures analyses with the real run progression and gives pods
// realistic life (testing/rollout-world.ts).
import { describe, expect, it } from "vitest";
import { type ModelDeployment, modelDeploymentStatusSchema } from "../api/index.ts";
import {
  age,
  type PodLife,
  type RolloutWorld,
  reconcile,
  rolloutWorld,
  setSpec,
} from "../testing/rollout-world.ts";
import type { ManualAction, RolloutDecision, RouterKind } from "./types.ts";

const analysis = { interval: "1m", failureLimit: 0, inconclusiveLimit: 0, metrics: [] };
const delays = { scaleDownDelaySeconds: 30, abortScaleDownDelaySeconds: 600 };

function world(
  strategy: ModelDeployment["spec"]["strategy"],
  opts: { router?: RouterKind; replicas?: number; lives?: Record<string, PodLife>; versions?: number } = {},
): RolloutWorld {
  const mdep = {
    apiVersion: "modelops.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: "iris", namespace: "ml", uid: "u1", generation: 1 },
    spec: {
      modelVersion: "v1",
      replicas: opts.replicas ?? 2,
      paused: false,
      progressDeadlineSeconds: 600,
      strategy,
    },
  } as ModelDeployment;
  const lives = new Map<string, PodLife>(
    Array.from({ length: opts.versions ?? 3 }, (_, i) => `v${i + 1}`).map((v) => [
      v,
      opts.lives?.[v] ?? { kind: "ready", afterTicks: 0 },
    ]),
  );
  const w = rolloutWorld(mdep, opts.router ?? "replicas", lives);
  untilPhase(w, "Available");
  return w;
}

/** Reconciles every `stepMs` until `done`; fails after `limit` reconciles. */
function until(
  w: RolloutWorld,
  done: (d: RolloutDecision) => boolean,
  stepMs = 1000,
  limit = 400,
): RolloutDecision {
  for (let i = 0; i < limit; i++) {
    age(w, stepMs);
    const { decision } = reconcile(w);
    if (done(decision)) return decision;
  }
  throw new Error(`not reached: phase ${w.mdep.status?.phase}: ${w.mdep.status?.message}`);
}
const untilPhase = (w: RolloutWorld, phase: string, stepMs = 1000) =>
  until(w, (d) => d.status.phase === phase, stepMs);
const act = (w: RolloutWorld, verb: ManualAction["verb"]) =>
  reconcile(w, { verb, value: `${verb}@${w.now}` }).decision;

describe("rollout safety defects", () => {
  it("1. undo after the previous revision was scaled down keeps serving until it is ready again", () => {
    const w = world(undefined, { lives: { v1: { kind: "ready", afterTicks: 3 } } });
    setSpec(w, { modelVersion: "v2" });
    untilPhase(w, "Available");
    until(w, () => !w.pods.has("rev-v1"), 10_000); // past scaleDownDelaySeconds: v1 is gone
    const undo = act(w, "undo");
    expect(undo.traffic.stableRevision).toBe("rev-v2"); // no Service may select pods that do not exist
    expect(undo.render.map((r) => r.revision)).toContain("rev-v1");
    expect(undo.replicas.get("rev-v1")).toBe(2);
    const back = until(w, (d) => d.traffic.stableRevision === "rev-v1");
    expect(w.pods.get("rev-v1")?.ready).toBe(2); // it switched only once v1 was ready
    expect(back.status.phase).toBe("RolledBack");
  });

  it.each(["error", "noData"] as const)(
    "2. a background analysis without a passing latest measurement holds promotion (Prometheus %s)",
    (answer) => {
      const w = world({
        canary: { steps: [{ setWeight: 50 }, { pause: { duration: "2m" } }], analysis, ...delays },
      });
      w.prometheus = answer;
      setSpec(w, { modelVersion: "v2" });
      for (let i = 0; i < 8; i++) {
        age(w, 30_000);
        const { decision } = reconcile(w);
        expect(decision.status.stableRevision).toBe("rev-v1");
        expect(decision.status.history ?? []).toEqual([]);
      }
      expect(["Paused", "RolledBack"]).toContain(w.mdep.status?.phase);
      if (w.mdep.status?.phase === "Paused") expect(w.mdep.status.message).toMatch(/analysis background/i);
      // Data that passes lets it go on.
      if (answer === "noData") {
        w.prometheus = "pass";
        const promoted = until(w, (d) => d.status.stableRevision === "rev-v2", 30_000);
        expect(promoted.status.history?.[0]?.result).toBe("Promoted");
      }
    },
  );

  it("3. a new version during the post-promotion guard removes the guarded previous revision", () => {
    const w = world({ canary: { steps: [{ setWeight: 50 }], postPromotionAnalysis: analysis, ...delays } });
    setSpec(w, { modelVersion: "v2" });
    until(w, (d) => d.status.stableRevision === "rev-v2");
    expect(w.mdep.status?.analysisRuns?.map((r) => r.name)).toEqual(["postPromotion"]);
    setSpec(w, { modelVersion: "v3" });
    const next = reconcile(w).decision;
    expect(next.deleteRevisions).toContain("rev-v1");
    expect(w.pods.has("rev-v1")).toBe(false);
  });

  it("5. promote-full on blue-green switches only once the preview is ready", () => {
    const w = world(
      { blueGreen: { autoPromotionEnabled: false, ...delays } },
      { lives: { v2: { kind: "ready", afterTicks: 4 } } },
    );
    setSpec(w, { modelVersion: "v2" });
    reconcile(w); // the rollout starts
    const d = act(w, "promote-full");
    expect(d.traffic.stableRevision).toBe("rev-v1");
    const switched = until(w, (x) => x.traffic.stableRevision === "rev-v2");
    expect(w.pods.get("rev-v2")?.ready).toBe(2);
    expect(switched.status.history?.[0]?.result).toBe("Promoted");
  });

  it("5. blue-green auto-promotion does not switch to a preview whose pods crashed", () => {
    const w = world(
      { blueGreen: { autoPromotionEnabled: true, autoPromotionSeconds: 60, ...delays } },
      {
        lives: { v2: { kind: "crashes", afterTicks: 2 } },
      },
    );
    setSpec(w, { modelVersion: "v2" });
    for (let i = 0; i < 10; i++) {
      age(w, 20_000);
      expect(reconcile(w).decision.traffic.stableRevision).toBe("rev-v1");
    }
  });

  it("6. status stays within the CRD's limits with 24 analysis steps and many aborted rollouts", () => {
    const fits = (d: RolloutDecision) => {
      const parsed = modelDeploymentStatusSchema.safeParse(d.status);
      if (!parsed.success) throw new Error(`status does not fit the CRD: ${parsed.error.message}`);
    };
    const steps = Array.from({ length: 24 }, () => ({ analysis: { ...analysis, count: 1 } }));
    const w = world({ canary: { steps, ...delays } }, { router: "gatewayAPI", versions: 14 });
    setSpec(w, { modelVersion: "v2" });
    until(
      w,
      (d) => {
        fits(d);
        return d.status.stableRevision === "rev-v2";
      },
      60_000,
      200,
    );
    for (let i = 3; i <= 14; i++) {
      setSpec(w, { modelVersion: `v${i}` });
      fits(reconcile(w).decision);
      fits(act(w, "abort"));
    }
    expect(w.mdep.status?.retiringRevisions?.length).toBe(8);
  });

  it("11. retry does not delete the Deployment it renders", () => {
    const w = world({ canary: { steps: [{ setWeight: 50 }, { analysis }], ...delays } });
    w.prometheus = "fail";
    setSpec(w, { modelVersion: "v2" });
    untilPhase(w, "RolledBack", 30_000);
    const retry = act(w, "retry");
    expect(retry.render.map((r) => r.revision)).toContain("rev-v2");
    expect(retry.deleteRevisions).not.toContain("rev-v2");
  });

  it("11. returning to the previous version within its warm window does not delete what it renders", () => {
    const w = world({ canary: { steps: [{ setWeight: 50 }], ...delays } });
    setSpec(w, { modelVersion: "v2" });
    until(w, (d) => d.status.stableRevision === "rev-v2");
    expect(w.mdep.status?.retiringRevisions?.map((r) => r.revision)).toEqual(["rev-v1"]);
    setSpec(w, { modelVersion: "v1" });
    const d = reconcile(w).decision;
    expect(d.render.map((r) => r.revision)).toContain("rev-v1");
    expect(d.deleteRevisions).not.toContain("rev-v1");
  });

  it("found by the property suite: spec.modelVersion back to the stable version mid-rollout ends the rollout", () => {
    const w = world({ canary: { steps: [{ setWeight: 50 }, { pause: {} }], ...delays } });
    setSpec(w, { modelVersion: "v2" });
    untilPhase(w, "Paused");
    setSpec(w, { modelVersion: "v1" });
    const back = reconcile(w).decision;
    expect(back.status).toMatchObject({ phase: "Available", stableVersion: "v1" });
    expect(back.status.canaryRevision).toBeUndefined();
    expect(back.traffic.canaryWeight).toBe(0);
    expect(back.status.history?.[0]).toMatchObject({ version: "v2", result: "Aborted" });
    until(w, () => !w.pods.has("rev-v2"), 10_000); // retired, then deleted
  });
});
