// What the informers keep of each kind (Informer's transform). At a thousand
// ModelDeployments most of a cached object is what the operator never reads:
// managedFields (often larger than the rest), kubectl's last-applied
// annotation, and the pod templates of its Deployments, sidecar included.
// Whatever a reconcile reads or compares in applyIfChanged stays.
import type { KubeObject } from "../runtime/types.ts";

/** kubectl's client-side apply copy of the whole object. */
export const LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration";

type ManagedFieldsEntry = {
  manager?: string;
  operation?: string;
  time?: string;
  fieldsV1?: { "f:spec"?: Record<string, unknown> };
};

/** metadata without managedFields and the last-applied annotation; the object itself untouched. */
function trimMetadata(obj: KubeObject, keepManaged?: ManagedFieldsEntry[]): KubeObject["metadata"] {
  const { managedFields: _dropped, ...metadata } = (obj.metadata ?? {}) as Record<string, unknown> & {
    managedFields?: unknown;
    annotations?: Record<string, string>;
  };
  if (metadata.annotations && LAST_APPLIED_ANNOTATION in metadata.annotations) {
    const { [LAST_APPLIED_ANNOTATION]: _last, ...annotations } = metadata.annotations;
    metadata.annotations = annotations;
  }
  if (keepManaged?.length) metadata.managedFields = keepManaged;
  return metadata as KubeObject["metadata"];
}

/** Every kind: no managedFields, no last-applied annotation. */
export function trimObject<T extends KubeObject>(obj: T): T {
  return { ...obj, metadata: trimMetadata(obj) };
}

/**
 * ModelDeployments keep, of managedFields, who wrote spec.modelVersion and
 * when: the rollout's audit trail (modelVersionSetBy in gates.ts) reads it.
 */
export function trimModelDeployment<T extends KubeObject>(obj: T): T {
  const entries = ((obj.metadata as { managedFields?: ManagedFieldsEntry[] }).managedFields ?? [])
    .filter((e) => e.fieldsV1?.["f:spec"] && "f:modelVersion" in e.fieldsV1["f:spec"])
    .map((e) => ({
      ...(e.manager ? { manager: e.manager } : {}),
      ...(e.operation ? { operation: e.operation } : {}),
      ...(e.time ? { time: e.time } : {}),
      fieldsV1: { "f:spec": { "f:modelVersion": {} } },
    }));
  return { ...obj, metadata: trimMetadata(obj, entries) };
}

/**
 * Owned Deployments: the reconciler reads labels, owners, spec.replicas,
 * spec.progressDeadlineSeconds and status; never the pod template, which is
 * fixed when a revision is created (its hash is in its name).
 */
export function trimDeployment<T extends KubeObject>(obj: T): T {
  const { template: _template, ...spec } = (obj.spec ?? {}) as Record<string, unknown>;
  return { ...obj, metadata: trimMetadata(obj), ...(obj.spec ? { spec } : {}) };
}
