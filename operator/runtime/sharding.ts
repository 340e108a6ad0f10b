// Sharding: several operator Deployments split the objects they reconcile by a
// label selector (--watch-label-selector), as Flux shards its controllers. The
// selector goes to the API server on the watches of the sharded kinds; the
// same selector is matched here for kinds every shard must cache whole
// (ModelVersions) and for owned objects, whose owner decides the shard.
import { createHash } from "node:crypto";
import { controllerOwnerKey } from "./controller.ts";
import type { EventHandlers } from "./informer.ts";
import type { Store } from "./store.ts";
import type { KubeObject } from "./types.ts";

/** The label the chart's shards select on: `modelops.io/shard=<name>`. */
export const SHARD_LABEL = "modelops.io/shard";

const DEFAULT_LEASE = "modelops-operator-leader";

type Requirement =
  | { op: "exists" | "!exists"; key: string }
  | { op: "in" | "notin"; key: string; values: string[] };

export interface LabelSelector {
  /** The selector as given, sent to the API server as labelSelector. */
  readonly text: string;
  matches(labels: Record<string, string> | undefined): boolean;
}

// Keys and values as Kubernetes allows them (prefix/name, values may be empty).
const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/**
 * Parses the equality- and set-based selector syntax of the API server
 * (`k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, joined by
 * commas); throws on anything else, so a typo stops the operator at start
 * rather than silently watching a different set.
 */
export function parseLabelSelector(text: string): LabelSelector {
  const reqs = splitTopLevel(text.trim()).map(parseRequirement);
  return {
    text: text.trim(),
    matches: (labels) => reqs.every((r) => matchRequirement(r, labels ?? {})),
  };
}

function splitTopLevel(text: string): string[] {
  if (text === "") throw new Error("the label selector is empty");
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")") depth--;
    else if (text[i] === "," && depth === 0) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(text.slice(start).trim());
  return parts;
}

function parseRequirement(part: string): Requirement {
  const set = /^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(part);
  if (set) {
    const values = (set[3] ?? "").split(",").map((v) => v.trim());
    return {
      op: set[2] as "in" | "notin",
      key: checkKey(set[1] ?? "", part),
      values: values.map(checkValue(part)),
    };
  }
  const eq = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part);
  if (eq) {
    const key = checkKey(eq[1] ?? "", part);
    const value = checkValue(part)(eq[3] ?? "");
    return { op: eq[2] === "!=" ? "notin" : "in", key, values: [value] };
  }
  if (part.startsWith("!")) return { op: "!exists", key: checkKey(part.slice(1).trim(), part) };
  return { op: "exists", key: checkKey(part, part) };
}

function checkKey(key: string, part: string): string {
  if (!KEY.test(key)) throw new Error(`invalid label selector requirement "${part}": bad key "${key}"`);
  return key;
}

function checkValue(part: string) {
  return (value: string): string => {
    if (!VALUE.test(value) || value.length > 63)
      throw new Error(`invalid label selector requirement "${part}": bad value "${value}"`);
    return value;
  };
}

function matchRequirement(r: Requirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key);
  switch (r.op) {
    case "exists":
      return has;
    case "!exists":
      return !has;
    case "in":
      return has && r.values.includes(labels[r.key] ?? "");
    case "notin":
      // As the API server: a missing key satisfies notin and !=.
      return !has || !r.values.includes(labels[r.key] ?? "");
  }
}

/**
 * The Lease a shard elects its leader through. Unsharded: the historical
 * name. Sharded without --leader-election-id: derived from the selector, so
 * two shards never share a Lease and never wait on each other.
 */
export function leaseNameFor(selector: LabelSelector | undefined, explicit?: string): string {
  if (explicit) return explicit;
  if (!selector) return DEFAULT_LEASE;
  const digest = createHash("sha256").update(selector.text).digest("hex").slice(0, 10);
  return `${DEFAULT_LEASE}-${digest}`;
}

/** Handlers that pass on only objects whose labels the selector matches. */
export function selectedOnly<T extends KubeObject>(
  selector: LabelSelector | undefined,
  handlers: EventHandlers<T>,
): EventHandlers<T> {
  if (!selector) return handlers;
  return passing((obj) => selector.matches(obj.metadata?.labels), handlers);
}

/**
 * Handlers for owned objects that pass on only those whose controlling owner
 * of `kind` is in `owners` (this shard's cache): every shard caches every
 * owned object (they carry no shard label), but only the owner's shard wakes.
 */
export function ownedByCached<T extends KubeObject>(
  selector: LabelSelector | undefined,
  owners: Pick<Store<KubeObject>, "get">,
  kind: string,
  apiGroup: string,
  handlers: EventHandlers<T>,
): EventHandlers<T> {
  if (!selector) return handlers;
  return passing((obj) => {
    const key = controllerOwnerKey(obj, kind, apiGroup);
    return key !== undefined && owners.get(key.namespace, key.name) !== undefined;
  }, handlers);
}

function passing<T>(mine: (obj: T) => boolean, handlers: EventHandlers<T>): EventHandlers<T> {
  return {
    onAdd: (obj) => {
      if (mine(obj)) handlers.onAdd?.(obj);
    },
    // An object leaving the set (relabelled, or its owner gone) still reaches
    // the handler once: the old one was ours.
    onUpdate: (old, obj) => {
      if (mine(old) || mine(obj)) handlers.onUpdate?.(old, obj);
    },
    onDelete: (obj) => {
      if (mine(obj)) handlers.onDelete?.(obj);
    },
  };
}
