// The canary strategy: setWeight, pause and analysis steps in order, with an
// optional background analysis across all of them. Pure.
import { type CanaryStep, type ModelDeployment, parseDurationMs } from "../api/index.ts";
import { abortRollout, promote, type StrategySettings } from "./moves.ts";
import {
  canary,
  ensureRun,
  isReady,
  nextStage,
  revisionState,
  runOf,
  setPhase,
  sinceMs,
  type Tick,
  totalReplicas,
  wakeAt,
} from "./tick.ts";
import { applyCanaryWeight } from "./traffic.ts";
import type { AnalysisRun, Revision } from "./types.ts";

type CanaryStrategy = NonNullable<NonNullable<ModelDeployment["spec"]["strategy"]>["canary"]>;

/** The weight in force at step `index`: the last setWeight at or before it. */
export function weightAt(steps: CanaryStep[], index: number): number {
  for (let i = Math.min(index, steps.length - 1); i >= 0; i--) {
    const w = steps[i]?.setWeight;
    if (w !== undefined) return w;
  }
  return 0;
}

export function tickCanary(t: Tick, settings: StrategySettings, strategy: CanaryStrategy): void {
  const target = canary(t);
  if (!target) return;
  if (strategy.analysis) ensureRun(t, "background", target.revision);
  // Several steps can complete in one tick (e.g. a setWeight whose pods are ready).
  for (let guard = 0; guard <= strategy.steps.length; guard++) {
    const background = runOf(t, "background");
    if (background?.phase === "Failed") {
      abortRollout(t, settings, "AnalysisFailed", background.message ?? "background analysis failed");
      return;
    }
    const index = t.st.currentStepIndex ?? 0;
    if (index >= strategy.steps.length) {
      promoteAtFullSize(t, settings, target, strategy.steps);
      return;
    }
    const pods = applyCanaryWeight(t, target, weightAt(strategy.steps, index));
    const step = strategy.steps[index] as CanaryStep;
    const outcome = runStep(t, settings, target, step, index, pods);
    if (outcome === "aborted") return;
    if (outcome === "waiting") {
      pauseIfInconclusive(t, background);
      return;
    }
    nextStage(t);
  }
}

/**
 * The new revision takes all traffic only once it runs as many pods as the
 * stable one: promotion never lands the whole load on a canary-sized revision.
 */
function promoteAtFullSize(t: Tick, settings: StrategySettings, target: Revision, steps: CanaryStep[]): void {
  const total = totalReplicas(t);
  applyCanaryWeight(t, target, weightAt(steps, steps.length - 1));
  t.replicas.set(target.revision, Math.max(total, t.replicas.get(target.revision) ?? 0));
  if (isReady(t, target.revision, total)) {
    promote(t, settings);
    return;
  }
  setPhase(t, "Progressing", `Scaling ${target.version} to ${total} pods before it takes all traffic`);
  checkDeadline(t, settings, target, 0);
}

type StepOutcome = "done" | "waiting" | "aborted";

function runStep(
  t: Tick,
  settings: StrategySettings,
  target: Revision,
  step: CanaryStep,
  index: number,
  pods: number,
): StepOutcome {
  setPhase(t, "Progressing", `Step ${index + 1}: ${describeStep(step)}`);
  if (step.setWeight !== undefined) return waitForPods(t, settings, target, pods);
  if (step.pause) {
    if (!step.pause.duration) {
      setPhase(
        t,
        "Paused",
        `Step ${index + 1}: paused until promoted (annotation modelops.io/action=promote)`,
        "PauseStep",
      );
      return "waiting";
    }
    const remaining = parseDurationMs(step.pause.duration) - sinceMs(t, t.st.currentStepStartTime);
    if (remaining <= 0) return "done";
    setPhase(t, "Paused", `Step ${index + 1}: pause ${step.pause.duration}`, "PauseStep");
    wakeAt(t, t.now.getTime() + remaining);
    return "waiting";
  }
  if (step.analysis) {
    const run = ensureRun(t, `step-${index}`, target.revision);
    if (run.phase === "Successful") return "done";
    if (run.phase === "Failed") {
      abortRollout(t, settings, "AnalysisFailed", run.message ?? `analysis of step ${index + 1} failed`);
      return "aborted";
    }
    pauseIfInconclusive(t, run);
    return checkDeadline(t, settings, target, analysisBudgetMs(step));
  }
  return "done";
}

function waitForPods(t: Tick, settings: StrategySettings, target: Revision, pods: number): StepOutcome {
  if (isReady(t, target.revision, pods) && !t.input.routerError) return "done";
  if (t.input.router !== "replicas") {
    // A route must not send the new weight to pods that are not ready yet.
    const before = t.input.mdep.status?.canaryWeight ?? 0;
    t.traffic.canaryWeight = before;
    t.st.canaryWeight = before;
  }
  return checkDeadline(t, settings, target, 0);
}

/** Aborts a stage that made no progress within progressDeadlineSeconds (plus what analysis needs). */
export function checkDeadline(
  t: Tick,
  settings: StrategySettings,
  target: Revision,
  extraMs: number,
): StepOutcome {
  const deadlineMs = (t.input.mdep.spec.progressDeadlineSeconds ?? 600) * 1000 + extraMs;
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
  return parseDurationMs(step.analysis.interval) * ((step.analysis.count ?? 3) + 1);
}

/** An inconclusive analysis holds the rollout until data arrives or a human decides. */
export function pauseIfInconclusive(t: Tick, run: AnalysisRun | undefined): void {
  if (!run) return;
  const noData = run.metrics?.filter((m) => m.phase === "Inconclusive") ?? [];
  if (run.phase !== "Inconclusive" && noData.length === 0) return;
  const detail = noData.map((m) => m.message ?? m.name).join("; ") || (run.message ?? "inconclusive");
  setPhase(t, "Paused", `Analysis ${run.name} is inconclusive: ${detail}`, "InconclusiveAnalysis");
}

function describeStep(step: CanaryStep): string {
  if (step.setWeight !== undefined) return `setWeight ${step.setWeight}%`;
  if (step.pause) return step.pause.duration ? `pause ${step.pause.duration}` : "pause until promoted";
  return "analysis";
}
