// A small in-process queue for notifications: reconciles hand it messages
// and return at once; it sends them, retries a failure with exponential
// backoff a bounded number of times, and gives up with a log line and a
// metric. It also remembers which (channel, key) pairs it took, so a
// reconcile that sees the same transition again (from a cache that has not
// caught up with the operator's own status write yet) sends nothing twice.
// What it holds is lost on restart; the status, not this queue, is what
// keeps a restarted operator from announcing a transition again.
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { counterOn, gaugeOn } from "../runtime/metrics.ts";

export interface RetryOptions {
  /** Attempts in all, the first included. */
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** Deliveries waiting or in flight at once; more are dropped (and counted). */
  capacity: number;
}

export const DEFAULT_RETRY: RetryOptions = {
  attempts: 8,
  initialDelayMs: 1_000,
  maxDelayMs: 60_000,
  capacity: 200,
};
/** Keys remembered for deduplication; the oldest are forgotten first. */
const REMEMBERED_KEYS = 10_000;

export interface Job {
  channel: string;
  event: string;
  key: string;
  /** One attempt; throws on failure. */
  send: () => Promise<void>;
}

export const DELIVERIES_METRIC = "modelops_notifications_total";

export class DeliveryQueue {
  private readonly retry: RetryOptions;
  private readonly taken = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  /** Retries waiting, each with what ends its wait early. */
  private readonly waits = new Map<NodeJS.Timeout, () => void>();
  private stopped = false;
  private readonly total;
  private readonly depth;

  private readonly log: Logger;

  constructor(log: Logger, registry: Registry, retry: Partial<RetryOptions> = {}) {
    this.log = log;
    this.retry = { ...DEFAULT_RETRY, ...retry };
    this.total = counterOn(registry, {
      name: DELIVERIES_METRIC,
      help: "Notification deliveries by channel, event and result: sent, retried (an attempt failed, another follows), failed (the last attempt failed) or dropped (queue full).",
      labelNames: ["channel", "event", "result"],
    });
    this.depth = gaugeOn(registry, {
      name: "modelops_notification_queue_length",
      help: "Notifications waiting to be sent or retried.",
    });
  }

  /** Takes a job unless its (channel, key) was taken before; never throws, never waits. */
  publish(job: Job): void {
    const id = `${job.channel}\n${job.key}`;
    if (this.stopped || this.taken.has(id)) return;
    this.remember(id);
    const labels = { channel: job.channel, event: job.event };
    if (this.pending.size >= this.retry.capacity) {
      this.total.inc({ ...labels, result: "dropped" });
      this.log.error({ ...labels, key: job.key }, "notification dropped: the queue is full");
      return;
    }
    const run = this.attempt(job, 1).finally(() => {
      this.pending.delete(run);
      this.depth.set(this.pending.size);
    });
    this.pending.add(run);
    this.depth.set(this.pending.size);
  }

  /** Drops what waits for a retry and waits for attempts in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const [timer, wake] of this.waits) {
      clearTimeout(timer);
      wake();
    }
    this.waits.clear();
    await Promise.allSettled([...this.pending]);
  }

  /** Resolves when nothing waits or is in flight (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private async attempt(job: Job, n: number): Promise<void> {
    const labels = { channel: job.channel, event: job.event };
    try {
      await job.send();
      this.total.inc({ ...labels, result: "sent" });
      this.log.info({ ...labels, key: job.key, attempt: n }, "notification sent");
      return;
    } catch (err) {
      const last = n >= this.retry.attempts || this.stopped;
      this.total.inc({ ...labels, result: last ? "failed" : "retried" });
      const fields = { ...labels, key: job.key, attempt: n, err: (err as Error).message };
      if (last) {
        this.log.error(fields, "notification not delivered; giving up");
        return;
      }
      this.log.warn(fields, "notification not delivered; will retry");
    }
    const delay = Math.min(this.retry.maxDelayMs, this.retry.initialDelayMs * 2 ** (n - 1));
    const waited = await this.sleep(delay);
    if (waited) await this.attempt(job, n + 1);
  }

  /** False when the queue stopped meanwhile. */
  private sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waits.delete(timer);
        resolve(!this.stopped);
      }, ms);
      timer.unref();
      this.waits.set(timer, () => resolve(false));
    });
  }

  private remember(id: string): void {
    this.taken.add(id);
    if (this.taken.size > REMEMBERED_KEYS) {
      const oldest = this.taken.values().next().value;
      if (oldest !== undefined) this.taken.delete(oldest);
    }
  }
}
