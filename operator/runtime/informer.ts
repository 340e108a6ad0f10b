import type { Logger } from "pino";
import { isGone, KubeApiError, type KubeClient, type WatchEvent } from "./kube.ts";
import { silentLogger } from "./logger.ts";
import type { ResourceRef } from "./paths.ts";
import { cacheKey, Store } from "./store.ts";
import { backoffDelay, sleep } from "./time.ts";
import type { KubeObject } from "./types.ts";

export interface EventHandlers<T> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T): void;
}

export interface InformerOptions<T extends KubeObject = KubeObject> {
  kube: Pick<KubeClient, "listAll" | "watch">;
  /** apiVersion + kind (+ namespace to watch one namespace only). */
  ref: ResourceRef;
  labelSelector?: string;
  logger?: Logger;
  /** Re-deliver every cached object to onUpdate this often; 0 disables. Default 10 min. */
  resyncMs?: number;
  /** Restart a watch that got no event or bookmark for this long. Default 5 min. */
  stallTimeoutMs?: number;
  /** Server-side watch timeout. Default 4 to 4.5 min, randomized to spread reconnects. */
  watchTimeoutSeconds?: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  pageSize?: number;
  random?: () => number;
  /**
   * Applied to every object before it enters the store or reaches a handler,
   * like client-go's SetTransform: drops what no reader uses (managedFields,
   * pod templates) so the cache holds less. Must not mutate its argument.
   */
  transform?: (obj: T) => T;
}

// A watch that ends this fast with no events counts as a failure, so a server
// that keeps closing at once is retried with backoff instead of a hot loop.
const MIN_HEALTHY_WATCH_MS = 1000;

/**
 * List+watch cache of one kind, like client-go's shared informer: it never
 * gives up on errors (it backs off and retries), re-lists and diffs on 410,
 * resumes from the last resourceVersion after a drop, and restarts silent watches.
 */
export class Informer<T extends KubeObject = KubeObject> {
  readonly store = new Store<T>();
  private readonly opts: Required<Omit<InformerOptions<T>, "labelSelector" | "logger" | "transform">> &
    InformerOptions<T>;
  private readonly log: Logger;
  private readonly handlers: EventHandlers<T>[] = [];
  private readonly abort = new AbortController();
  private readonly syncWaiters: Array<(ok: boolean) => void> = [];
  private synced = false;
  private lastRv = "";
  private loop: Promise<void> | undefined;
  private resyncTimer: ReturnType<typeof setInterval> | undefined;

  constructor(opts: InformerOptions<T>) {
    const random = opts.random ?? Math.random;
    this.opts = {
      resyncMs: 600_000,
      stallTimeoutMs: 300_000,
      watchTimeoutSeconds: Math.floor(240 + random() * 30),
      backoffBaseMs: 800,
      backoffCapMs: 30_000,
      pageSize: 500,
      ...opts,
      random,
    };
    this.log = (opts.logger ?? silentLogger()).child({ informer: opts.ref.kind ?? opts.ref.plural });
  }

  /** Handlers added after the first sync get an onAdd for every cached object. */
  addEventHandler(handlers: EventHandlers<T>): void {
    this.handlers.push(handlers);
    if (this.synced) for (const obj of this.store.list()) this.call(handlers, "onAdd", obj);
  }

  start(): void {
    if (this.loop) return;
    this.loop = this.run();
    if (this.opts.resyncMs > 0) {
      this.resyncTimer = setInterval(() => this.resync(), this.opts.resyncMs);
      this.resyncTimer.unref?.();
    }
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves true once the first list is in the cache, false if stopped first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (this.abort.signal.aborted || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.syncWaiters.push(resolve);
      signal?.addEventListener("abort", () => resolve(false), { once: true });
    });
  }

  lastSyncResourceVersion(): string {
    return this.lastRv;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    for (const w of this.syncWaiters.splice(0)) w(false);
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let failures = 0;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.relist();
          failures = 0; // the apiserver answers again: later errors start a fresh backoff
        }
        needList = false;
        const healthy = await this.watchOnce();
        failures = healthy ? 0 : failures + 1;
        if (!healthy) await sleep(this.backoff(failures), signal);
      } catch (err) {
        if (signal.aborted) break;
        failures++;
        if (isGone(err)) {
          needList = true;
          this.log.info({ resourceVersion: this.lastRv }, "resourceVersion expired (410); re-listing");
          // The first 410 re-lists at once, as client-go does; a repeat backs off.
          if (failures > 1) await sleep(this.backoff(failures - 1), signal);
          continue;
        }
        const delayMs = Math.round(this.backoff(failures));
        this.log.warn(
          { err: describe(err), failures, delayMs, relist: needList },
          "list/watch failed; retrying",
        );
        await sleep(delayMs, signal);
      }
    }
  }

  private backoff(failures: number): number {
    return backoffDelay(failures, this.opts.backoffBaseMs, this.opts.backoffCapMs, this.opts.random);
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.opts.kube.listAll<T>(
      this.opts.ref,
      { labelSelector: this.opts.labelSelector, limit: this.opts.pageSize },
      this.abort.signal,
    );
    const fresh = new Map<string, T>();
    for (const item of items) fresh.set(cacheKey(item), this.withKind(item));
    const old = this.store.replace(fresh);
    this.lastRv = resourceVersion;
    for (const [key, obj] of fresh) {
      const prev = old.get(key);
      if (!prev) this.dispatch("onAdd", obj);
      else if (prev.metadata?.resourceVersion !== obj.metadata?.resourceVersion)
        this.dispatch("onUpdate", prev, obj);
    }
    for (const [key, prev] of old) if (!fresh.has(key)) this.dispatch("onDelete", prev);
    this.log.debug({ count: fresh.size, resourceVersion }, "listed");
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w(true);
    }
  }

  /** One watch request. Resolves whether it was healthy; rejects on errors. */
  private async watchOnce(): Promise<boolean> {
    const ac = new AbortController();
    const onStop = () => ac.abort();
    this.abort.signal.addEventListener("abort", onStop, { once: true });
    let stalled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        stalled = true;
        ac.abort();
      }, this.opts.stallTimeoutMs);
    };
    const started = Date.now();
    let events = 0;
    arm();
    try {
      const watchOpts = {
        resourceVersion: this.lastRv,
        timeoutSeconds: this.opts.watchTimeoutSeconds,
        labelSelector: this.opts.labelSelector,
      };
      await this.opts.kube.watch<T>(
        this.opts.ref,
        watchOpts,
        (ev) => {
          arm();
          events++;
          this.handleEvent(ev);
        },
        ac.signal,
      );
    } finally {
      clearTimeout(timer);
      this.abort.signal.removeEventListener("abort", onStop);
    }
    if (stalled)
      this.log.warn({ stallTimeoutMs: this.opts.stallTimeoutMs }, "watch silent too long; restarting");
    return stalled || events > 0 || Date.now() - started >= MIN_HEALTHY_WATCH_MS;
  }

  private handleEvent(ev: WatchEvent<T>): void {
    if (ev.type === "ERROR") {
      const s = ev.object as { code?: number; reason?: string; message?: string };
      throw new KubeApiError(s.code ?? 500, s.reason ?? "WatchError", s.message ?? "watch error event");
    }
    const rv = ev.object.metadata?.resourceVersion;
    if (ev.type === "BOOKMARK") {
      if (rv) this.lastRv = rv;
      return;
    }
    const obj = this.withKind(ev.object);
    if (ev.type === "DELETED") {
      this.store.delete(obj);
      this.dispatch("onDelete", obj);
    } else {
      const old = this.store.set(obj);
      if (old) this.dispatch("onUpdate", old, obj);
      else this.dispatch("onAdd", obj);
    }
    if (rv) this.lastRv = rv;
  }

  private resync(): void {
    if (!this.synced || this.abort.signal.aborted) return;
    for (const obj of this.store.list()) this.dispatch("onUpdate", obj, obj);
  }

  // List items of built-in kinds come without apiVersion/kind; fill them in so
  // cached objects can be passed to apply/refOf like any other.
  private withKind(received: T): T {
    const obj = this.opts.transform ? this.opts.transform(received) : received;
    if (obj.apiVersion && obj.kind) return obj;
    return {
      ...obj,
      apiVersion: obj.apiVersion ?? this.opts.ref.apiVersion,
      kind: obj.kind ?? this.opts.ref.kind,
    };
  }

  private dispatch(kind: keyof EventHandlers<T>, a: T, b?: T): void {
    for (const h of this.handlers) this.call(h, kind, a, b);
  }

  private call(h: EventHandlers<T>, kind: keyof EventHandlers<T>, a: T, b?: T): void {
    try {
      if (kind === "onUpdate") h.onUpdate?.(a, b ?? a);
      else h[kind]?.(a);
    } catch (err) {
      this.log.error({ err: describe(err), handler: kind, name: a.metadata?.name }, "event handler threw");
    }
  }
}

function describe(err: unknown): Record<string, unknown> {
  if (err instanceof KubeApiError) return { status: err.status, reason: err.reason, message: err.message };
  return { message: err instanceof Error ? err.message : String(err) };
}

/** Resolves true when every informer has synced, false if the signal aborts first. */
export async function waitForCacheSync(
  informers: ReadonlyArray<Pick<Informer, "waitForSync">>,
  signal?: AbortSignal,
): Promise<boolean> {
  const results = await Promise.all(informers.map((i) => i.waitForSync(signal)));
  return results.every(Boolean);
}
