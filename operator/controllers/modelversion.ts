// ModelVersion reconciler: checks what the schema cannot and reports Ready or
// Invalid with a reason. It writes nothing but status.
import { FIELD_MANAGER, type ModelVersion } from "../api/index.ts";
import { validateModelVersion } from "../core/version-validation.ts";
import { applyStatusIfChanged } from "../runtime/apply.ts";
import { setCondition } from "../runtime/conditions.ts";
import { withReconciled } from "../runtime/reconcile-errors.ts";
import type { ObjectKey } from "../runtime/types.ts";
import { asKubeObject, type ReconcileDeps } from "./context.ts";

export async function reconcileModelVersion(ctx: ReconcileDeps, key: ObjectKey): Promise<void> {
  const mv = ctx.stores.modelVersions.get(key.namespace, key.name) as ModelVersion | undefined;
  if (!mv || mv.metadata.deletionTimestamp) return;
  const problems = validateModelVersion(mv, { mlflowTrackingUri: ctx.mlflowTrackingUri });
  const generation = mv.metadata.generation ?? 0;
  const valid = problems.length === 0;
  const message = valid
    ? "The artifact, runtime and reference are usable"
    : problems.map((p) => p.message).join("; ");
  const validated = setCondition(
    mv.status?.conditions,
    {
      type: "Ready",
      status: valid ? "True" : "False",
      reason: valid ? "Validated" : (problems[0]?.reason ?? "Invalid"),
      message,
    },
    generation,
    ctx.now(),
  );
  const conditions = withReconciled(validated, generation, ctx.now());
  const phase = valid ? "Ready" : "Invalid";
  const status = { phase, message, observedGeneration: generation, conditions };
  const written = await applyStatusIfChanged(ctx.kube, asKubeObject(mv), status, {
    fieldManager: FIELD_MANAGER,
  });
  if (written && mv.status?.phase !== phase) {
    await ctx.events.event(
      asKubeObject(mv),
      valid ? "Normal" : "Warning",
      phase === "Ready" ? "Validated" : "Invalid",
      message,
    );
  }
}
