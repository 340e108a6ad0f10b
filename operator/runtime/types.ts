// Minimal structural types for Kubernetes objects. We deal with CRDs and core
// kinds through one generic client, so these stay loose on purpose.

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [key: string]: unknown;
}

/** Identifies one object of the kind a controller reconciles. */
export interface ObjectKey {
  namespace?: string;
  name: string;
}

/** client-go's MetaNamespaceKeyFunc: "ns/name", or "name" when cluster-scoped. */
export function keyOf(key: ObjectKey): string {
  return key.namespace ? `${key.namespace}/${key.name}` : key.name;
}

export function objectKeyOf(obj: KubeObject): ObjectKey {
  const meta = obj.metadata ?? {};
  return meta.namespace ? { namespace: meta.namespace, name: meta.name ?? "" } : { name: meta.name ?? "" };
}

/** Inverse of keyOf. Namespaces cannot contain "/", so the first one splits. */
export function parseKey(key: string): ObjectKey {
  const slash = key.indexOf("/");
  if (slash < 0) return { name: key };
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
