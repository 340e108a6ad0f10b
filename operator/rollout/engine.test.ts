import { describe, expect, it } from "vitest";
import type { ModelDeployment } from "../api/index.ts";
import { runUntil, setVersion, tick, type World, world } from "../testing/simulate.ts";
import { stepRollout } from "./engine.ts";

const analysis = { interval: "1m", count: 2, failureLimit: 0, inconclusiveLimit: 0, metrics: [] };
const canarySteps = [
  { setWeight: 20 },
  { pause: { duration: "30s" } },
  { setWeight: 50 },
  { analysis },
  { pause: {} },
];

function mdep(strategy: ModelDeployment["spec"]["strategy"], replicas = 4): ModelDeployment {
  return {
    apiVersion: "modelops.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: "iris", namespace: "ml", uid: "u1", generation: 1 },
    spec: { modelVersion: "v1", replicas, paused: false, progressDeadlineSeconds: 600, strategy },
  } as ModelDeployment;
}

const canaryStrategy = {
  canary: { steps: canarySteps, analysis, scaleDownDelaySeconds: 30, abortScaleDownDelaySeconds: 600 },
};

/** A world serving v1, with v2 just applied. */
function rollingOut(
  strategy: ModelDeployment["spec"]["strategy"],
  router: World["router"] = "replicas",
): World {
  const w = world(mdep(strategy), router);
  runUntil(w, (d) => d.status.phase === "Available");
  setVersion(w, "v2");
  return w;
}

const stepIndex = (w: World) => w.mdep.status?.currentStepIndex;
const promoteAction = (n: number) => ({ verb: "promote" as const, value: `promote@${n}` });

describe("first version", () => {
  it("serves at once without a rollout", () => {
    const w = world(mdep(canaryStrategy));
    const d = runUntil(w, (x) => x.status.phase === "Available");
    expect(d.status.stableVersion).toBe("v1");
    expect(d.status.canaryVersion).toBeUndefined();
    expect(d.replicas.get("rev-v1")).toBe(4);
    expect(d.events.map((e) => e.reason)).not.toContain("RolloutStarted");
  });
});

describe("a version that cannot be served", () => {
  it("keeps what serves and says why: Degraded while the stable serves, Pending before anything does", () => {
    const w = world(mdep(canaryStrategy));
    runUntil(w, (d) => d.status.phase === "Available");
    const input = {
      mdep: w.mdep,
      target: undefined,
      targetProblem: "ModelVersion v9 does not exist in this namespace",
      revisions: w.revisions,
      router: "replicas" as const,
      now: new Date(w.now),
    };
    const degraded = stepRollout(input);
    expect(degraded.status).toMatchObject({
      phase: "Degraded",
      message: input.targetProblem,
      stableVersion: "v1",
    });
    expect(degraded.replicas.get("rev-v1")).toBe(4);
    const fresh = stepRollout({ ...input, mdep: mdep(canaryStrategy), revisions: new Map() });
    expect(fresh.status.phase).toBe("Pending");
  });
});

describe("canary", () => {
  it("walks every step, promotes, and retires the old revision after its delay", () => {
    const w = rollingOut(canaryStrategy);
    const first = tick(w);
    expect(first.events.map((e) => e.reason)).toContain("RolloutStarted");
    expect(first.traffic.canaryWeight).toBe(20); // the split, as the canary pods become ready
    expect(first.status.canaryWeight).toBe(0); // what the Service delivers while none is ready
    expect(first.replicas.get("rev-v1")).toBe(4); // stable is never scaled down
    expect(first.replicas.get("rev-v2")).toBe(1);
    runUntil(w, () => stepIndex(w) === 1);
    expect(w.mdep.status?.phase).toBe("Paused");
    runUntil(w, () => stepIndex(w) === 3, 5000);
    expect(w.mdep.status?.canaryWeight).toBe(50);
    expect(w.last?.replicas.get("rev-v2")).toBe(4);
    w.analysis["step-3"] = "Successful";
    runUntil(w, () => stepIndex(w) === 4);
    expect(tick(w, { advanceMs: 3_600_000 }).status.phase).toBe("Paused"); // pause without duration waits
    w.analysis.background = "Successful";
    const promoted = tick(w, { action: promoteAction(1) });
    expect(promoted.status.stableVersion).toBe("v2");
    expect(promoted.status.previousVersion).toBe("v1");
    expect(promoted.status.history?.[0]).toMatchObject({ version: "v2", result: "Promoted" });
    expect(promoted.status.retiringRevisions?.map((r) => r.revision)).toEqual(["rev-v1"]);
    const later = runUntil(w, (d) => d.deleteRevisions.includes("rev-v1"), 5000);
    expect(later.status.phase).toBe("Available");
  });

  it.each([0, 1, 2, 3, 4])("rolls back when the background analysis fails at step %i", (failAt) => {
    const w = rollingOut(canaryStrategy);
    w.analysis["step-3"] = "Successful";
    runUntil(w, () => stepIndex(w) === failAt, 5000);
    w.analysis.background = "Failed";
    const d = tick(w);
    expect(d.status.phase).toBe("RolledBack");
    expect(d.status.stableVersion).toBe("v1");
    expect(d.traffic.canaryWeight).toBe(0);
    expect(d.status.history?.[0]).toMatchObject({ version: "v2", result: "RolledBack" });
    expect(d.events.some((e) => e.type === "Warning" && e.reason === "RolledBack")).toBe(true);
    expect(d.status.retiringRevisions?.[0]?.reason).toContain("rolled back");
    // It does not retry by itself, and the failed revision is deleted after the debug delay.
    const after = runUntil(w, (x) => x.deleteRevisions.includes("rev-v2"), 60_000);
    expect(after.status.phase).toBe("RolledBack");
    expect(w.revisions.has("rev-v2")).toBe(false);
  });

  it.each([0, 1, 2, 3, 4])("aborts by hand at step %i", (abortAt) => {
    const w = rollingOut(canaryStrategy);
    w.analysis["step-3"] = "Successful";
    runUntil(w, () => stepIndex(w) === abortAt, 5000);
    const d = tick(w, { action: { verb: "abort", value: "abort@1" } });
    expect(d.status.phase).toBe("RolledBack");
    expect(d.status.lastHandledAction).toBe("abort@1");
    expect(d.traffic.canaryWeight).toBe(0);
  });

  it.each([0, 1, 2, 3, 4])("gives the same decision when restarted at step %i", (at) => {
    const w = rollingOut(canaryStrategy);
    w.analysis["step-3"] = "Successful";
    runUntil(w, () => stepIndex(w) === at, 5000);
    const input = {
      mdep: structuredClone(w.mdep),
      target: { revision: "rev-v2", version: "v2" },
      revisions: new Map(w.revisions),
      router: w.router,
      now: new Date(w.now + 1000),
    };
    const frozen = JSON.stringify(input.mdep);
    const a = stepRollout(input);
    const b = stepRollout({ ...input, mdep: JSON.parse(frozen) as ModelDeployment });
    expect(JSON.stringify(input.mdep)).toBe(frozen); // the engine does not change its input
    expect(b).toEqual(a);
  });

  it("pauses on an inconclusive analysis, says why, and continues when data arrives", () => {
    const w = rollingOut(canaryStrategy);
    runUntil(w, () => stepIndex(w) === 3, 5000);
    w.analysis["step-3"] = "Inconclusive";
    const paused = tick(w);
    expect(paused.status.phase).toBe("Paused");
    expect(paused.status.pauseReason).toBe("InconclusiveAnalysis");
    expect(paused.status.message).toContain("step-3");
    w.analysis["step-3"] = "Successful";
    const run = w.mdep.status?.analysisRuns?.find((r) => r.name === "step-3");
    if (run) run.phase = "Running"; // the shell keeps measuring; new data makes it pass
    runUntil(w, () => stepIndex(w) === 4);
  });

  it("aborts a step that cannot make progress within progressDeadlineSeconds", () => {
    const w = rollingOut(canaryStrategy);
    w.stuck.add("rev-v2");
    const d = runUntil(w, (x) => x.status.phase === "RolledBack", 10_000, 200);
    expect(d.status.history?.[0]?.message).toContain("progressDeadlineSeconds");
    expect(w.now - Date.parse("2026-01-01T00:00:00Z")).toBeGreaterThan(600_000);
  });

  it("never lets a failing router block an abort, nor advance a weight", () => {
    const w = rollingOut(canaryStrategy, "gatewayAPI");
    tick(w);
    w.routerError = "HTTPRoute iris not found";
    const stuck = tick(w, { advanceMs: 5000 });
    expect(stepIndex(w)).toBe(0); // the weight is not in place, so the step does not complete
    expect(stuck.traffic.canaryWeight).toBe(0);
    w.analysis.background = "Failed";
    const d = tick(w);
    expect(d.status.phase).toBe("RolledBack");
    expect(d.traffic.canaryWeight).toBe(0); // the shell keeps retrying this until the route takes it
  });

  it("holds where it is while spec.paused", () => {
    const w = rollingOut(canaryStrategy);
    runUntil(w, () => stepIndex(w) === 1);
    w.mdep = { ...w.mdep, spec: { ...w.mdep.spec, paused: true } };
    const d = tick(w, { advanceMs: 3_600_000 });
    expect(d.status.phase).toBe("Paused");
    expect(d.status.pauseReason).toBe("SpecPaused");
    expect(stepIndex(w)).toBe(1);
    expect(d.traffic.canaryWeight).toBe(20);
  });

  it("keeps when a pause started across reconciles, and starts it anew at the next pause", () => {
    const w = rollingOut(canaryStrategy);
    const first = runUntil(w, (d) => d.status.pauseReason === "PauseStep");
    const started = first.status.pauseStartTime;
    expect(started).toBeDefined();
    expect(tick(w, { advanceMs: 10_000 }).status.pauseStartTime).toBe(started);
    expect(tick(w, { advanceMs: 10_000 }).status.pauseStartTime).toBe(started);
    // The manual pause at the last step is a new pause.
    runUntil(w, () => stepIndex(w) === 3, 5000);
    w.analysis["step-3"] = "Successful";
    const last = runUntil(w, () => stepIndex(w) === 4);
    expect(last.status.pauseStartTime).not.toBe(started);
    expect(tick(w, { advanceMs: 60_000 }).status.pauseStartTime).toBe(last.status.pauseStartTime);
  });

  it("supersedes a rollout in progress when the version changes again", () => {
    const w = rollingOut(canaryStrategy);
    runUntil(w, () => stepIndex(w) === 1);
    setVersion(w, "v3");
    const d = tick(w);
    expect(d.status.canaryVersion).toBe("v3");
    expect(d.status.history?.[0]).toMatchObject({ version: "v2", result: "Aborted" });
    expect(d.deleteRevisions).toContain("rev-v2");
  });

  it("retries a rolled-back version by hand, and undoes a promotion", () => {
    const w = rollingOut(canaryStrategy);
    w.analysis.background = "Failed";
    runUntil(w, (d) => d.status.phase === "RolledBack");
    expect(tick(w, { advanceMs: 60_000 }).status.phase).toBe("RolledBack");
    delete w.analysis.background;
    const retried = tick(w, { action: { verb: "retry", value: "retry@1" } });
    expect(retried.status.phase).not.toBe("RolledBack");
    expect(retried.status.currentStepIndex).toBe(0);
    const promoting = tick(w, { action: { verb: "promote-full", value: "promote-full@1" } });
    expect(promoting.replicas.get("rev-v2")).toBe(4); // grows to full size first
    const promoted = runUntil(w, (d) => d.status.stableVersion === "v2");
    expect(promoted.status.history?.[0]?.result).toBe("Promoted");
    const undone = tick(w, { action: { verb: "undo", value: "undo@1" } });
    expect(undone.status.stableVersion).toBe("v1");
    expect(undone.status.phase).toBe("RolledBack");
    expect(tick(w, { advanceMs: 1000 }).status.stableVersion).toBe("v1"); // spec still names v2: it stays rolled back
  });

  it("scales a small canary to the full size before it takes all traffic", () => {
    const w = rollingOut({
      canary: { steps: [{ setWeight: 10 }], scaleDownDelaySeconds: 30, abortScaleDownDelaySeconds: 600 },
    });
    const small = tick(w);
    expect(small.replicas.get("rev-v2")).toBe(1);
    const growing = runUntil(w, (d) => d.replicas.get("rev-v2") === 4);
    expect(growing.status.stableVersion).toBe("v1"); // not yet: its pods are not ready
    const promoted = runUntil(w, (d) => d.status.stableVersion === "v2");
    expect(w.revisions.get("rev-v2")?.readyReplicas).toBe(4);
    expect(promoted.traffic.stableRevision).toBe("rev-v2");
  });

  it("acts once per annotation value, and says when an action does not apply", () => {
    const w = rollingOut(canaryStrategy);
    runUntil(w, () => stepIndex(w) === 1);
    tick(w, { action: promoteAction(1) });
    expect(stepIndex(w)).toBe(2);
    const ignored = tick(w, { action: { verb: "retry", value: "retry@1" } });
    expect(ignored.events).toContainEqual(
      expect.objectContaining({ type: "Warning", reason: "ActionIgnored" }),
    );
    expect(ignored.status.lastHandledAction).toBe("retry@1");
  });
});
