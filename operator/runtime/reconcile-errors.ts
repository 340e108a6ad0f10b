// A reconcile that keeps failing must reach the user where they look
// (`kubectl describe`: conditions and Events), not only the operator's log.
// Every kind carries the condition Reconciled: True once a reconcile
// succeeds, False while one keeps failing, with the apiserver's reason and
// message (a quota exceeded, a name too long, a write refused).
import { applyStatusIfChanged } from "./apply.ts";
import { type Condition, setCondition } from "./conditions.ts";
import { KubeApiError, type KubeClient } from "./kube.ts";
import type { KubeObject } from "./types.ts";

export const RECONCILED_CONDITION = "Reconciled";
/** Reason of the Warning Event about a reconcile that keeps failing. */
export const RECONCILE_FAILED_REASON = "ReconcileFailed";

const MAX_MESSAGE_LENGTH = 4096;

/**
 * `conditions` with Reconciled=True. Each kind puts it in the status its
 * reconcile writes on success, which clears a reported failure; also after a
 * restart, when the operator no longer remembers having reported one.
 */
export function withReconciled(
  conditions: readonly Condition[] | undefined,
  generation: number | undefined,
  now: Date,
): Condition[] {
  return setCondition(
    conditions,
    {
      type: RECONCILED_CONDITION,
      status: "True",
      reason: "ReconcileSucceeded",
      message: "The operator applied the objects it owns and this status",
    },
    generation,
    now,
  );
}

/** What the user reads about err: the apiserver's reason and message, else the error's message. */
export function describeError(err: unknown): { reason: string; message: string } {
  const message = (err instanceof Error ? err.message : String(err)).slice(0, MAX_MESSAGE_LENGTH);
  // A condition's reason is CamelCase; the apiserver's (Forbidden, Invalid...) is.
  // "Unknown" is the client's stand-in when the apiserver gave none.
  const reason = err instanceof KubeApiError ? err.reason.replace(/[^A-Za-z0-9]/g, "") : "";
  return { reason: /^[A-Za-z]/.test(reason) && reason !== "Unknown" ? reason : "ReconcileError", message };
}

export interface ReportDeps {
  kube: KubeClient;
  events: { event(obj: KubeObject, type: "Warning", reason: string, message: string): Promise<void> | void };
  fieldManager: string;
  now: () => Date;
}

/**
 * Reports a failing reconcile on `obj`, the cached object: its status keeps
 * everything it said, which is still true since the failed attempts wrote no
 * status, plus Reconciled=False; and a Warning Event. The status
 * observedGeneration stays where it was (the new generation is not acted on
 * yet) while the condition's says which generation failed.
 */
export async function reportReconcileError(deps: ReportDeps, obj: KubeObject, err: unknown): Promise<void> {
  const { reason, message } = describeError(err);
  const status = (obj.status ?? {}) as { conditions?: Condition[] };
  const conditions = setCondition(
    status.conditions,
    { type: RECONCILED_CONDITION, status: "False", reason, message },
    obj.metadata?.generation,
    deps.now(),
  );
  try {
    // Written only when the condition changes, so a reconcile failing the same
    // way gets no status writes (each would wake it before its backoff).
    await applyStatusIfChanged(
      deps.kube,
      obj,
      { ...status, conditions },
      { fieldManager: deps.fieldManager },
    );
  } finally {
    // Also when status cannot be written. Identical Events within minutes
    // fold into one with a count (runtime/events.ts).
    await deps.events.event(obj, "Warning", RECONCILE_FAILED_REASON, message);
  }
}
