// The working state of one engine step: a copy of status that the strategy
// machines change, plus what they ask the shell to do. Helpers here read and
// edit that state (phase, stage, analysis runs, retiring revisions, events,
// wake-ups); the moves every strategy shares (start, abort, promote, guard,
// roll back) are in moves.ts.
import { EVIDENCE_LIMITS, type RolloutStage, STATUS_LIMITS } from "../api/index.ts";
import { kubeTime } from "../runtime/conditions.ts";
import { type AnalysisId, runName } from "./analyses.ts";
import type {
  AnalysisRun,
  EngineEvent,
  ReplicaPlan,
  Revision,
  RevisionState,
  RolloutEvidence,
  RolloutInput,
  Status,
  Traffic,
} from "./types.ts";

export type Tick = {
  input: RolloutInput;
  st: Status;
  now: Date;
  events: EngineEvent[];
  replicas: ReplicaPlan;
  render: Revision[];
  deleteRevisions: string[];
  traffic: Traffic;
  wakeAtMs: number | undefined;
};

export function beginTick(input: RolloutInput): Tick {
  const st: Status = structuredClone(input.mdep.status ?? {});
  return {
    input,
    st,
    now: input.now,
    events: [],
    replicas: new Map(),
    render: [],
    deleteRevisions: [],
    traffic: {
      stableRevision: st.stableRevision,
      canaryRevision: undefined,
      canaryWeight: 0,
      mirrorPercent: 0,
      previewRevision: undefined,
      headerRoute: [],
    },
    wakeAtMs: undefined,
  };
}

export function totalReplicas(t: Tick): number {
  return t.input.mdep.spec.replicas ?? 1;
}

export function emit(t: Tick, type: EngineEvent["type"], reason: string, message: string): void {
  t.events.push({ type, reason, message });
}

/** Ask to be reconciled again at `atMs` (the earliest request wins). */
export function wakeAt(t: Tick, atMs: number): void {
  const at = Math.max(atMs, t.now.getTime());
  t.wakeAtMs = t.wakeAtMs === undefined ? at : Math.min(t.wakeAtMs, at);
}

export function sinceMs(t: Tick, time: string | undefined): number {
  return time ? t.now.getTime() - Date.parse(time) : 0;
}

export function revisionState(t: Tick, revision: string | undefined): RevisionState | undefined {
  return revision ? t.input.revisions.get(revision) : undefined;
}

export function isReady(t: Tick, revision: string | undefined, replicas: number): boolean {
  const r = revisionState(t, revision);
  return r !== undefined && r.readyReplicas >= replicas;
}

export function setPhase(
  t: Tick,
  phase: NonNullable<Status["phase"]>,
  message: string,
  pauseReason?: string,
): void {
  t.st.phase = phase;
  t.st.message = message;
  if (pauseReason) {
    if (t.st.pauseReason !== pauseReason) t.st.pauseStartTime = pauseStart(t, pauseReason);
    t.st.pauseReason = pauseReason;
  } else {
    delete t.st.pauseReason;
    delete t.st.pauseStartTime;
  }
}

/**
 * When a pause started. A tick may pass through Progressing before it pauses
 * again where it already was (same reason, revision, stage and step): that
 * pause goes on, so `kubectl` and notifications see when it really began.
 */
function pauseStart(t: Tick, pauseReason: string): string {
  const before = t.input.mdep.status;
  const same =
    before?.pauseStartTime !== undefined &&
    before.pauseReason === pauseReason &&
    before.canaryRevision === t.st.canaryRevision &&
    before.stage === t.st.stage &&
    before.currentStepIndex === t.st.currentStepIndex;
  return same && before.pauseStartTime ? before.pauseStartTime : kubeTime(t.now);
}

/** Moves to a stage; its progress deadline starts now. A canary keeps its step index through Promoting. */
export function enterStage(t: Tick, stage: RolloutStage): void {
  t.st.stage = stage;
  t.st.currentStepStartTime = kubeTime(t.now);
}

/** Canary: on to the next step. The finished step's analysis leaves status, which stays bounded. */
export function nextStep(t: Tick): void {
  const done = runName({ kind: "step", index: t.st.currentStepIndex ?? 0 });
  const run = t.st.analysisRuns?.find((r) => r.name === done);
  if (run) {
    const evidence = t.st.rolloutEvidence ?? {};
    t.st.rolloutEvidence = {
      ...evidence,
      analyses: keptAnalyses([...(evidence.analyses ?? []), summary(run)]),
    };
  }
  t.st.analysisRuns = t.st.analysisRuns?.filter((r) => r.name !== done);
  if (t.st.analysisRuns?.length === 0) delete t.st.analysisRuns;
  t.st.currentStepIndex = (t.st.currentStepIndex ?? 0) + 1;
  enterStage(t, "Steps");
}

export function runOf(t: Tick, id: AnalysisId): AnalysisRun | undefined {
  const name = runName(id);
  return t.st.analysisRuns?.find((r) => r.name === name);
}

/** Starts the named analysis of `revision` unless it already runs. */
export function ensureRun(t: Tick, id: AnalysisId, revision: string): AnalysisRun {
  const name = runName(id);
  const existing = runOf(t, id);
  if (existing && existing.revision === revision) return existing;
  const run: AnalysisRun = {
    name,
    revision,
    phase: "Running",
    startTime: kubeTime(t.now),
    successful: 0,
    failed: 0,
    inconclusive: 0,
  };
  t.st.analysisRuns = [...(t.st.analysisRuns ?? []).filter((r) => r.name !== name), run];
  return run;
}

export function record(
  t: Tick,
  result: "Promoted" | "RolledBack" | "Aborted",
  version: string,
  revision: string,
  message: string,
): void {
  // The evidence belongs to the rollout in progress: the canary.
  const evidence = t.st.canaryRevision === revision ? t.st.rolloutEvidence : undefined;
  const analyses = keptAnalyses([
    ...(evidence?.analyses ?? []),
    ...(t.st.analysisRuns ?? []).filter((r) => r.revision === revision).map(summary),
  ]);
  const entry = {
    version,
    revision,
    result,
    ...(t.st.rolloutStartTime ? { startTime: t.st.rolloutStartTime } : {}),
    time: kubeTime(t.now),
    message,
    ...(evidence?.setBy ? { setBy: evidence.setBy } : {}),
    ...(evidence?.gates ? { gates: evidence.gates } : {}),
    ...(analyses.length > 0 ? { analyses } : {}),
  };
  t.st.history = [entry, ...(t.st.history ?? [])].slice(0, STATUS_LIMITS.history);
}

/** An analysis as a history entry keeps it: its result and each metric's last values. */
function summary(run: AnalysisRun): NonNullable<RolloutEvidence["analyses"]>[number] {
  const metrics = (run.metrics ?? []).map(({ message: _, ...m }) => m);
  return { name: run.name, phase: run.phase, ...(metrics.length > 0 ? { metrics } : {}) };
}

function keptAnalyses<T>(analyses: T[]): T[] {
  return analyses.slice(-EVIDENCE_LIMITS.analyses);
}

/** Keeps a revision running, without traffic, until the delay passes. */
export function retire(t: Tick, rev: Revision, delaySeconds: number, reason: string): void {
  const deleteAfter = kubeTime(new Date(t.now.getTime() + delaySeconds * 1000));
  const others = (t.st.retiringRevisions ?? [])
    .filter((r) => r.revision !== rev.revision)
    .sort((a, b) => Date.parse(a.deleteAfter ?? "") - Date.parse(b.deleteAfter ?? ""));
  while (others.length >= STATUS_LIMITS.retiringRevisions)
    t.deleteRevisions.push((others.shift() as { revision: string }).revision);
  t.st.retiringRevisions = [...others, { revision: rev.revision, version: rev.version, deleteAfter, reason }];
}

export function unretire(t: Tick, revision: string): void {
  if (!t.st.retiringRevisions) return;
  t.st.retiringRevisions = t.st.retiringRevisions.filter((r) => r.revision !== revision);
  if (t.st.retiringRevisions.length === 0) delete t.st.retiringRevisions;
}

/** All traffic to stable: no canary weight, no preview, no mirror, no header route. */
export function resetTraffic(t: Tick): void {
  t.traffic.headerRoute = [];
  t.traffic.canaryRevision = undefined;
  t.traffic.canaryWeight = 0;
  t.traffic.mirrorPercent = 0;
  t.traffic.previewRevision = undefined;
}

/** Clears what belongs to a rollout in progress, keeping history and retiring revisions. */
export function clearRollout(t: Tick): void {
  for (const key of [
    "canaryVersion",
    "canaryRevision",
    "canaryWeight",
    "stage",
    "currentStepIndex",
    "currentStepStartTime",
    "rolloutStartTime",
    "rolloutEvidence",
    "trafficMessage",
  ] as const) {
    delete t.st[key];
  }
}

export function stable(t: Tick): Revision | undefined {
  const { stableRevision, stableVersion } = t.st;
  return stableRevision && stableVersion ? { revision: stableRevision, version: stableVersion } : undefined;
}

export function canary(t: Tick): Revision | undefined {
  const { canaryRevision, canaryVersion } = t.st;
  return canaryRevision && canaryVersion ? { revision: canaryRevision, version: canaryVersion } : undefined;
}
