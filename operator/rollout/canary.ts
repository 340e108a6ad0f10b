// The canary strategy: setWeight, pause and analysis steps in order, with an
// optional background analysis across all of them. Pure.
import {
  type CanaryStep,
  describeHeaderRoute,
  type HeaderRouteMatch,
  type ModelDeployment,
  parseDurationMs,
} from "../api/index.ts";
import { abortRollout, type StrategySettings } from "./moves.ts";
import {
  analysisBudgetMs,
  checkDeadline,
  currentStage,
  pauseIfInconclusive,
  type StepOutcome,
  tickPromoting,
} from "./stages.ts";
import {
  canary,
  ensureRun,
  enterStage,
  isReady,
  nextStep,
  runOf,
  setPhase,
  sinceMs,
  type Tick,
  wakeAt,
} from "./tick.ts";
import { applyCanaryWeight, applyHeaderRoute } from "./traffic.ts";
import type { Revision } from "./types.ts";

const BACKGROUND = { kind: "background" } as const;

type CanaryStrategy = NonNullable<NonNullable<ModelDeployment["spec"]["strategy"]>["canary"]>;

/** The weight in force at step `index`: the last setWeight at or before it. */
export function weightAt(steps: CanaryStep[], index: number): number {
  for (let i = Math.min(index, steps.length - 1); i >= 0; i--) {
    const w = steps[i]?.setWeight;
    if (w !== undefined) return w;
  }
  return 0;
}

/** The header route in force at step `index`: the last setHeaderRoute at or before it (none before any). */
export function headerRouteAt(steps: CanaryStep[], index: number): HeaderRouteMatch[] {
  for (let i = Math.min(index, steps.length - 1); i >= 0; i--) {
    const route = steps[i]?.setHeaderRoute;
    if (route) return route.match;
  }
  return [];
}

export function tickCanary(t: Tick, settings: StrategySettings, strategy: CanaryStrategy): void {
  const target = canary(t);
  if (!target) return;
  if (strategy.analysis) ensureRun(t, BACKGROUND, target.revision);
  const steps = strategy.steps;
  // Several steps can complete in one tick (e.g. a setWeight whose pods are ready).
  for (let guard = 0; guard <= steps.length; guard++) {
    const background = runOf(t, BACKGROUND);
    if (background?.phase === "Failed") {
      abortRollout(t, settings, "AnalysisFailed", background.message ?? "background analysis failed");
      return;
    }
    const index = t.st.currentStepIndex ?? 0;
    if (currentStage(t, "canary") !== "Steps" || index >= steps.length) {
      if (currentStage(t, "canary") === "Steps") enterStage(t, "Promoting");
      // The weight and header route in force stay while the canary grows to full size.
      applyCanaryWeight(t, target, weightAt(steps, index));
      applyHeaderRoute(t, target, headerRouteAt(steps, index));
      const gates = strategy.analysis ? [{ id: BACKGROUND, analysis: strategy.analysis }] : [];
      tickPromoting(t, settings, target, gates);
      return;
    }
    const pods = applyCanaryWeight(t, target, weightAt(steps, index));
    applyHeaderRoute(t, target, headerRouteAt(steps, index));
    const step = steps[index] as CanaryStep;
    const outcome = runStep(t, settings, target, step, index, pods);
    if (outcome === "aborted") return;
    if (outcome === "waiting") {
      pauseIfInconclusive(t, background);
      return;
    }
    nextStep(t);
  }
}

function runStep(
  t: Tick,
  settings: StrategySettings,
  target: Revision,
  step: CanaryStep,
  index: number,
  pods: number,
): StepOutcome {
  setPhase(t, "Progressing", `Step ${index + 1}: ${describeStep(step)}`);
  // A header route is in force once the canary's pods are ready and the router applied it.
  if (step.setWeight !== undefined || step.setHeaderRoute) return waitForPods(t, settings, target, pods);
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
    const run = ensureRun(t, { kind: "step", index }, target.revision);
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
  return checkDeadline(t, settings, target, 0);
}

function describeStep(step: CanaryStep): string {
  if (step.setWeight !== undefined) return `setWeight ${step.setWeight}%`;
  if (step.pause) return step.pause.duration ? `pause ${step.pause.duration}` : "pause until promoted";
  if (step.setHeaderRoute) {
    const match = step.setHeaderRoute.match;
    return match.length > 0 ? `setHeaderRoute ${describeHeaderRoute(match)}` : "setHeaderRoute removed";
  }
  return "analysis";
}
