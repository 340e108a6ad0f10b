import type { KubeObject } from "./types.ts";

/** Identifies a resource (collection or single object) on the apiserver. */
export interface ResourceRef {
  apiVersion: string;
  kind?: string;
  /** Overrides the plural looked up from `kind`. */
  plural?: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/**
 * The resource (plural) of a kind, guessed as Kubernetes' own
 * UnsafeGuessKindToResource does: lower case, then -s, -es or -ies. Right for
 * every kind this operator touches; pass `plural` in a ResourceRef otherwise.
 */
export function pluralOf(kind: string): string {
  const lower = kind.toLowerCase();
  if (lower.endsWith("y")) return `${lower.slice(0, -1)}ies`;
  if (lower.endsWith("s")) return `${lower}es`;
  return `${lower}s`;
}

/** `/api/v1/namespaces/ns/services/name/status` style paths. */
export function resourcePath(ref: ResourceRef): string {
  const plural = ref.plural ?? (ref.kind ? pluralOf(ref.kind) : undefined);
  if (!plural) throw new Error(`resourcePath needs kind or plural (apiVersion ${ref.apiVersion})`);
  const root = ref.apiVersion.includes("/") ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
  const parts = [root];
  if (ref.namespace) parts.push("namespaces", encodeURIComponent(ref.namespace));
  parts.push(plural);
  if (ref.name) parts.push(encodeURIComponent(ref.name));
  if (ref.subresource) {
    if (!ref.name) throw new Error("a subresource needs a name");
    parts.push(ref.subresource);
  }
  return parts.join("/").replace(/^\/+/, "/");
}

/** The ResourceRef of an object (its own URL). */
export function refOf(obj: KubeObject, subresource?: string): ResourceRef {
  if (!obj.apiVersion || !obj.kind) throw new Error("object needs apiVersion and kind");
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    namespace: obj.metadata?.namespace,
    name: obj.metadata?.name,
    subresource,
  };
}

/** Collection ref (no name) for the kind of an object, e.g. for create. */
export function collectionRefOf(obj: KubeObject): ResourceRef {
  const { name: _name, ...rest } = refOf(obj);
  return rest;
}
