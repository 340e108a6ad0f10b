// The shell around promotion gates and the rollout's audit trail: which
// ModelVersions the gates compare, whether the candidate is new (gates judge
// a version once, before it starts rolling out), and who set
// spec.modelVersion, from managedFields.
import type { ModelDeployment, ModelVersion } from "../../api/index.ts";
import { evaluateGates, type GateVerdict, type Serving } from "../../core/gates.ts";
import { revisionHash } from "../../core/workload.ts";
import type { ReconcileDeps } from "../context.ts";

/**
 * The gates' verdict on spec.modelVersion when it would start a rollout now;
 * undefined without gates, or when the version already serves or rolls out
 * (a rollout under way is not stopped by a later stage change).
 */
export function checkGates(
  deps: ReconcileDeps,
  mdep: ModelDeployment,
  candidate: ModelVersion,
): GateVerdict | undefined {
  const gates = mdep.spec.gates;
  if (!gates) return undefined;
  const st = mdep.status ?? {};
  const revision = revisionHash(mdep, candidate);
  if (revision === st.stableRevision || revision === st.canaryRevision) return undefined;
  return evaluateGates(gates, candidate, servingVersion(deps, mdep));
}

function servingVersion(deps: ReconcileDeps, mdep: ModelDeployment): Serving {
  const name = mdep.status?.stableVersion;
  if (!name) return undefined;
  const mv = deps.stores.modelVersions.get(mdep.metadata.namespace, name) as ModelVersion | undefined;
  return mv ?? { missing: name };
}

type ManagedFieldsEntry = {
  manager?: string;
  operation?: string;
  time?: string;
  fieldsV1?: { "f:spec"?: Record<string, unknown> };
};

/**
 * The field manager that last wrote spec.modelVersion (kubectl-client-side-apply,
 * argocd-controller, a pipeline's name), from metadata.managedFields. Several
 * managers may own the field with the same value; the latest write wins.
 */
export function modelVersionSetBy(
  mdep: ModelDeployment,
): { manager: string; operation?: string; time?: string } | undefined {
  const entries = ((mdep.metadata as { managedFields?: ManagedFieldsEntry[] }).managedFields ?? []).filter(
    (e) => e.manager && e.fieldsV1?.["f:spec"] && "f:modelVersion" in (e.fieldsV1["f:spec"] ?? {}),
  );
  const latest = entries.sort((a, b) => Date.parse(b.time ?? "") - Date.parse(a.time ?? ""))[0];
  if (!latest?.manager) return undefined;
  return {
    manager: latest.manager,
    ...(latest.operation ? { operation: latest.operation } : {}),
    ...(latest.time ? { time: latest.time } : {}),
  };
}
