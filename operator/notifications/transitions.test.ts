import { describe, expect, it } from "vitest";
import type { DriftMonitor, DriftMonitorStatus, ModelDeployment } from "../api/index.ts";
import type { ManualAction } from "../rollout/types.ts";
import { setVersion, tick, type World, world } from "../testing/simulate.ts";
import { channelsOf, driftNotifications, type Notification, rolloutNotifications } from "./transitions.ts";

const analysis = { interval: "1m", count: 1, failureLimit: 0, inconclusiveLimit: 0, metrics: [] };

/** A strategy as written, before the API's defaults. */
type Strategy = object | undefined;

function mdep(strategy: Strategy, annotations?: Record<string, string>) {
  return {
    apiVersion: "modelops.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: {
      name: "iris",
      namespace: "ml",
      uid: "u1",
      generation: 1,
      ...(annotations ? { annotations } : {}),
    },
    spec: { modelVersion: "v1", replicas: 2, paused: false, progressDeadlineSeconds: 600, strategy },
  } as ModelDeployment;
}

/** Serves v1, applies v2, and collects what every reconcile would announce until `done`. */
function rollOut(strategy: Strategy, script: (w: World, announced: Notification[]) => void): Notification[] {
  const w = world(mdep(strategy));
  const announced: Notification[] = [];
  const step = (opts: { advanceMs?: number; action?: ManualAction } = {}) => {
    const before = w.mdep.status;
    const d = tick(w, { advanceMs: 1000, ...opts });
    announced.push(...rolloutNotifications(w.mdep, before, d.status));
    return d;
  };
  for (let i = 0; i < 20 && w.mdep.status?.phase !== "Available"; i++) step();
  expect(announced).toEqual([]); // the first version serves without a rollout
  setVersion(w, "v2");
  script(Object.assign(w, { step }), announced);
  return announced;
}

type Stepper = World & { step: (opts?: { advanceMs?: number; action?: ManualAction }) => unknown };
const ticks = (w: World, n: number, opts: { advanceMs?: number; action?: ManualAction } = {}) => {
  for (let i = 0; i < n; i++) (w as Stepper).step(i === 0 ? opts : {});
};

describe("rolloutNotifications over the engine's own transitions", () => {
  it("a canary announces started, the manual pause (not the timed one) and promoted, once each", () => {
    const strategy = {
      canary: { steps: [{ setWeight: 20 }, { pause: { duration: "5s" } }, { setWeight: 50 }, { pause: {} }] },
    };
    const announced = rollOut(strategy, (w) => {
      ticks(w, 30);
      expect(w.mdep.status?.pauseReason).toBe("PauseStep");
      expect(w.mdep.status?.currentStepIndex).toBe(3);
      ticks(w, 30, { action: { verb: "promote", value: "promote@1" } });
      expect(w.mdep.status?.stableVersion).toBe("v2");
    });
    expect(announced.map((n) => n.event)).toEqual(["RolloutStarted", "RolloutPaused", "Promoted"]);
    const [started, paused, promoted] = announced as [Notification, Notification, Notification];
    expect(started).toMatchObject({ version: "v2", previousVersion: "v1", namespace: "ml", name: "iris" });
    expect(paused).toMatchObject({ version: "v2", previousVersion: "v1" });
    expect(paused.reason).toMatch(/^PauseStep: Step 4: paused until promoted/);
    expect(promoted).toMatchObject({ version: "v2", previousVersion: "v1", reason: "promoted over v1" });
    expect(new Set(announced.map((n) => n.key)).size).toBe(3);
    expect(started.key).toBe(`ml/iris/RolloutStarted/${started.time}/rev-v2`);
  });

  it("a failed analysis announces the rollback with the version that serves again", () => {
    const strategy = { canary: { steps: [{ setWeight: 20 }, { analysis }] } };
    const announced = rollOut(strategy, (w) => {
      w.analysis["step-1"] = "Failed";
      ticks(w, 30);
      expect(w.mdep.status?.phase).toBe("RolledBack");
    });
    expect(announced.map((n) => n.event)).toEqual(["RolloutStarted", "RolledBack"]);
    expect(announced[1]).toMatchObject({ version: "v2", previousVersion: "v1" });
    expect(announced[1]?.reason).toContain("step-1");
  });

  it("an undo after promotion announces a rollback of the promoted version", () => {
    const announced = rollOut(undefined, (w) => {
      ticks(w, 20);
      expect(w.mdep.status?.stableVersion).toBe("v2");
      ticks(w, 20, { action: { verb: "undo", value: "undo@1" } });
      expect(w.mdep.status?.stableVersion).toBe("v1");
    });
    expect(announced.map((n) => n.event)).toEqual(["RolloutStarted", "Promoted", "RolledBack"]);
    expect(announced[2]).toMatchObject({ version: "v2", previousVersion: "v1" });
  });

  it("blue-green waiting for promotion is a pause for a person; an automatic delay is not", () => {
    const manual = rollOut({ blueGreen: { autoPromotionEnabled: false } }, (w) => ticks(w, 20));
    expect(manual.map((n) => [n.event, n.reason.split(":")[0]])).toEqual([
      ["RolloutStarted", "spec.modelVersion is v2"],
      ["RolloutPaused", "AwaitingPromotion"],
    ]);
    const timed = rollOut({ blueGreen: { autoPromotionSeconds: 5 } }, (w) => ticks(w, 30));
    expect(timed.map((n) => n.event)).toEqual(["RolloutStarted", "Promoted"]);
  });

  it("the same transition seen twice gives the same key; the written status gives nothing", () => {
    const m = mdep(undefined);
    const before = { phase: "Available" as const, stableVersion: "v1", stableRevision: "r1" };
    const after = {
      ...before,
      phase: "Progressing" as const,
      canaryVersion: "v2",
      canaryRevision: "r2",
      rolloutStartTime: "2026-01-01T00:00:00Z",
    };
    const first = rolloutNotifications(m, before, after);
    expect(rolloutNotifications(m, before, after)).toEqual(first);
    expect(first).toHaveLength(1);
    expect(rolloutNotifications(m, after, after)).toEqual([]);
  });
});

describe("driftNotifications", () => {
  const dm = {
    apiVersion: "modelops.io/v1alpha1",
    kind: "DriftMonitor",
    metadata: { name: "iris-drift", namespace: "ml" },
    spec: { targetRef: { name: "iris" } },
  } as DriftMonitor;
  const target = mdep(undefined, { "modelops.io/notify": "ops" });
  target.status = { stableVersion: "v2", previousVersion: "v1" };
  const critical: DriftMonitorStatus = {
    verdict: "Critical",
    criticalSince: "2026-01-01T00:05:00Z",
    message: "feature petal_length drifted",
  };

  it("announces the Critical verdict that opens an episode, once", () => {
    const [n, ...rest] = driftNotifications(dm, target, { verdict: "Warning" }, critical, "v2");
    expect(rest).toEqual([]);
    expect(n).toEqual({
      event: "DriftCritical",
      key: "ml/iris-drift/DriftCritical/2026-01-01T00:05:00Z",
      kind: "DriftMonitor",
      namespace: "ml",
      name: "iris-drift",
      modelDeployment: "iris",
      version: "v2",
      previousVersion: "v1",
      reason: "feature petal_length drifted",
      time: "2026-01-01T00:05:00Z",
      channels: ["ops"],
    });
    expect(driftNotifications(dm, target, critical, { ...critical, message: "still" }, "v2")).toEqual([]);
  });

  it("stays quiet for Warning, and for an episode kept open by Unknown", () => {
    expect(driftNotifications(dm, target, undefined, { verdict: "Warning" }, "v2")).toEqual([]);
    const open = { verdict: "Unknown" as const, criticalSince: critical.criticalSince };
    expect(driftNotifications(dm, target, critical, open, "v2")).toEqual([]);
    expect(driftNotifications(dm, target, open, critical, "v2")).toEqual([]);
  });

  it("a new episode after NoDrift is a new notification", () => {
    const again = { ...critical, criticalSince: "2026-01-01T01:00:00Z" };
    const [n] = driftNotifications(dm, target, { verdict: "NoDrift" }, again, "v2");
    expect(n?.key).toBe("ml/iris-drift/DriftCritical/2026-01-01T01:00:00Z");
  });
});

describe("channelsOf", () => {
  it.each([
    [undefined, {}],
    ["", {}],
    ["none", { channels: [] }],
    ["None", { channels: [] }],
    ["ops, slack", { channels: ["ops", "slack"] }],
  ])("modelops.io/notify=%j gives %j", (value, expected) => {
    const annotations = value === undefined ? undefined : { "modelops.io/notify": value };
    expect(channelsOf(mdep(undefined, annotations))).toEqual(expected);
  });
});
