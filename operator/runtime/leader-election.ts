import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "pino";
import type { Gauge, Registry } from "prom-client";
import { isConflict, type KubeClient } from "./kube.ts";
import { silentLogger } from "./logger.ts";
import { gaugeOn } from "./metrics.ts";
import { microTime, sleep } from "./time.ts";
import type { KubeObject } from "./types.ts";

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export type Lease = KubeObject & { spec?: LeaseSpec };

export interface LeaderElectionOptions {
  kube: Pick<KubeClient, "getOrUndefined" | "create" | "update">;
  namespace: string;
  name: string;
  /** Defaults to hostname + "_" + random uuid, like controller-runtime. */
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Called once leadership is acquired; `signal` aborts when it is lost. */
  onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  onStoppedLeading?: () => void;
  /** On cancellation, hand the lease over at once (client-go ReleaseOnCancel). Default true. */
  releaseOnCancel?: boolean;
  logger?: Logger;
  registry?: Registry;
  now?: () => number;
}

const LEASE_API = "coordination.k8s.io/v1";

/**
 * Lease-based leader election (client-go's LeaderElector, simplified).
 * Optimistic concurrency comes from PUT with resourceVersion: a 409 means
 * another candidate wrote first.
 */
export class LeaderElector {
  readonly identity: string;
  private readonly opts: LeaderElectionOptions;
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly gauge: Gauge<"name"> | undefined;
  private leading = false;
  private otherHolder = "";

  constructor(opts: LeaderElectionOptions) {
    this.opts = opts;
    this.identity = opts.identity ?? `${hostname()}_${randomUUID()}`;
    this.leaseMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryMs = opts.retryPeriodMs ?? 2_000;
    this.now = opts.now ?? (() => Date.now());
    this.log = (opts.logger ?? silentLogger()).child({
      lease: `${opts.namespace}/${opts.name}`,
      identity: this.identity,
    });
    this.gauge = opts.registry
      ? gaugeOn(opts.registry, {
          name: "leader_election_master_status",
          help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master.",
          labelNames: ["name"],
        })
      : undefined;
    this.gauge?.set({ name: opts.name }, 0);
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns until leader, leads until `signal` aborts or renewal fails, then
   * returns. It does not campaign again: like controller-runtime, the caller
   * should exit when leadership is lost without being asked to stop.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (!(await this.acquire(signal))) return;
    const lead = new AbortController();
    this.setLeading(true);
    this.log.info("became leader");
    Promise.resolve()
      .then(() => this.opts.onStartedLeading(lead.signal))
      .catch((err: unknown) => this.log.error({ err: String(err) }, "onStartedLeading failed"));
    await this.renewLoop(signal);
    this.setLeading(false);
    lead.abort();
    this.log.info({ cancelled: signal.aborted }, "stopped leading");
    try {
      this.opts.onStoppedLeading?.();
    } catch (err) {
      this.log.error({ err: String(err) }, "onStoppedLeading failed");
    }
    if (signal.aborted && (this.opts.releaseOnCancel ?? true)) await this.release();
  }

  /** Gives the lease up now if we hold it, so another candidate need not wait for expiry. */
  async release(): Promise<boolean> {
    try {
      const lease = await this.opts.kube.getOrUndefined<Lease>(this.leaseRef());
      if (!lease || lease.spec?.holderIdentity !== this.identity) return false;
      const at = microTime(new Date(this.now()));
      const spec = {
        ...lease.spec,
        holderIdentity: "",
        leaseDurationSeconds: 1,
        renewTime: at,
        acquireTime: at,
      };
      await this.opts.kube.update({ ...lease, spec });
      this.log.info("released lease");
      return true;
    } catch (err) {
      this.log.warn({ err: String(err) }, "could not release lease");
      return false;
    }
  }

  private async acquire(signal: AbortSignal): Promise<boolean> {
    let reported = "";
    while (!signal.aborted) {
      if (await this.tryAcquireOrRenew().catch((err: unknown) => this.logFailure(err))) return true;
      if (this.otherHolder && this.otherHolder !== reported) {
        reported = this.otherHolder;
        this.log.info({ holder: reported }, "lease held by another candidate; waiting");
      }
      // Jitter (client-go JitterFactor 1.2) keeps candidates from colliding.
      await sleep(this.retryMs * (1 + Math.random() * 1.2), signal);
    }
    return false;
  }

  private async renewLoop(signal: AbortSignal): Promise<void> {
    let lastRenew = this.now();
    while (!signal.aborted) {
      await sleep(this.retryMs, signal);
      if (signal.aborted) return;
      const budget = Math.max(1, this.renewDeadlineMs - (this.now() - lastRenew));
      const ok = await withTimeout(this.tryAcquireOrRenew(), budget).catch((err: unknown) =>
        this.logFailure(err),
      );
      if (ok) lastRenew = this.now();
      else if (this.otherHolder) {
        this.log.warn({ holder: this.otherHolder }, "lease taken by another candidate");
        return;
      }
      if (this.now() - lastRenew > this.renewDeadlineMs) {
        this.log.error(
          { renewDeadlineMs: this.renewDeadlineMs },
          "failed to renew lease before the deadline",
        );
        return;
      }
    }
  }

  /** True when we hold the lease afterwards; sets otherHolder when a live foreign holder is seen. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    this.otherHolder = "";
    const nowMs = this.now();
    const now = microTime(new Date(nowMs));
    const lease = await this.opts.kube.getOrUndefined<Lease>(this.leaseRef());
    const leaseDurationSeconds = Math.ceil(this.leaseMs / 1000);
    if (!lease) {
      const spec = {
        holderIdentity: this.identity,
        leaseDurationSeconds,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 0,
      };
      return this.write(() => this.opts.kube.create({ ...this.leaseRefObject(), spec }));
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const mine = holder === this.identity;
    if (holder && !mine && !isExpired(spec, nowMs)) {
      this.otherHolder = holder;
      return false;
    }
    const transitions = spec.leaseTransitions ?? 0;
    const next: LeaseSpec = {
      ...spec,
      holderIdentity: this.identity,
      leaseDurationSeconds,
      renewTime: now,
      acquireTime: mine ? (spec.acquireTime ?? now) : now,
      leaseTransitions: mine ? transitions : transitions + 1,
    };
    return this.write(() => this.opts.kube.update({ ...lease, spec: next }));
  }

  private async write(op: () => Promise<unknown>): Promise<boolean> {
    try {
      await op();
      return true;
    } catch (err) {
      if (isConflict(err)) return false; // someone else wrote first
      throw err;
    }
  }

  private logFailure(err: unknown): false {
    this.log.warn({ err: err instanceof Error ? err.message : String(err) }, "lease request failed");
    return false;
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    this.gauge?.set({ name: this.opts.name }, leading ? 1 : 0);
  }

  private leaseRef() {
    return { apiVersion: LEASE_API, kind: "Lease", namespace: this.opts.namespace, name: this.opts.name };
  }

  private leaseRefObject(): Lease {
    return {
      apiVersion: LEASE_API,
      kind: "Lease",
      metadata: { namespace: this.opts.namespace, name: this.opts.name },
    };
  }
}

/** A lease is free once renewTime + leaseDurationSeconds has passed. */
export function isExpired(spec: LeaseSpec, nowMs: number): boolean {
  if (!spec.renewTime) return true;
  const renewed = Date.parse(spec.renewTime);
  if (Number.isNaN(renewed)) return true;
  return renewed + (spec.leaseDurationSeconds ?? 0) * 1000 < nowMs;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
