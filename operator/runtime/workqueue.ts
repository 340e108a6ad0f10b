import type { Registry } from "prom-client";
import { defaultControllerRateLimiter, type RateLimiter } from "./rate-limiter.ts";
import { timerDelay } from "./time.ts";
import { QueueMetrics } from "./workqueue-metrics.ts";

export interface WorkQueueOptions<T> {
  /** `name` label of the workqueue_* metrics. */
  name?: string;
  /** `controller` label of the workqueue_* metrics; defaults to name. */
  controller?: string;
  registry?: Registry;
  rateLimiter?: RateLimiter<T>;
  /** Millisecond clock; timers use the global setTimeout (fakeable in tests). */
  now?: () => number;
}

/**
 * client-go's rate-limited delaying workqueue. Items are compared by identity
 * (use strings such as "ns/name"). Guarantees: an item is never handed to two
 * workers at once; an item added while it is processed is re-queued once
 * `done` is called; duplicates waiting in the queue collapse into one.
 */
export class WorkQueue<T = string> {
  private readonly queue: T[] = [];
  private readonly dirty = new Set<T>();
  private readonly processing = new Map<T, number>(); // item -> processing start
  private readonly addedAt = new Map<T, number>();
  private readonly waiting = new Map<T, number>(); // item -> ready time
  private readonly getters: Array<(item: T | undefined) => void> = [];
  private readonly drainers: Array<() => void> = [];
  private readonly rateLimiter: RateLimiter<T>;
  private readonly metrics: QueueMetrics;
  private readonly now: () => number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private shuttingDown = false;

  constructor(opts: WorkQueueOptions<T> = {}) {
    this.now = opts.now ?? (() => Date.now());
    this.rateLimiter = opts.rateLimiter ?? defaultControllerRateLimiter<T>(this.now);
    const name = opts.name ?? "";
    this.metrics = new QueueMetrics(opts.registry, { name, controller: opts.controller ?? name });
    this.metrics.register({
      labels: { name, controller: opts.controller ?? name },
      unfinishedSeconds: () => this.unfinishedSeconds(),
      longestRunningSeconds: () => this.longestRunningSeconds(),
    });
  }

  add(item: T): void {
    if (this.shuttingDown || this.dirty.has(item)) return;
    this.metrics.added();
    this.addedAt.set(item, this.now());
    this.dirty.add(item);
    if (this.processing.has(item)) return; // re-queued by done()
    this.push(item);
  }

  /** Adds after `ms`; if the item is already waiting, the earlier time wins. */
  addAfter(item: T, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(item);
      return;
    }
    const readyAt = this.now() + ms;
    const current = this.waiting.get(item);
    if (current !== undefined && current <= readyAt) return;
    this.waiting.set(item, readyAt);
    this.schedule();
  }

  /** Returns the delay (ms) before the item comes back; 0 when shutting down. */
  addRateLimited(item: T): number {
    if (this.shuttingDown) return 0;
    this.metrics.retried();
    const delayMs = this.rateLimiter.when(item);
    this.addAfter(item, delayMs);
    return delayMs;
  }

  forget(item: T): void {
    this.rateLimiter.forget(item);
  }

  numRequeues(item: T): number {
    return this.rateLimiter.numRequeues(item);
  }

  /** Next item, waiting if none; undefined once shut down and empty. */
  get(): Promise<T | undefined> {
    if (this.queue.length > 0) return Promise.resolve(this.take());
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  done(item: T): void {
    const started = this.processing.get(item);
    if (started === undefined) return;
    this.processing.delete(item);
    this.metrics.finished(this.now() - started);
    if (this.dirty.has(item)) this.push(item);
    else if (this.processing.size === 0) for (const d of this.drainers.splice(0)) d();
  }

  /** Items ready to be handed out (not counting delayed or in-flight ones). */
  len(): number {
    return this.queue.length;
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Stops accepting items; waiting get() calls resolve undefined. Queued items are still handed out. */
  shutDown(): void {
    this.shuttingDown = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.waiting.clear();
    for (const g of this.getters.splice(0)) g(undefined);
    this.metrics.unregister();
  }

  /** shutDown, then wait until every in-flight item is done. */
  async shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.processing.size === 0) return;
    await new Promise<void>((resolve) => this.drainers.push(resolve));
  }

  private push(item: T): void {
    this.queue.push(item);
    const getter = this.getters.shift();
    if (getter) getter(this.take());
  }

  private take(): T {
    const item = this.queue.shift() as T;
    const now = this.now();
    this.processing.set(item, now);
    this.dirty.delete(item);
    this.metrics.taken(now - (this.addedAt.get(item) ?? now));
    this.addedAt.delete(item);
    return item;
  }

  private schedule(): void {
    let earliest = Number.POSITIVE_INFINITY;
    for (const at of this.waiting.values()) earliest = Math.min(earliest, at);
    if (earliest >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = earliest;
    // A delay beyond what one timer holds fires early; fire() finds nothing due and re-arms.
    this.timer = setTimeout(() => this.fire(), timerDelay(earliest - this.now()));
    this.timer.unref?.();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.now();
    for (const [item, at] of this.waiting) {
      if (at > now) continue;
      this.waiting.delete(item);
      this.add(item);
    }
    if (this.waiting.size > 0) this.schedule();
  }

  private unfinishedSeconds(): number {
    const now = this.now();
    let total = 0;
    for (const started of this.processing.values()) total += now - started;
    return total / 1000;
  }

  private longestRunningSeconds(): number {
    const now = this.now();
    let longest = 0;
    for (const started of this.processing.values()) longest = Math.max(longest, now - started);
    return longest / 1000;
  }
}
