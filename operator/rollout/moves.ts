// Moves shared by every strategy: starting a rollout, aborting it, promoting
// it, and the post-promotion guard that can still roll back to the warm
// previous revision.
import {
  ABORT_SCALE_DOWN_DELAY_SECONDS,
  type Analysis,
  type ModelDeployment,
  PROGRESS_DEADLINE_SECONDS,
  type RolloutStage,
  SCALE_DOWN_DELAY_SECONDS,
} from "../api/index.ts";
import { kubeTime } from "../runtime/conditions.ts";
import {
  canary,
  clearRollout,
  emit,
  ensureRun,
  enterStage,
  isReady,
  record,
  resetTraffic,
  retire,
  revisionState,
  runOf,
  setPhase,
  sinceMs,
  stable,
  type Tick,
  totalReplicas,
  unretire,
  wakeAt,
} from "./tick.ts";
import type { Revision } from "./types.ts";

export type StrategyKind = "none" | "canary" | "blueGreen" | "shadow";

export type StrategySettings = {
  kind: StrategyKind;
  scaleDownDelaySeconds: number;
  abortScaleDownDelaySeconds: number;
  postPromotionAnalysis: Analysis | undefined;
};

export function strategySettings(mdep: ModelDeployment): StrategySettings {
  const s = mdep.spec.strategy;
  const chosen = s?.canary ?? s?.blueGreen ?? s?.shadow;
  const kind: StrategyKind = s?.canary
    ? "canary"
    : s?.blueGreen
      ? "blueGreen"
      : s?.shadow
        ? "shadow"
        : "none";
  const post = s?.canary?.postPromotionAnalysis ?? s?.blueGreen?.postPromotionAnalysis;
  return {
    kind,
    scaleDownDelaySeconds: chosen?.scaleDownDelaySeconds ?? SCALE_DOWN_DELAY_SECONDS,
    abortScaleDownDelaySeconds: chosen?.abortScaleDownDelaySeconds ?? ABORT_SCALE_DOWN_DELAY_SECONDS,
    postPromotionAnalysis: post,
  };
}

const FIRST_STAGE: Record<StrategyKind, RolloutStage> = {
  canary: "Steps",
  blueGreen: "Preview",
  none: "Preview",
  shadow: "Starting",
};

/** A new target: supersede any rollout in progress and start from the first stage. */
export function startRollout(t: Tick, settings: StrategySettings, target: Revision): void {
  const previous = canary(t);
  if (previous && previous.revision !== target.revision && t.st.phase !== "RolledBack") {
    record(t, "Aborted", previous.version, previous.revision, `superseded by ${target.version}`);
    emit(t, "Normal", "RolloutSuperseded", `Rollout of ${previous.version} superseded by ${target.version}`);
  }
  if (previous && previous.revision !== target.revision) t.deleteRevisions.push(previous.revision);
  // With the replicas router the Service selects every revision during a
  // canary, so nothing else may be running then.
  if (t.input.router === "replicas") {
    for (const r of t.st.retiringRevisions ?? []) t.deleteRevisions.push(r.revision);
    delete t.st.retiringRevisions;
  }
  clearRollout(t);
  delete t.st.restoring;
  t.st.canaryRevision = target.revision;
  t.st.canaryVersion = target.version;
  t.st.canaryWeight = 0;
  if (settings.kind === "canary") t.st.currentStepIndex = 0;
  enterStage(t, FIRST_STAGE[settings.kind]);
  t.st.rolloutStartTime = kubeTime(t.now);
  if (t.input.targetEvidence) t.st.rolloutEvidence = structuredClone(t.input.targetEvidence);
  delete t.st.analysisRuns;
  unretire(t, target.revision);
  setPhase(t, "Progressing", `Rolling out ${target.version}`);
  const from = t.st.stableVersion ?? "nothing";
  emit(
    t,
    "Normal",
    "RolloutStarted",
    `Rolling out ${target.version} (revision ${target.revision}) over ${from}`,
  );
}

/**
 * spec.modelVersion names the stable version again: a rollout in progress
 * ends (traffic back to stable, recorded as aborted), and a rolled-back one
 * is forgotten, since the spec no longer asks for it.
 */
export function cancelRollout(t: Tick, settings: StrategySettings, target: Revision): void {
  const rev = canary(t);
  if (!rev) return;
  if (t.st.phase !== "RolledBack") {
    record(t, "Aborted", rev.version, rev.revision, `spec.modelVersion returned to ${target.version}`);
    emit(
      t,
      "Normal",
      "RolloutCancelled",
      `Rollout of ${rev.version} cancelled: spec.modelVersion is ${target.version} again`,
    );
    retire(t, rev, settings.scaleDownDelaySeconds, "rollout cancelled");
  }
  clearRollout(t);
  resetTraffic(t);
  delete t.st.analysisRuns;
}

/** Analyses still measuring stop; decided ones stay in status as the evidence of why. */
function endRuns(t: Tick): void {
  t.st.analysisRuns = t.st.analysisRuns?.filter((r) => r.phase !== "Running" && r.phase !== "Inconclusive");
  if (t.st.analysisRuns?.length === 0) delete t.st.analysisRuns;
}

/** Traffic back to stable at once; the new revision is kept for debugging, then deleted. */
export function abortRollout(t: Tick, settings: StrategySettings, reason: string, message: string): void {
  const rev = canary(t);
  if (!rev) return;
  record(t, "RolledBack", rev.version, rev.revision, message);
  retire(t, rev, settings.abortScaleDownDelaySeconds, `rolled back: ${reason}`);
  endRuns(t);
  t.st.canaryWeight = 0;
  resetTraffic(t);
  delete t.st.stage;
  delete t.st.currentStepIndex;
  delete t.st.currentStepStartTime;
  setPhase(
    t,
    "RolledBack",
    `${rev.version} rolled back (${reason}): ${message}. Serving ${t.st.stableVersion}.`,
  );
  emit(t, "Warning", "RolledBack", `${rev.version} rolled back to ${t.st.stableVersion}: ${message}`);
}

/** The new revision takes all traffic; the previous one stays warm for the guard window. */
export function promote(t: Tick, settings: StrategySettings): void {
  const rev = canary(t);
  if (!rev) return;
  const old = stable(t);
  record(t, "Promoted", rev.version, rev.revision, `promoted over ${old?.version ?? "nothing"}`);
  emit(t, "Normal", "Promoted", `${rev.version} now serves all traffic`);
  t.st.stableRevision = rev.revision;
  t.st.stableVersion = rev.version;
  clearRollout(t);
  resetTraffic(t);
  delete t.st.analysisRuns;
  if (old) {
    t.st.previousRevision = old.revision;
    t.st.previousVersion = old.version;
  }
  if (settings.postPromotionAnalysis && old) {
    ensureRun(t, { kind: "postPromotion" }, rev.revision);
  } else if (old) {
    retire(t, old, settings.scaleDownDelaySeconds, "warm for a fast rollback");
  }
}

/**
 * After promotion, while the guard analysis runs, the previous revision keeps
 * its replicas. A failed guard sends traffic back to it.
 */
export function guardAfterPromotion(
  t: Tick,
  settings: StrategySettings,
): "rolledBack" | "running" | "paused" | "done" {
  const run = runOf(t, { kind: "postPromotion" });
  const previous =
    t.st.previousRevision && t.st.previousVersion
      ? { revision: t.st.previousRevision, version: t.st.previousVersion }
      : undefined;
  if (!run || !previous) return "done";
  if (run.phase === "Failed") {
    returnTo(t, previous, settings, `post-promotion analysis failed: ${run.message ?? "a metric regressed"}`);
    return "rolledBack";
  }
  if (run.phase === "Successful") {
    retire(t, previous, settings.scaleDownDelaySeconds, "warm for a fast rollback");
    delete t.st.analysisRuns;
    emit(t, "Normal", "GuardPassed", `Post-promotion analysis of ${t.st.stableVersion} passed`);
    return "done";
  }
  t.replicas.set(previous.revision, Math.max(1, t.input.mdep.spec.replicas ?? 1));
  if (run.phase === "Inconclusive") {
    setPhase(t, "Paused", run.message ?? "post-promotion analysis is inconclusive", "InconclusiveAnalysis");
    return "paused";
  }
  return "running";
}

/** Serve `previous` again and mark the current stable as rolled back (spec still names it). */
export function rollBackTo(
  t: Tick,
  previous: { revision: string; version: string },
  settings: StrategySettings,
  message: string,
): void {
  const failed = stable(t);
  t.st.stableRevision = previous.revision;
  t.st.stableVersion = previous.version;
  unretire(t, previous.revision);
  delete t.st.previousRevision;
  delete t.st.previousVersion;
  delete t.st.analysisRuns;
  if (failed) {
    t.st.canaryRevision = failed.revision;
    t.st.canaryVersion = failed.version;
    record(t, "RolledBack", failed.version, failed.revision, message);
    retire(t, failed, settings.abortScaleDownDelaySeconds, "rolled back");
    emit(t, "Warning", "RolledBack", `${failed.version} rolled back to ${previous.version}: ${message}`);
  }
  t.st.canaryWeight = 0;
  resetTraffic(t);
  setPhase(
    t,
    "RolledBack",
    `${failed?.version ?? "The new version"} rolled back: ${message}. Serving ${previous.version}.`,
  );
  wakeAt(t, t.now.getTime());
}

/**
 * Traffic goes back to `previous` (undo, a failed guard): at once when it
 * runs ready at full size; otherwise it starts again first, and the current
 * stable serves until then (tickRestoring), so an undo is never an outage.
 */
export function returnTo(t: Tick, previous: Revision, settings: StrategySettings, message: string): void {
  if (isReady(t, previous.revision, totalReplicas(t))) {
    rollBackTo(t, previous, settings, message);
    return;
  }
  t.st.restoring = { ...previous, startTime: kubeTime(t.now), message };
  unretire(t, previous.revision);
  delete t.st.analysisRuns; // a failed guard is decided; restoring carries its message
  tickRestoring(t, settings);
}

/** An undo or guard rollback waiting for the previous revision's pods. Returns false once nothing is restoring. */
export function tickRestoring(t: Tick, settings: StrategySettings): boolean {
  const r = t.st.restoring;
  if (!r) return false;
  const previous = { revision: r.revision, version: r.version };
  const total = totalReplicas(t);
  if (isReady(t, r.revision, total)) {
    delete t.st.restoring;
    rollBackTo(t, previous, settings, r.message ?? "undone by an operator action");
    return false;
  }
  const deadlineMs = (t.input.mdep.spec.progressDeadlineSeconds ?? PROGRESS_DEADLINE_SECONDS) * 1000;
  if (sinceMs(t, r.startTime) > deadlineMs || revisionState(t, r.revision)?.deadlineExceeded) {
    delete t.st.restoring;
    emit(
      t,
      "Warning",
      "RestoreFailed",
      `${r.version} did not become ready within progressDeadlineSeconds; ${t.st.stableVersion} still serves`,
    );
    return false;
  }
  t.render.push(previous);
  t.replicas.set(r.revision, total);
  const ready = revisionState(t, r.revision)?.readyReplicas ?? 0;
  setPhase(
    t,
    "Progressing",
    `Returning to ${r.version}: ${ready} of ${total} pods ready; traffic moves to it once all are ready`,
  );
  wakeAt(t, Date.parse(r.startTime ?? t.now.toISOString()) + deadlineMs + 1);
  return true;
}
