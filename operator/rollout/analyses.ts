// The analyses a ModelDeployment's strategy defines, with typed identities.
// A run in status carries its name (what SREs read in `kubectl describe`);
// this module is the only place that makes those names, and the shell finds
// a run's spec by looking the name up in runSpecs, never by parsing it.
import { ANALYSIS_COUNT, type Analysis, type ModelDeployment } from "../api/index.ts";
import type { AnalysisRun } from "./types.ts";

export type AnalysisId =
  /** canary.analysis: measured across every step until the rollout ends. */
  | { kind: "background" }
  /** An analysis step of the canary. */
  | { kind: "step"; index: number }
  /** blueGreen.prePromotionAnalysis, on the preview revision. */
  | { kind: "prePromotion" }
  /** postPromotionAnalysis: the guard after promotion, while the previous revision stays warm. */
  | { kind: "postPromotion" }
  /** shadow.analysis, on the mirrored revision. */
  | { kind: "shadow" };

export type RunSpec = {
  id: AnalysisId;
  analysis: Analysis;
  /** Measurements after which the run succeeds when analysis.count is unset; undefined: it never ends by count. */
  defaultCount: number | undefined;
};

export function runName(id: AnalysisId): string {
  return id.kind === "step" ? `step-${id.index}` : id.kind;
}

/** Every analysis the spec defines, by run name. */
export function runSpecs(mdep: ModelDeployment): Map<string, RunSpec> {
  const s = mdep.spec.strategy;
  const specs = new Map<string, RunSpec>();
  const add = (id: AnalysisId, analysis: Analysis | undefined, bounded: boolean) => {
    if (analysis)
      specs.set(runName(id), { id, analysis, defaultCount: bounded ? ANALYSIS_COUNT : undefined });
  };
  add({ kind: "background" }, s?.canary?.analysis, false);
  for (const [index, step] of (s?.canary?.steps ?? []).entries())
    add({ kind: "step", index }, step.analysis, true);
  add({ kind: "prePromotion" }, s?.blueGreen?.prePromotionAnalysis, true);
  add(
    { kind: "postPromotion" },
    s?.canary?.postPromotionAnalysis ?? s?.blueGreen?.postPromotionAnalysis,
    true,
  );
  add({ kind: "shadow" }, s?.shadow?.analysis, false);
  return specs;
}

/**
 * Whether a run lets the rollout promote: it succeeded, or it measures on
 * (a background analysis) and its latest measurement passed with no error
 * streak. No measurement yet, Inconclusive, erroring or Failed: not passed.
 */
export function runPassed(run: AnalysisRun | undefined): boolean {
  if (!run) return false;
  if (run.phase === "Successful") return true;
  if (run.phase !== "Running" || (run.consecutiveErrors ?? 0) > 0) return false;
  return run.measurements?.at(-1)?.phase === "Successful";
}

/** Why a run does not pass yet, for the Paused message. */
export function runWaitingReason(run: AnalysisRun | undefined, name: string): string {
  if (!run || (run.successful ?? 0) + (run.failed ?? 0) + (run.inconclusive ?? 0) + (run.errors ?? 0) === 0)
    return `analysis ${name} has no measurement yet`;
  const last = run.measurements?.at(-1)?.phase;
  if ((run.consecutiveErrors ?? 0) > 0)
    return `analysis ${name} could not be measured ${run.consecutiveErrors} time(s) in a row: ${run.message ?? ""}`;
  if (run.phase === "Inconclusive" || last === "Inconclusive")
    return `analysis ${name} has no data: ${run.message ?? ""}`;
  return `analysis ${name} has not passed: ${run.message ?? ""}`;
}
