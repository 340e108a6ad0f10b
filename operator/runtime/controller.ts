import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { EventHandlers } from "./informer.ts";
import { KubeApiError } from "./kube.ts";
import { silentLogger } from "./logger.ts";
import { counterOn, gaugeOn, histogramOn } from "./metrics.ts";
import { type KubeObject, keyOf, type ObjectKey, objectKeyOf, parseKey } from "./types.ts";
import { WorkQueue } from "./workqueue.ts";

export interface ReconcileResult {
  /** Reconcile again after this long (e.g. to poll analysis), even on success. */
  requeueAfterMs?: number;
  /** Reconcile again with rate-limited backoff, without counting as an error. */
  requeue?: boolean;
}

export interface ReconcileContext {
  log: Logger;
  reconcileID: string;
}

// `void` lets `async () => {}` be a reconcile function that asks for nothing.
// biome-ignore lint/suspicious/noConfusingVoidType: see above
type ReconcileReturn = ReconcileResult | undefined | void;

export type ReconcileFn = (key: ObjectKey, ctx: ReconcileContext) => Promise<ReconcileReturn>;

/** Tells the user that `key` cannot be reconciled, and why (reconcile-errors.ts: a condition and an Event). */
export type ErrorReporter = (key: ObjectKey, err: unknown) => Promise<void>;

/**
 * Failures in a row after which a key's error is reported. The first retries
 * come within tens of milliseconds, so an error still there at the third
 * attempt is not a blip; conflicts do not count (see countFailure).
 */
export const REPORT_AFTER_FAILURES = 3;

/**
 * A failure whose retry is this far off is reported at once: behind the
 * queue's overall rate limit (a fleet failing together, e.g. a full service
 * IP range at a thousand ModelDeployments), the third attempt can be minutes
 * away, and until then the object would show nothing.
 */
export const REPORT_IF_RETRY_AFTER_MS = 1_000;

export interface ControllerOptions {
  /** Controller name: the `controller` label of metrics and logs. */
  name: string;
  reconcile: ReconcileFn;
  workers?: number;
  logger?: Logger;
  registry?: Registry;
  queue?: WorkQueue<string>;
  /**
   * Called at the REPORT_AFTER_FAILURES-th failure in a row of a key and at
   * every one after, until a reconcile succeeds: a log line reaches nobody
   * who runs `kubectl describe`.
   */
  onRepeatedError?: ErrorReporter;
}

type Result = "success" | "error" | "requeue" | "requeue_after";

// controller-runtime's reconcile_time buckets.
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5,
  1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];

interface ControllerMetrics {
  total: Counter<"controller" | "result">;
  errors: Counter<"controller">;
  time: Histogram<"controller">;
  active: Gauge<"controller">;
  max: Gauge<"controller">;
}

function controllerMetrics(registry: Registry): ControllerMetrics {
  const c = ["controller"] as const;
  return {
    total: counterOn(registry, {
      name: "controller_runtime_reconcile_total",
      help: "Total number of reconciliations per controller",
      labelNames: ["controller", "result"],
    }),
    errors: counterOn(registry, {
      name: "controller_runtime_reconcile_errors_total",
      help: "Total number of reconciliation errors per controller",
      labelNames: c,
    }),
    time: histogramOn(registry, {
      name: "controller_runtime_reconcile_time_seconds",
      help: "Length of time per reconciliation per controller",
      labelNames: c,
      buckets: RECONCILE_BUCKETS,
    }),
    active: gaugeOn(registry, {
      name: "controller_runtime_active_workers",
      help: "Number of currently used workers per controller",
      labelNames: c,
    }),
    max: gaugeOn(registry, {
      name: "controller_runtime_max_concurrent_reconciles",
      help: "Maximum number of concurrent reconciles per controller",
      labelNames: c,
    }),
  };
}

/**
 * Ties a level-triggered reconcile function to a work queue served by N
 * workers. Keys are "ns/name"; the queue guarantees one reconcile per key at a time.
 */
export class Controller {
  readonly name: string;
  readonly queue: WorkQueue<string>;
  private readonly reconcileFn: ReconcileFn;
  private readonly workers: number;
  private readonly log: Logger;
  private readonly metrics: ControllerMetrics | undefined;
  private readonly onRepeatedError: ErrorReporter | undefined;
  /** Failures in a row per key; a success deletes the entry. */
  private readonly failures = new Map<string, number>();
  private running: Promise<void> | undefined;

  constructor(opts: ControllerOptions) {
    this.name = opts.name;
    this.reconcileFn = opts.reconcile;
    this.onRepeatedError = opts.onRepeatedError;
    this.workers = Math.max(1, opts.workers ?? 1);
    this.log = (opts.logger ?? silentLogger()).child({ controller: opts.name });
    this.queue =
      opts.queue ??
      new WorkQueue<string>({ name: opts.name, controller: opts.name, registry: opts.registry });
    this.metrics = opts.registry ? controllerMetrics(opts.registry) : undefined;
    this.metrics?.max.set({ controller: this.name }, this.workers);
    this.metrics?.active.set({ controller: this.name }, 0);
    // At 0 from the start, as controller-runtime does: rate() of a counter
    // that appears with its first error misses that error, and the
    // reconcile-errors panel and alert would have no series while all is well.
    this.metrics?.errors.inc({ controller: this.name }, 0);
  }

  enqueue(key: ObjectKey): void {
    this.queue.add(keyOf(key));
  }

  enqueueAfter(key: ObjectKey, ms: number): void {
    this.queue.addAfter(keyOf(key), ms);
  }

  /** Informer handlers that enqueue the object itself (the primary kind). */
  enqueueSelf<T extends KubeObject>(): EventHandlers<T> {
    const add = (obj: T) => this.enqueue(objectKeyOf(obj));
    return { onAdd: add, onUpdate: (_old, obj) => add(obj), onDelete: add };
  }

  /**
   * Informer handlers for owned objects: enqueue the controlling owner of
   * `kind` (same namespace), so changes to owned objects wake their owner.
   * On update both the old and the new owner are enqueued, in case it moved.
   */
  enqueueOwner<T extends KubeObject>(kind: string, apiGroup?: string): EventHandlers<T> {
    const add = (obj: T) => {
      const owner = controllerOwnerKey(obj, kind, apiGroup);
      if (owner) this.enqueue(owner);
    };
    return {
      onAdd: add,
      onUpdate: (old, obj) => {
        add(old);
        add(obj);
      },
      onDelete: add,
    };
  }

  /** Runs the workers until `signal` aborts, then drains in-flight reconciles. */
  start(signal?: AbortSignal): Promise<void> {
    if (this.running) return this.running;
    const workers = Array.from({ length: this.workers }, () => this.worker());
    signal?.addEventListener("abort", () => void this.stop(), { once: true });
    if (signal?.aborted) void this.stop();
    this.running = Promise.all(workers).then(() => undefined);
    return this.running;
  }

  /** Stops taking work and waits for running reconciles to finish. */
  async stop(): Promise<void> {
    await this.queue.shutDownWithDrain();
    await this.running;
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      await this.processItem(key);
    }
  }

  private async processItem(key: string): Promise<void> {
    const objKey = parseKey(key);
    const reconcileID = randomUUID();
    const log = this.log.child({ namespace: objKey.namespace, name: objKey.name, reconcileID });
    const labels = { controller: this.name };
    this.metrics?.active.inc(labels);
    const started = performance.now();
    let result: Result = "success";
    try {
      const res = (await this.reconcileFn(objKey, { log, reconcileID })) ?? {};
      result = this.afterSuccess(key, res);
    } catch (err) {
      result = "error";
      this.metrics?.errors.inc(labels);
      const retryMs = this.queue.addRateLimited(key);
      log.error({ err: errorSummary(err), requeues: this.queue.numRequeues(key) }, "Reconciler error");
      const failures = this.countFailure(key, err);
      const slowRetry = retryMs >= REPORT_IF_RETRY_AFTER_MS && !isStale(err);
      if (failures >= REPORT_AFTER_FAILURES || slowRetry) await this.report(objKey, err, log);
    } finally {
      this.queue.done(key);
      this.metrics?.active.dec(labels);
      this.metrics?.time.observe(labels, (performance.now() - started) / 1000);
      this.metrics?.total.inc({ ...labels, result });
    }
  }

  /**
   * A conflict means the cache was behind the apiserver (a guarded status
   * write, runtime/apply.ts): the retry reads the newer object, and there is
   * nothing for the user to do, so it neither counts nor resets the count.
   */
  private countFailure(key: string, err: unknown): number {
    const failures = (this.failures.get(key) ?? 0) + (isStale(err) ? 0 : 1);
    this.failures.set(key, failures);
    return failures;
  }

  /** Before the key is done, so no reconcile of the same object runs meanwhile. */
  private async report(key: ObjectKey, err: unknown, log: Logger): Promise<void> {
    try {
      await this.onRepeatedError?.(key, err);
    } catch (reportErr) {
      log.warn({ err: errorSummary(reportErr) }, "could not report the reconcile error on the object");
    }
  }

  private afterSuccess(key: string, res: ReconcileResult): Result {
    this.failures.delete(key);
    if (res.requeueAfterMs !== undefined && res.requeueAfterMs > 0) {
      this.queue.forget(key);
      this.queue.addAfter(key, res.requeueAfterMs);
      return "requeue_after";
    }
    if (res.requeue) {
      this.queue.addRateLimited(key);
      return "requeue";
    }
    this.queue.forget(key);
    return "success";
  }
}

function isStale(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 409 && err.reason === "Conflict";
}

/** The key of obj's controlling owner of `kind` (and apiGroup, if given). */
export function controllerOwnerKey(obj: KubeObject, kind: string, apiGroup?: string): ObjectKey | undefined {
  const ref = obj.metadata?.ownerReferences?.find(
    (r) =>
      r.controller === true &&
      r.kind === kind &&
      (apiGroup === undefined || groupOf(r.apiVersion) === apiGroup),
  );
  if (!ref) return undefined;
  return obj.metadata?.namespace ? { namespace: obj.metadata.namespace, name: ref.name } : { name: ref.name };
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}

// Only the message and, for API errors, status and reason: never objects or payloads.
function errorSummary(err: unknown): Record<string, unknown> {
  if (err && typeof err === "object" && "status" in err && "reason" in err) {
    const e = err as { status: unknown; reason: unknown; message?: unknown };
    return { status: e.status, reason: e.reason, message: e.message };
  }
  return {
    message: err instanceof Error ? err.message : String(err),
    stack: err instanceof Error ? err.stack : undefined,
  };
}
