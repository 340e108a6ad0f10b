// What every strategy's stages share: the progress deadline, an
// inconclusive analysis holding the rollout, and the Promoting stage.
import {
  ANALYSIS_COUNT,
  PROGRESS_DEADLINE_SECONDS,
  parseDurationMs,
  type RolloutStage,
} from "../api/index.ts";
import { type AnalysisId, runName, runPassed, runWaitingReason } from "./analyses.ts";
import { abortRollout, promote, type StrategyKind, type StrategySettings } from "./moves.ts";
import {
  isReady,
  revisionState,
  runOf,
  setPhase,
  sinceMs,
  type Tick,
  totalReplicas,
  wakeAt,
} from "./tick.ts";
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
 * The stage of a rollout. Status written before stages were named carries
 * only currentStepIndex (blue-green and shadow reused it): read it as the
 * stage it stood for, so a rollout in flight during an upgrade goes on.
 */
export function currentStage(t: Tick, kind: StrategyKind): RolloutStage {
  if (t.st.stage) return t.st.stage;
  const index = t.st.currentStepIndex ?? 0;
  if (kind === "canary") return "Steps";
  if (kind === "shadow") return (["Starting", "Mirroring"] as const)[index] ?? "Promoting";
  return (["Preview", "PrePromotionAnalysis", "AwaitingPromotion"] as const)[index] ?? "Promoting";
}

/**
 * The last stage of every strategy. The new revision grows to the full size
 * and takes all traffic only once its pods are ready, so promotion never
 * lands the whole load on a canary- or shadow-sized or cold revision; and,
 * unless an SRE asked for it (PromotingOnRequest), only while every analysis
 * in `gates` has passed (rollout/analyses.ts runPassed): no data, errors or
 * no measurement yet hold the rollout Paused under its deadline.
 */
export function tickPromoting(t: Tick, settings: StrategySettings, target: Revision, gates: Gate[]): void {
  const total = totalReplicas(t);
  t.replicas.set(target.revision, Math.max(total, t.replicas.get(target.revision) ?? 0));
  if (t.st.stableRevision)
    t.replicas.set(t.st.stableRevision, Math.max(total, t.replicas.get(t.st.stableRevision) ?? 0));
  if (t.st.stage !== "PromotingOnRequest") {
    for (const gate of gates) {
      const run = runOf(t, gate.id);
      if (run?.phase === "Failed") {
        abortRollout(t, settings, "AnalysisFailed", run.message ?? `analysis ${runName(gate.id)} failed`);
        return;
      }
      if (runPassed(run)) continue;
      const why = runWaitingReason(run, runName(gate.id));
      setPhase(t, "Paused", `${target.version} is not promoted yet: ${why}`, "AwaitingAnalysis");
      checkDeadline(t, settings, target, analysisBudgetMs({ analysis: gate.analysis }));
      return;
    }
  }
  if (isReady(t, target.revision, total)) {
    promote(t, settings);
    return;
  }
  setPhase(t, "Progressing", `Scaling ${target.version} to ${total} pods before it takes all traffic`);
  checkDeadline(t, settings, target, 0);
}

/** An analysis that must pass before promotion. */
export type Gate = { id: AnalysisId; analysis: { interval: string; count?: number | undefined } };
