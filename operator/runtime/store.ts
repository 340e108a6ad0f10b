import { type KubeObject, keyOf } from "./types.ts";

/** Cache key of an object: "ns/name", or "name" when cluster-scoped. */
export function cacheKey(obj: KubeObject): string {
  return keyOf({ namespace: obj.metadata?.namespace, name: obj.metadata?.name ?? "" });
}

/**
 * The informer's cache. Objects are shared with every reader: treat them as
 * immutable (clone before changing), as with client-go listers.
 */
export class Store<T extends KubeObject> {
  private items = new Map<string, T>();

  get(namespace: string | undefined, name: string): T | undefined {
    return this.items.get(keyOf({ namespace, name }));
  }

  getByKey(key: string): T | undefined {
    return this.items.get(key);
  }

  /** All objects, or those of one namespace, optionally matching every given label. */
  list(namespace?: string, labels?: Record<string, string>): T[] {
    const out: T[] = [];
    for (const obj of this.items.values()) {
      if (namespace !== undefined && obj.metadata?.namespace !== namespace) continue;
      if (labels && !Object.entries(labels).every(([k, v]) => obj.metadata?.labels?.[k] === v)) continue;
      out.push(obj);
    }
    return out;
  }

  keys(): string[] {
    return [...this.items.keys()];
  }

  size(): number {
    return this.items.size;
  }

  /** @internal used by the informer */
  set(obj: T): T | undefined {
    const key = cacheKey(obj);
    const old = this.items.get(key);
    this.items.set(key, obj);
    return old;
  }

  /** @internal used by the informer */
  delete(obj: KubeObject): T | undefined {
    const key = cacheKey(obj);
    const old = this.items.get(key);
    this.items.delete(key);
    return old;
  }

  /** @internal swaps the whole content; returns the previous content. */
  replace(fresh: Map<string, T>): Map<string, T> {
    const old = this.items;
    this.items = fresh;
    return old;
  }
}
