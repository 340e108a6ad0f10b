// Manual actions (api/contract.ts ACTION_ANNOTATION says how they are
// requested): what each verb does to a rollout.
import { ACTION_ANNOTATION, ACTION_VERBS, type ActionVerb } from "../api/contract.ts";
import { abortRollout, returnTo, type StrategySettings, startRollout } from "./moves.ts";
import { currentStage } from "./stages.ts";
import { canary, emit, enterStage, nextStep, runOf, type Tick } from "./tick.ts";
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
      // Every step and analysis is skipped; readiness is not (stages.ts tickPromoting).
      enterStage(t, "PromotingOnRequest");
      return "promoting once the new pods are ready, skipping the remaining steps and analyses";
    case "abort":
      if (!inRollout) return undefined;
      abortRollout(t, settings, "Aborted", "aborted by an operator action");
      return "traffic back to the stable version";
    case "retry": {
      const target = t.input.target;
      if (t.st.phase !== "RolledBack" || !target || target.revision !== t.st.canaryRevision) return undefined;
      startRollout(t, settings, target);
      return `restarted the rollout of ${target.version}`;
    }
    case "undo":
      if (!undo(t, settings)) return undefined;
      return t.st.restoring
        ? `starting ${t.st.restoring.version} again; traffic returns to it once its pods are ready`
        : `serving ${t.st.stableVersion} again`;
  }
}

function promoteOneStep(t: Tick, settings: StrategySettings, inRollout: boolean): string | undefined {
  if (inRollout && settings.kind === "canary" && currentStage(t, "canary") === "Steps") {
    nextStep(t);
    return "skipped to the next step";
  }
  // Blue-green, shadow and a canary past its steps promote in one move; the
  // new revision still takes traffic only once its pods are ready.
  if (inRollout) {
    enterStage(t, "PromotingOnRequest");
    return "promoting once the new pods are ready";
  }
  const guard = runOf(t, { kind: "postPromotion" });
  if (guard) {
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
  if (!previous || t.st.restoring) return false;
  returnTo(t, previous, settings, "undone by an operator action");
  return true;
}
