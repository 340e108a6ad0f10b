import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { waitFor } from "../testing/fake-apiserver.ts";
import {
  Controller,
  controllerOwnerKey,
  REPORT_AFTER_FAILURES,
  REPORT_IF_RETRY_AFTER_MS,
  type ReconcileContext,
} from "./controller.ts";
import { KubeApiError } from "./kube.ts";
import { createLogger } from "./logger.ts";
import { createRegistry, metricValue } from "./metrics.ts";
import { ItemExponentialRateLimiter, type RateLimiter } from "./rate-limiter.ts";
import type { KubeObject, ObjectKey } from "./types.ts";
import { WorkQueue } from "./workqueue.ts";

const fastQueue = (name: string) =>
  new WorkQueue<string>({ name, rateLimiter: new ItemExponentialRateLimiter(1, 20) });

describe("Controller", () => {
  it("reconciles enqueued keys, forgetting them on success", async () => {
    const seen: ObjectKey[] = [];
    const c = new Controller({
      name: "t",
      reconcile: async (key) => {
        seen.push(key);
      },
    });
    const run = c.start();
    c.enqueue({ namespace: "ns", name: "a" });
    c.enqueue({ name: "cluster-scoped" });
    await waitFor(() => seen.length === 2);
    expect(seen).toEqual([{ namespace: "ns", name: "a" }, { name: "cluster-scoped" }]);
    expect(c.queue.numRequeues("ns/a")).toBe(0);
    await c.stop();
    await run;
  });

  it("exports its reconcile errors at 0 before the first error, as controller-runtime does", async () => {
    const registry = createRegistry({ defaultMetrics: false });
    new Controller({ name: "calm", registry, reconcile: async () => {} });
    expect(
      await metricValue(registry, "controller_runtime_reconcile_errors_total", { controller: "calm" }),
    ).toBe(0);
  });

  it("retries with backoff on error, then forgets on success", async () => {
    let calls = 0;
    const registry = createRegistry({ defaultMetrics: false });
    const c = new Controller({
      name: "flaky",
      registry,
      queue: fastQueue("flaky"),
      reconcile: async () => {
        calls++;
        if (calls < 3) throw new Error("transient");
      },
    });
    void c.start();
    c.enqueue({ namespace: "n", name: "x" });
    await waitFor(() => calls === 3);
    await waitFor(() => c.queue.numRequeues("n/x") === 0);
    await c.stop();
    expect(
      await metricValue(registry, "controller_runtime_reconcile_total", {
        controller: "flaky",
        result: "error",
      }),
    ).toBe(2);
    expect(
      await metricValue(registry, "controller_runtime_reconcile_total", {
        controller: "flaky",
        result: "success",
      }),
    ).toBe(1);
    expect(
      await metricValue(registry, "controller_runtime_reconcile_errors_total", { controller: "flaky" }),
    ).toBe(2);
    expect(
      await metricValue(registry, "controller_runtime_max_concurrent_reconciles", { controller: "flaky" }),
    ).toBe(1);
    expect(await metricValue(registry, "controller_runtime_active_workers", { controller: "flaky" })).toBe(0);
    expect(await registry.metrics()).toContain(
      'controller_runtime_reconcile_time_seconds_count{controller="flaky"} 3',
    );
  });

  it("requeues after the requested time", async () => {
    const stamps: number[] = [];
    const registry = createRegistry({ defaultMetrics: false });
    const c = new Controller({
      name: "poll",
      registry,
      reconcile: async () => {
        stamps.push(Date.now());
        return stamps.length < 2 ? { requeueAfterMs: 50 } : undefined;
      },
    });
    void c.start();
    c.enqueue({ namespace: "n", name: "x" });
    await waitFor(() => stamps.length === 2);
    expect((stamps[1] ?? 0) - (stamps[0] ?? 0)).toBeGreaterThanOrEqual(45);
    await c.stop();
    expect(
      await metricValue(registry, "controller_runtime_reconcile_total", {
        controller: "poll",
        result: "requeue_after",
      }),
    ).toBe(1);
  });

  it("requeue: true re-adds rate limited without an error", async () => {
    let calls = 0;
    const registry = createRegistry({ defaultMetrics: false });
    const c = new Controller({
      name: "rq",
      registry,
      queue: fastQueue("rq"),
      reconcile: async () => ({ requeue: ++calls < 2 }),
    });
    void c.start();
    c.enqueue({ namespace: "n", name: "x" });
    await waitFor(() => calls === 2);
    await c.stop();
    expect(
      await metricValue(registry, "controller_runtime_reconcile_total", {
        controller: "rq",
        result: "requeue",
      }),
    ).toBe(1);
    expect(
      await metricValue(registry, "controller_runtime_reconcile_errors_total", { controller: "rq" }),
    ).toBe(0);
  });

  it("never runs one key twice concurrently, but runs different keys in parallel", async () => {
    let active = 0;
    let maxSameKey = 0;
    let maxParallel = 0;
    const perKey = new Map<string, number>();
    const c = new Controller({
      name: "par",
      workers: 4,
      reconcile: async (key) => {
        const k = `${key.namespace}/${key.name}`;
        perKey.set(k, (perKey.get(k) ?? 0) + 1);
        maxSameKey = Math.max(maxSameKey, perKey.get(k) ?? 0);
        maxParallel = Math.max(maxParallel, ++active);
        await new Promise((r) => setTimeout(r, 20));
        active--;
        perKey.set(k, (perKey.get(k) ?? 1) - 1);
      },
    });
    void c.start();
    for (let i = 0; i < 3; i++) for (const n of ["a", "b", "c", "d"]) c.enqueue({ namespace: "n", name: n });
    await new Promise((r) => setTimeout(r, 5));
    for (const n of ["a", "b"]) c.enqueue({ namespace: "n", name: n }); // while processing → dirty
    await waitFor(() => active === 0 && c.queue.len() === 0);
    await new Promise((r) => setTimeout(r, 50));
    await c.stop();
    expect(maxSameKey).toBe(1);
    expect(maxParallel).toBe(4);
  });

  it("logs with controller, namespace, name and reconcileID, and survives throws", async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(String(chunk)));
        cb();
      },
    });
    let ctxSeen: ReconcileContext | undefined;
    const c = new Controller({
      name: "logs",
      logger: createLogger({ level: "info", destination: sink }),
      queue: fastQueue("logs"),
      reconcile: async (_key, ctx) => {
        ctxSeen = ctx;
        ctx.log.info("reconciling");
        throw new Error("bad thing");
      },
    });
    void c.start();
    c.enqueue({ namespace: "ns", name: "obj" });
    await waitFor(() => lines.some((l) => l.msg === "Reconciler error"));
    await c.stop();
    const info = lines.find((l) => l.msg === "reconciling");
    expect(info).toMatchObject({ controller: "logs", namespace: "ns", name: "obj", level: "info" });
    expect(info?.reconcileID).toMatch(/^[0-9a-f-]{36}$/);
    expect(ctxSeen?.reconcileID).toBeTruthy();
    const err = lines.find((l) => l.msg === "Reconciler error");
    expect(err).toMatchObject({ controller: "logs", level: "error", err: { message: "bad thing" } });
  });

  it("reports a key's error from its third failure in a row until a reconcile succeeds", async () => {
    const outcomes: (Error | undefined)[] = [
      new KubeApiError(409, "Conflict", "stale"), // the cache was behind: not the user's problem
      new Error("quota exceeded 1"),
      new Error("quota exceeded 2"),
      new Error("quota exceeded 3"),
      undefined,
      new Error("once"),
      undefined,
    ];
    const reported: string[] = [];
    let calls = 0;
    const c = new Controller({
      name: "report",
      queue: fastQueue("report"),
      reconcile: async () => {
        const outcome = outcomes[calls++];
        if (outcome) throw outcome;
      },
      onRepeatedError: async (key, err) => {
        reported.push(`${key.name}: ${(err as Error).message}`);
        if (reported.length === 1) throw new Error("the report itself failed"); // logged, no harm
      },
    });
    void c.start();
    c.enqueue({ namespace: "n", name: "x" });
    await waitFor(() => calls === 5);
    c.enqueue({ namespace: "n", name: "x" });
    await waitFor(() => calls === 7);
    await c.stop();
    expect(REPORT_AFTER_FAILURES).toBe(3);
    expect(reported).toEqual(["x: quota exceeded 3"]);
  });

  it("reports a failure at once when its retry is at least REPORT_IF_RETRY_AFTER_MS away", async () => {
    const slow: RateLimiter<string> = {
      when: () => REPORT_IF_RETRY_AFTER_MS,
      forget: () => {},
      numRequeues: () => 0,
    };
    const reported: string[] = [];
    let calls = 0;
    const c = new Controller({
      name: "slow-retry",
      queue: new WorkQueue<string>({ name: "slow-retry", rateLimiter: slow }),
      reconcile: async () => {
        calls++;
        throw new Error("range is full");
      },
      onRepeatedError: async (key, err) => {
        reported.push(`${key.name}: ${(err as Error).message}`);
      },
    });
    void c.start();
    c.enqueue({ namespace: "n", name: "x" });
    await waitFor(() => reported.length === 1);
    await c.stop();
    expect(calls).toBe(1);
    expect(reported).toEqual(["x: range is full"]);
  });

  it("stop() drains the reconcile in flight", async () => {
    let finished = false;
    const c = new Controller({
      name: "drain",
      reconcile: async () => {
        await new Promise((r) => setTimeout(r, 50));
        finished = true;
      },
    });
    const ac = new AbortController();
    const run = c.start(ac.signal);
    c.enqueue({ namespace: "n", name: "x" });
    await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    await run;
    expect(finished).toBe(true);
  });
});

describe("event handler helpers", () => {
  const owned = (owners: KubeObject["metadata"]): KubeObject => ({
    metadata: { namespace: "ns", name: "child", ...owners },
  });
  const ownerRef = (kind: string, name: string, controller = true, apiVersion = "modelops.io/v1alpha1") => ({
    apiVersion,
    kind,
    name,
    uid: "u",
    controller,
  });

  it("controllerOwnerKey picks the controlling owner of the kind", () => {
    expect(
      controllerOwnerKey(owned({ ownerReferences: [ownerRef("ModelDeployment", "m")] }), "ModelDeployment"),
    ).toEqual({
      namespace: "ns",
      name: "m",
    });
    expect(
      controllerOwnerKey(
        owned({ ownerReferences: [ownerRef("ModelDeployment", "m", false)] }),
        "ModelDeployment",
      ),
    ).toBeUndefined();
    expect(
      controllerOwnerKey(owned({ ownerReferences: [ownerRef("Other", "m")] }), "ModelDeployment"),
    ).toBeUndefined();
    expect(controllerOwnerKey(owned({}), "ModelDeployment")).toBeUndefined();
    const r = owned({ ownerReferences: [ownerRef("ModelDeployment", "m")] });
    expect(controllerOwnerKey(r, "ModelDeployment", "modelops.io")).toBeTruthy();
    expect(controllerOwnerKey(r, "ModelDeployment", "apps")).toBeUndefined();
  });

  it("enqueueSelf and enqueueOwner feed the queue", () => {
    const c = new Controller({ name: "h", reconcile: async () => {} });
    const self = c.enqueueSelf();
    self.onAdd?.({ metadata: { namespace: "a", name: "x" } });
    self.onDelete?.({ metadata: { namespace: "a", name: "y" } });
    const owner = c.enqueueOwner("ModelDeployment");
    const before = owned({ ownerReferences: [ownerRef("ModelDeployment", "old")] });
    const after = owned({ ownerReferences: [ownerRef("ModelDeployment", "new")] });
    owner.onUpdate?.(before, after);
    owner.onAdd?.(owned({}));
    expect(c.queue.len()).toBe(4);
    c.queue.shutDown();
  });
});
