// Moves every strategy's stages share: the progress deadline, an
// inconclusive analysis holding the rollout, and promotion at full size.
import { ANALYSIS_COUNT, PROGRESS_DEADLINE_SECONDS, parseDurationMs } from "../api/index.ts";
import { abortRollout, promote, type StrategySettings } from "./moves.ts";
import { isReady, revisionState, setPhase, sinceMs, type Tick, totalReplicas, wakeAt } from "./tick.ts";
import type { AnalysisRun, Revision } from "./types.ts";

export type StepOutcome = "done" | "waiting" | "aborted";

/** Aborts a stage that made no progress within progressDeadlineSeconds (plus what analysis needs). */
export function checkDeadline(
  t: Tick,
  settings: StrategySettings,
  target: Revision,
  extraMs: number,
): StepOutcome {
  const deadlineMs =
    (t.input.mdep.spec.progressDeadlineSeconds ?? PROGRESS_DEADLINE_SECONDS) * 1000 + extraMs;
  const stuckPods = revisionState(t, target.revision)?.deadlineExceeded ?? false;
  const elapsed = sinceMs(t, t.st.currentStepStartTime);
  if (stuckPods || elapsed > deadlineMs) {
    const why = stuckPods
      ? `the pods of ${target.version} cannot become ready`
      : `no progress for ${Math.round(elapsed / 1000)} s (progressDeadlineSeconds)`;
    abortRollout(t, settings, "ProgressDeadlineExceeded", why);
    return "aborted";
  }
  wakeAt(t, Date.parse(t.st.currentStepStartTime ?? t.now.toISOString()) + deadlineMs + 1);
  return "waiting";
}

export function analysisBudgetMs(step: {
  analysis?: { interval: string; count?: number | undefined } | undefined;
}): number {
  if (!step.analysis) return 0;
  return parseDurationMs(step.analysis.interval) * ((step.analysis.count ?? ANALYSIS_COUNT) + 1);
}

/** An inconclusive analysis holds the rollout until data arrives or a human decides. */
export function pauseIfInconclusive(t: Tick, run: AnalysisRun | undefined): void {
  if (!run) return;
  const noData = run.metrics?.filter((m) => m.phase === "Inconclusive") ?? [];
  if (run.phase !== "Inconclusive" && noData.length === 0) return;
  const detail = noData.map((m) => m.message ?? m.name).join("; ") || (run.message ?? "inconclusive");
  setPhase(t, "Paused", `Analysis ${run.name} is inconclusive: ${detail}`, "InconclusiveAnalysis");
}

/**
 * The new revision takes all traffic only once it runs as many pods as the
 * stable one: promotion never lands the whole load on a canary- or
 * shadow-sized revision.
 */
export function promoteAtFullSize(t: Tick, settings: StrategySettings, target: Revision): void {
  const total = totalReplicas(t);
  t.replicas.set(target.revision, Math.max(total, t.replicas.get(target.revision) ?? 0));
  if (t.st.stableRevision)
    t.replicas.set(t.st.stableRevision, Math.max(total, t.replicas.get(t.st.stableRevision) ?? 0));
  if (isReady(t, target.revision, total)) {
    promote(t, settings);
    return;
  }
  setPhase(t, "Progressing", `Scaling ${target.version} to ${total} pods before it takes all traffic`);
  checkDeadline(t, settings, target, 0);
}
