// Manual actions (api/contract.ts ACTION_ANNOTATION says how they are
// requested): what each verb does to a rollout.
import { ACTION_ANNOTATION, ACTION_VERBS, type ActionVerb } from "../api/contract.ts";
import { abortRollout, promote, rollBackTo, type StrategySettings, startRollout } from "./moves.ts";
import { SHADOW_PROMOTING } from "./shadow.ts";
import { canary, emit, enterStage, nextStage, runOf, type Tick } from "./tick.ts";
import type { ManualAction } from "./types.ts";

/** The pending action, if the annotation holds one the operator has not handled yet. */
export function pendingAction(
  annotations: Record<string, string> | undefined,
  lastHandled: string | undefined,
): ManualAction | { invalid: string } | undefined {
  const value = annotations?.[ACTION_ANNOTATION];
  if (!value || value === lastHandled) return undefined;
  const verb = value.split("@", 1)[0] as ActionVerb;
  if (!ACTION_VERBS.includes(verb)) return { invalid: value };
  return { verb, value };
}

export function handleAction(t: Tick, settings: StrategySettings, action: ManualAction): void {
  t.st.lastHandledAction = action.value;
  const done = applyAction(t, settings, action.verb);
  if (done) emit(t, "Normal", "ActionHandled", `${action.verb}: ${done}`);
  else
    emit(t, "Warning", "ActionIgnored", `${action.verb}: nothing to do in phase ${t.st.phase ?? "unknown"}`);
}

/** Performs the action; returns what it did, or undefined when it does not apply now. */
function applyAction(t: Tick, settings: StrategySettings, verb: ActionVerb): string | undefined {
  const inRollout = canary(t) !== undefined && t.st.phase !== "RolledBack";
  switch (verb) {
    case "promote":
      return promoteOneStep(t, settings, inRollout);
    case "promote-full":
      if (!inRollout) return undefined;
      promoteNow(t, settings);
      return "promoting at once";
    case "abort":
      if (!inRollout) return undefined;
      abortRollout(t, settings, "Aborted", "aborted by an operator action");
      return "traffic back to the stable version";
    case "retry": {
      const target = t.input.target;
      if (t.st.phase !== "RolledBack" || !target || target.revision !== t.st.canaryRevision) return undefined;
      startRollout(t, target);
      return `restarted the rollout of ${target.version}`;
    }
    case "undo":
      return undo(t, settings) ? `serving ${t.st.stableVersion} again` : undefined;
  }
}

/**
 * Skips what is left of the rollout. A canary or shadow revision first grows
 * to the full size (the strategy's last stage), then takes all traffic; a
 * blue-green preview already has it.
 */
function promoteNow(t: Tick, settings: StrategySettings): void {
  const strategy = t.input.mdep.spec.strategy;
  if (settings.kind === "canary" && strategy?.canary) enterStage(t, strategy.canary.steps.length);
  else if (settings.kind === "shadow") enterStage(t, SHADOW_PROMOTING);
  else promote(t, settings);
}

function promoteOneStep(t: Tick, settings: StrategySettings, inRollout: boolean): string | undefined {
  if (inRollout && settings.kind === "canary") {
    nextStage(t);
    return "skipped to the next step";
  }
  // Blue-green and shadow promote in one move, once the new pods are up.
  if (inRollout && (t.st.currentStepIndex ?? 0) >= 1) {
    promoteNow(t, settings);
    return "promoting";
  }
  const guard = runOf(t, { kind: "postPromotion" });
  if (!inRollout && guard) {
    guard.phase = "Successful";
    return "accepted the post-promotion analysis";
  }
  return undefined;
}

/** Back to the version that served before: abort a rollout, or return to the previous revision. */
function undo(t: Tick, settings: StrategySettings): boolean {
  if (canary(t) && t.st.phase !== "RolledBack") {
    abortRollout(t, settings, "Undo", "undone by an operator action");
    return true;
  }
  const previousRunning = t.st.previousRevision && t.input.revisions.has(t.st.previousRevision);
  const previous = previousRunning
    ? { revision: t.st.previousRevision as string, version: t.st.previousVersion as string }
    : t.input.previousTarget;
  if (!previous) return false;
  if (!previousRunning) t.render.push(previous);
  rollBackTo(t, previous, settings, "undone by an operator action");
  return true;
}
