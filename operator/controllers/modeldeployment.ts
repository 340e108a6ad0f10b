// ModelDeployment reconciler: the thin shell around planModelDeployment. It
// reads the caches, applies what the plan says (only what would change), and
// records the plan's events.
import type { ModelDeployment, ModelVersion } from "../api/index.ts";
import { type ObservedRevision, planModelDeployment, type VersionLookup } from "../core/deployment-plan.ts";
import { validateModelVersion } from "../core/version-validation.ts";
import { LABEL_DEPLOYMENT, LABEL_REVISION, LABEL_VERSION } from "../core/workload.ts";
import { applyIfChanged, applyStatusIfChanged } from "../runtime/apply.ts";
import { isNotFound } from "../runtime/kube.ts";
import type { KubeObject, ObjectKey } from "../runtime/types.ts";
import { asKubeObject, FIELD_MANAGER, type ReconcileDeps } from "./context.ts";

export async function reconcileModelDeployment(ctx: ReconcileDeps, key: ObjectKey): Promise<void> {
  const mdep = ctx.stores.modelDeployments.get(key.namespace, key.name) as ModelDeployment | undefined;
  if (!mdep || mdep.metadata.deletionTimestamp) return; // owned objects go with it through the garbage collector
  const lookup = lookupVersion(ctx, mdep);
  const observed = observedRevisions(ctx, mdep);
  const plan = planModelDeployment(mdep, lookup, observed, ctx.now());

  for (const desired of plan.apply) {
    const meta = desired.metadata as { name: string; namespace: string };
    const store = desired.kind === "Service" ? ctx.stores.services : ctx.stores.deployments;
    await applyIfChanged(ctx.kube, desired as KubeObject, store.get(meta.namespace, meta.name), {
      fieldManager: FIELD_MANAGER,
    });
  }
  for (const name of plan.deleteDeployments) {
    try {
      await ctx.kube.delete({ apiVersion: "apps/v1", kind: "Deployment", namespace: key.namespace, name });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  await applyStatusIfChanged(ctx.kube, asKubeObject(mdep), plan.status as Record<string, unknown>, {
    fieldManager: FIELD_MANAGER,
  });
  for (const e of plan.events) await ctx.events.event(asKubeObject(mdep), e.type, e.reason, e.message);
}

/**
 * Validates the version inline rather than waiting for its status, so a
 * deployment does not depend on which reconciler ran first.
 */
function lookupVersion(ctx: ReconcileDeps, mdep: ModelDeployment): VersionLookup {
  const name = mdep.spec.modelVersion;
  const mv = ctx.stores.modelVersions.get(mdep.metadata.namespace, name) as ModelVersion | undefined;
  if (!mv) return { state: "missing", name };
  const problems = validateModelVersion(mv);
  if (problems.length > 0)
    return { state: "invalid", version: mv, message: problems.map((p) => p.message).join("; ") };
  return { state: "ready", version: mv };
}

function observedRevisions(ctx: ReconcileDeps, mdep: ModelDeployment): ObservedRevision[] {
  const owned = ctx.stores.deployments
    .list(mdep.metadata.namespace, { [LABEL_DEPLOYMENT]: mdep.metadata.name })
    .filter((d) => d.metadata?.ownerReferences?.some((o) => o.uid === mdep.metadata.uid && o.controller));
  return owned.map((d) => {
    const labels = d.metadata?.labels ?? {};
    const status = (d.status ?? {}) as {
      replicas?: number;
      readyReplicas?: number;
      updatedReplicas?: number;
      conditions?: { type: string; status: string; reason?: string }[];
    };
    return {
      name: d.metadata?.name ?? "",
      revision: labels[LABEL_REVISION] ?? "",
      versionName: labels[LABEL_VERSION] ?? "",
      replicas: status.replicas ?? 0,
      readyReplicas: status.readyReplicas ?? 0,
      updatedReplicas: status.updatedReplicas ?? 0,
      deadlineExceeded:
        status.conditions?.some((c) => c.type === "Progressing" && c.reason === "ProgressDeadlineExceeded") ??
        false,
    };
  });
}
