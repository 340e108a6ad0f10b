// Manual actions, invoked without editing the spec so GitOps tools see no
// drift: `kubectl annotate mdep NAME modelops.io/action=<verb>[@<anything>] --overwrite`.
// The operator acts once per distinct value and records it in
// status.lastHandledAction; the suffix makes a repeated verb a new request.
import { abortRollout, promote, rollBackTo, type StrategySettings, startRollout } from "./moves.ts";
import { canary, emit, nextStage, runOf, type Tick } from "./tick.ts";
import type { ActionVerb, ManualAction } from "./types.ts";

export const ACTION_ANNOTATION = "modelops.io/action";
const VERBS: ActionVerb[] = ["promote", "promote-full", "abort", "retry", "undo"];

/** The pending action, if the annotation holds one the operator has not handled yet. */
export function pendingAction(
  annotations: Record<string, string> | undefined,
  lastHandled: string | undefined,
): ManualAction | { invalid: string } | undefined {
  const value = annotations?.[ACTION_ANNOTATION];
  if (!value || value === lastHandled) return undefined;
  const verb = value.split("@", 1)[0] as ActionVerb;
  if (!VERBS.includes(verb)) return { invalid: value };
  return { verb, value };
}

export function handleAction(t: Tick, settings: StrategySettings, action: ManualAction): void {
  t.st.lastHandledAction = action.value;
  const inRollout = canary(t) !== undefined && t.st.phase !== "RolledBack";
  const guard = runOf(t, "postPromotion");
  const done = (what: string) => emit(t, "Normal", "ActionHandled", `${action.verb}: ${what}`);
  switch (action.verb) {
    case "promote":
      if (inRollout && settings.kind === "canary") {
        nextStage(t);
        return done("skipped to the next step");
      }
      // Blue-green and shadow promote in one move, once the new pods are up.
      if (inRollout && (t.st.currentStepIndex ?? 0) >= 1) {
        promote(t, settings);
        return done("promoted");
      }
      if (guard) {
        guard.phase = "Successful";
        return done("accepted the post-promotion analysis");
      }
      break;
    case "promote-full":
      if (inRollout) {
        promote(t, settings);
        return done("promoted at once");
      }
      break;
    case "abort":
      if (inRollout) {
        abortRollout(t, settings, "Aborted", "aborted by an operator action");
        return done("traffic back to the stable version");
      }
      break;
    case "retry": {
      const target = t.input.target;
      if (t.st.phase === "RolledBack" && target && target.revision === t.st.canaryRevision) {
        startRollout(t, target);
        return done(`restarted the rollout of ${target.version}`);
      }
      break;
    }
    case "undo":
      if (undo(t, settings)) return done(`serving ${t.st.stableVersion} again`);
      break;
  }
  emit(t, "Warning", "ActionIgnored", `${action.verb}: nothing to do in phase ${t.st.phase ?? "unknown"}`);
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
  rollBackTo(t, previous, settings, "undone by an operator action");
  return true;
}
