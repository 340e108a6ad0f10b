import { createHash } from "node:crypto";
import { isConflict, type KubeClient } from "./kube.ts";
import { refOf } from "./paths.ts";
import type { KubeObject } from "./types.ts";

// Identity fields: present in desired to address the object, not to change it.
const IGNORED_TOP_LEVEL = new Set(["apiVersion", "kind"]);

/**
 * True iff some field set in `desired` differs from `live`: objects compare
 * key by key over desired's keys only (the apiserver adds defaults and other
 * managers add fields), arrays element-wise with equal length, scalars
 * strictly. A `null` in desired matches an absent field.
 */
export function needsApply(desired: unknown, live: unknown): boolean {
  if (live === undefined || live === null) return desired !== undefined && desired !== null;
  if (isPlainObject(desired) && isPlainObject(live)) {
    return Object.entries(desired).some(([k, v]) => !IGNORED_TOP_LEVEL.has(k) && differsValue(v, live[k]));
  }
  return differsValue(desired, live);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function differsValue(desired: unknown, live: unknown): boolean {
  if (desired === undefined) return false;
  if (desired === null) return live !== undefined && live !== null;
  if (Array.isArray(desired)) {
    if (!Array.isArray(live) || live.length !== desired.length) return true;
    return desired.some((d, i) => differsValue(d, live[i]));
  }
  if (isPlainObject(desired)) {
    if (!isPlainObject(live)) return true;
    return Object.entries(desired).some(([k, v]) => differsValue(v, live[k]));
  }
  return desired !== live;
}

/** Stable JSON (sorted keys) so equal objects hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * Stamps desired with a hash of itself. The subset comparison cannot see a
 * field that desired *stopped* setting (SSA would remove it); the hash can.
 */
export function withAppliedHash<T extends KubeObject>(desired: T, annotation: string): T {
  const hash = createHash("sha256").update(canonicalJson(desired)).digest("hex").slice(0, 16);
  const metadata = { ...desired.metadata, annotations: { ...desired.metadata?.annotations } };
  metadata.annotations[annotation] = hash;
  return { ...desired, metadata };
}

export interface ApplyIfChangedOptions {
  fieldManager: string;
  force?: boolean;
  /** Annotation that carries a hash of desired, to catch removed fields; none when unset. */
  hashAnnotation?: string;
}

/** Server-side applies `desired` only when it would change `live`. Returns the new object, or undefined when skipped. */
export async function applyIfChanged<T extends KubeObject>(
  kube: KubeClient,
  desired: T,
  live: KubeObject | undefined,
  opts: ApplyIfChangedOptions,
): Promise<T | undefined> {
  const body = opts.hashAnnotation ? withAppliedHash(desired, opts.hashAnnotation) : desired;
  if (live && !needsApply(body, live)) return undefined;
  return kube.apply(body, { fieldManager: opts.fieldManager, force: opts.force ?? true });
}

/**
 * Applies `status` to the status subresource of `obj`, the object the
 * reconcile read, only when it differs from obj.status.
 *
 * Guarded, because status holds what the operator has done (an SRE action
 * handled, a drift episode acted on): a status computed from a stale cache
 * must not overwrite a newer one, or the next reconcile would act again. The
 * apply carries obj's resourceVersion, so the apiserver refuses it with 409
 * Conflict when the object changed since. If only spec or metadata changed
 * (the operator's own scale write, a new annotation), the status it read is
 * still the latest: the operator is its only writer, so the apply is retried
 * once on the live object. Otherwise the conflict is thrown, and the
 * reconcile retries from the newer object.
 */
export async function applyStatusIfChanged<T extends KubeObject>(
  kube: KubeClient,
  obj: KubeObject,
  status: Record<string, unknown>,
  opts: { fieldManager: string; force?: boolean },
): Promise<T | undefined> {
  if (!needsApply(status, obj.status)) return undefined;
  try {
    return await applyStatusOn<T>(kube, obj, status, opts);
  } catch (err) {
    if (!isConflict(err)) throw err;
    const live = await kube.getOrUndefined(refOf(obj));
    if (!live || canonicalJson(live.status) !== canonicalJson(obj.status)) throw err;
    return applyStatusOn<T>(kube, live, status, opts);
  }
}

/** Status apply with `base`'s resourceVersion as a precondition. */
function applyStatusOn<T extends KubeObject>(
  kube: KubeClient,
  base: KubeObject,
  status: Record<string, unknown>,
  opts: { fieldManager: string; force?: boolean },
): Promise<T> {
  const { name, namespace, resourceVersion } = base.metadata ?? {};
  const body = {
    apiVersion: base.apiVersion,
    kind: base.kind,
    metadata: { name, namespace, resourceVersion },
    status,
  };
  return kube.apply(body as unknown as T, {
    fieldManager: opts.fieldManager,
    force: opts.force ?? true,
    subresource: "status",
  });
}
