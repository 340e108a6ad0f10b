import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "pino";
import { isNotFound, type KubeClient } from "./kube.ts";
import { silentLogger } from "./logger.ts";
import { microTime } from "./time.ts";
import type { KubeObject } from "./types.ts";

export type EventType = "Normal" | "Warning";

export interface EventRecorderOptions {
  kube: Pick<KubeClient, "create" | "mergePatch">;
  reportingController: string;
  reportingInstance?: string;
  /** Name for this recorder's log lines only (Events always carry reportingController). */
  component?: string;
  /** Identical events within this window bump a series count instead of creating a new Event. Default 5 min. */
  windowMs?: number;
  maxCacheEntries?: number;
  logger?: Logger;
  now?: () => number;
}

interface SeriesEntry {
  name: string;
  namespace: string;
  count: number;
  lastMs: number;
  pending: Promise<void>;
}

const EVENTS_API = "events.k8s.io/v1";
const MAX_NOTE_BYTES = 1024; // apiserver validation limit for events.k8s.io/v1 note

/**
 * Records events.k8s.io/v1 Events about an object. Identical events (same
 * object, type, reason, action and message) within a window are folded into
 * one Event whose series.count grows, as client-go's aggregation does, so a
 * hot reconcile loop cannot flood etcd. Never throws: failures are logged.
 */
export class EventRecorder {
  private readonly opts: EventRecorderOptions;
  private readonly log: Logger;
  private readonly series = new Map<string, SeriesEntry>();
  private readonly now: () => number;

  constructor(opts: EventRecorderOptions) {
    this.opts = opts;
    this.log = (opts.logger ?? silentLogger()).child({ component: opts.component ?? "events" });
    this.now = opts.now ?? (() => Date.now());
  }

  normal(obj: KubeObject, reason: string, message: string, action?: string): Promise<void> {
    return this.event(obj, "Normal", reason, message, action);
  }

  warning(obj: KubeObject, reason: string, message: string, action?: string): Promise<void> {
    return this.event(obj, "Warning", reason, message, action);
  }

  /** Resolves once written (or failed and logged); callers may ignore the promise. */
  event(obj: KubeObject, type: EventType, reason: string, message: string, action = reason): Promise<void> {
    const meta = obj.metadata ?? {};
    const key = [obj.kind, meta.namespace, meta.name, meta.uid, type, reason, action, message].join("\u0000");
    const prev = this.series.get(key);
    // Chained per key so a burst of identical events becomes one create then patches.
    const run = (prev?.pending ?? Promise.resolve()).then(() =>
      this.write(key, obj, type, reason, message, action),
    );
    const done = run.catch((err: unknown) => {
      this.log.warn(
        { err: errorMessage(err), reason, kind: obj.kind, name: meta.name },
        "could not record event",
      );
    });
    const entry = this.series.get(key);
    if (entry) entry.pending = done;
    else this.placeholder(key, done);
    return done;
  }

  private placeholder(key: string, pending: Promise<void>): void {
    this.series.set(key, { name: "", namespace: "", count: 0, lastMs: 0, pending });
    this.evictOldest();
  }

  private async write(
    key: string,
    obj: KubeObject,
    type: EventType,
    reason: string,
    message: string,
    action: string,
  ): Promise<void> {
    const entry = this.series.get(key);
    const nowMs = this.now();
    const windowMs = this.opts.windowMs ?? 300_000;
    if (entry?.name && nowMs - entry.lastMs < windowMs) {
      const count = entry.count + 1;
      const patch = { series: { count, lastObservedTime: microTime(new Date(nowMs)) } };
      try {
        const ref = { apiVersion: EVENTS_API, kind: "Event", namespace: entry.namespace, name: entry.name };
        await this.opts.kube.mergePatch(ref, patch);
        entry.count = count;
        entry.lastMs = nowMs;
        return;
      } catch (err) {
        if (!isNotFound(err)) throw err; // deleted (TTL): start a new one
      }
    }
    const created = await this.opts.kube.create(this.build(obj, type, reason, message, action, nowMs));
    const current = this.series.get(key);
    if (current) {
      current.name = created.metadata?.name ?? "";
      current.namespace = created.metadata?.namespace ?? "";
      current.count = 1;
      current.lastMs = nowMs;
    }
  }

  private build(
    obj: KubeObject,
    type: EventType,
    reason: string,
    message: string,
    action: string,
    nowMs: number,
  ): KubeObject {
    const meta = obj.metadata ?? {};
    const namespace = meta.namespace || "default";
    const suffix = `${nowMs.toString(16)}${randomBytes(4).toString("hex")}`;
    return {
      apiVersion: EVENTS_API,
      kind: "Event",
      metadata: { name: `${meta.name}.${suffix}`, namespace },
      eventTime: microTime(new Date(nowMs)),
      type,
      reason,
      action,
      note: truncateUtf8(message, MAX_NOTE_BYTES),
      reportingController: this.opts.reportingController,
      reportingInstance: (this.opts.reportingInstance ?? hostname()).slice(0, 128),
      regarding: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        namespace: meta.namespace,
        name: meta.name,
        uid: meta.uid,
        resourceVersion: meta.resourceVersion,
      },
    };
  }

  private evictOldest(): void {
    const max = this.opts.maxCacheEntries ?? 4096;
    while (this.series.size > max) {
      const oldest = this.series.keys().next().value;
      if (oldest === undefined) return;
      this.series.delete(oldest);
    }
  }
}

export function truncateUtf8(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s) <= maxBytes) return s;
  let out = s.slice(0, maxBytes);
  while (Buffer.byteLength(out) > maxBytes - 3) out = out.slice(0, -1);
  return `${out}...`;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
