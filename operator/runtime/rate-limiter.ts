// client-go's workqueue rate limiters, same defaults.

export interface RateLimiter<T> {
  /** How long to wait before the item may be processed again. */
  when(item: T): number;
  forget(item: T): void;
  numRequeues(item: T): number;
}

/** base * 2^failures, capped; like ItemExponentialFailureRateLimiter. */
export class ItemExponentialRateLimiter<T> implements RateLimiter<T> {
  private readonly failures = new Map<T, number>();
  private readonly baseMs: number;
  private readonly maxMs: number;

  constructor(baseMs = 5, maxMs = 1_000_000) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }

  when(item: T): number {
    const exp = this.failures.get(item) ?? 0;
    this.failures.set(item, exp + 1);
    return Math.min(this.maxMs, this.baseMs * 2 ** exp);
  }

  forget(item: T): void {
    this.failures.delete(item);
  }

  numRequeues(item: T): number {
    return this.failures.get(item) ?? 0;
  }
}

/**
 * Overall token bucket (golang.org/x/time/rate Reserve semantics): tokens may
 * go negative, and the debt is the wait. Bounds retry storms across all items.
 */
export class BucketRateLimiter<T> implements RateLimiter<T> {
  private readonly qps: number;
  private readonly burst: number;
  private readonly now: () => number;
  private tokens: number;
  private last: number;

  constructor(qps = 10, burst = 100, now: () => number = () => Date.now()) {
    this.qps = qps;
    this.burst = burst;
    this.now = now;
    this.tokens = burst;
    this.last = now();
  }

  when(_item: T): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.qps);
    this.last = t;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }

  forget(_item: T): void {}

  numRequeues(_item: T): number {
    return 0;
  }
}

/** The worst (longest) delay of several limiters. */
export class MaxOfRateLimiter<T> implements RateLimiter<T> {
  private readonly limiters: RateLimiter<T>[];

  constructor(...limiters: RateLimiter<T>[]) {
    this.limiters = limiters;
  }

  when(item: T): number {
    return Math.max(0, ...this.limiters.map((l) => l.when(item)));
  }

  forget(item: T): void {
    for (const l of this.limiters) l.forget(item);
  }

  numRequeues(item: T): number {
    return Math.max(0, ...this.limiters.map((l) => l.numRequeues(item)));
  }
}

/** The overall bucket of a controller's retries (--queue-qps, --queue-burst). */
export interface QueueRateLimit {
  qps: number;
  burst: number;
}

/** client-go's defaults: 10 retries a second after a burst of 100. */
export const DEFAULT_QUEUE_RATE_LIMIT: QueueRateLimit = { qps: 10, burst: 100 };

/**
 * client-go's DefaultControllerRateLimiter: exp(5 ms .. 1000 s) max bucket(10
 * qps, burst 100). It paces only retries (errors and requeue), never a first
 * reconcile or a requeueAfter.
 */
export function defaultControllerRateLimiter<T>(
  now: () => number = () => Date.now(),
  limit: QueueRateLimit = DEFAULT_QUEUE_RATE_LIMIT,
): RateLimiter<T> {
  return new MaxOfRateLimiter<T>(
    new ItemExponentialRateLimiter<T>(5, 1_000_000),
    new BucketRateLimiter<T>(limit.qps, limit.burst, now),
  );
}
