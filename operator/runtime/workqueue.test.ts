import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createRegistry, metricValue } from "./metrics.ts";
import { BucketRateLimiter, ItemExponentialRateLimiter, MaxOfRateLimiter } from "./rate-limiter.ts";
import { WorkQueue } from "./workqueue.ts";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Resolves the value of a get() that must already be settled. */
async function settled<T>(p: Promise<T>): Promise<T | "pending"> {
  return Promise.race([p, Promise.resolve().then(() => "pending" as const)]);
}

describe("WorkQueue basics", () => {
  it("hands items out in FIFO order and collapses duplicates", async () => {
    const q = new WorkQueue();
    q.add("a");
    q.add("b");
    q.add("a");
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe("a");
    expect(await q.get()).toBe("b");
    expect(q.len()).toBe(0);
  });

  it("never hands one item to two workers: re-add while processing waits for done", async () => {
    const q = new WorkQueue();
    q.add("a");
    expect(await q.get()).toBe("a");
    q.add("a");
    q.add("a");
    expect(q.len()).toBe(0);
    const second = q.get();
    expect(await settled(second)).toBe("pending");
    q.done("a");
    expect(await second).toBe("a");
    q.done("a");
    expect(q.len()).toBe(0);
  });

  it("wakes a waiting get() on add", async () => {
    const q = new WorkQueue();
    const p = q.get();
    q.add("x");
    expect(await p).toBe("x");
  });

  it("shutDown resolves waiting gets with undefined, ignores adds, still hands out queued items", async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
    const q2 = new WorkQueue();
    q2.add("a");
    q2.shutDown();
    q2.add("b");
    q2.addAfter("c", 10);
    q2.addRateLimited("d");
    expect(await q2.get()).toBe("a");
    expect(await q2.get()).toBeUndefined();
    expect(q2.isShuttingDown()).toBe(true);
  });

  it("shutDownWithDrain waits for in-flight items", async () => {
    const q = new WorkQueue();
    q.add("a");
    await q.get();
    let drained = false;
    const p = q.shutDownWithDrain().then(() => {
      drained = true;
    });
    await Promise.resolve();
    expect(drained).toBe(false);
    q.done("a");
    await p;
    expect(drained).toBe(true);
    await new WorkQueue().shutDownWithDrain(); // nothing in flight: immediate
  });

  it("ignores done for an item that is not processing", () => {
    const q = new WorkQueue();
    q.done("nope");
    expect(q.len()).toBe(0);
  });
});

describe("WorkQueue delays", () => {
  it("addAfter adds once the delay passes", async () => {
    const q = new WorkQueue();
    q.addAfter("a", 100);
    expect(q.len()).toBe(0);
    vi.advanceTimersByTime(99);
    expect(q.len()).toBe(0);
    vi.advanceTimersByTime(1);
    expect(q.len()).toBe(1);
    q.addAfter("b", 0);
    expect(q.len()).toBe(2);
  });

  it("the earliest pending time wins", () => {
    const q = new WorkQueue();
    q.addAfter("a", 1000);
    q.addAfter("a", 100);
    q.addAfter("a", 5000);
    vi.advanceTimersByTime(100);
    expect(q.len()).toBe(1);
    vi.advanceTimersByTime(10_000);
    expect(q.len()).toBe(1);
  });

  it("waits out a delay longer than one timer can hold (2^31 ms) without spinning", () => {
    const q = new WorkQueue();
    const armed = vi.spyOn(globalThis, "setTimeout");
    const thirtyDays = 30 * 86_400_000;
    q.addAfter("a", thirtyDays);
    // Node turns a longer timer into a 1 ms one: a re-arm every millisecond.
    vi.advanceTimersByTime(1000);
    expect(armed.mock.calls.length).toBe(1);
    expect(armed.mock.calls[0]?.[1]).toBe(2 ** 31 - 1);
    vi.advanceTimersByTime(thirtyDays - 1001);
    expect(q.len()).toBe(0);
    vi.advanceTimersByTime(1);
    expect(q.len()).toBe(1);
    expect(armed.mock.calls.length).toBe(2); // re-armed once, for the rest
    armed.mockRestore();
  });

  it("handles several items with different delays", async () => {
    const q = new WorkQueue();
    q.addAfter("late", 300);
    q.addAfter("early", 100);
    vi.advanceTimersByTime(100);
    expect(await q.get()).toBe("early");
    vi.advanceTimersByTime(200);
    expect(await q.get()).toBe("late");
  });

  it("addRateLimited backs off exponentially per item; forget resets", () => {
    const q = new WorkQueue({ rateLimiter: new ItemExponentialRateLimiter(5, 1_000_000) });
    q.addRateLimited("a"); // 5 ms
    expect(q.numRequeues("a")).toBe(1);
    vi.advanceTimersByTime(5);
    expect(q.len()).toBe(1);
    q.addRateLimited("b");
    q.addRateLimited("b"); // second: 10 ms (earliest pending still 5 ms)
    expect(q.numRequeues("b")).toBe(2);
    q.forget("b");
    expect(q.numRequeues("b")).toBe(0);
  });
});

describe("rate limiters", () => {
  it("exponential: 5ms doubling, capped at 1000s", () => {
    const r = new ItemExponentialRateLimiter<string>();
    const delays = Array.from({ length: 30 }, () => r.when("x"));
    expect(delays.slice(0, 4)).toEqual([5, 10, 20, 40]);
    expect(delays.at(-1)).toBe(1_000_000);
    expect(r.when("y")).toBe(5);
  });

  it("bucket: burst free, then 1/qps spacing, refilling over time", () => {
    let now = 0;
    const r = new BucketRateLimiter<string>(10, 3, () => now);
    expect([r.when("a"), r.when("b"), r.when("c")]).toEqual([0, 0, 0]);
    expect(r.when("d")).toBeCloseTo(100);
    expect(r.when("e")).toBeCloseTo(200);
    now = 10_000;
    expect(r.when("f")).toBe(0);
  });

  it("max-of combines both", () => {
    let now = 0;
    const r = new MaxOfRateLimiter<string>(
      new ItemExponentialRateLimiter(5, 1000),
      new BucketRateLimiter(10, 1, () => now),
    );
    expect(r.when("a")).toBe(5);
    expect(r.when("a")).toBeCloseTo(100);
    expect(r.numRequeues("a")).toBe(2);
    r.forget("a");
    expect(r.numRequeues("a")).toBe(0);
    now = 0;
  });
});

describe("WorkQueue metrics", () => {
  it("exposes controller-runtime workqueue metrics", async () => {
    const registry = createRegistry({ defaultMetrics: false });
    const q = new WorkQueue({ name: "mdep", controller: "mdep", registry });
    const labels = { name: "mdep", controller: "mdep" };
    q.add("a");
    q.add("b");
    q.add("a");
    expect(await metricValue(registry, "workqueue_depth", labels)).toBe(2);
    expect(await metricValue(registry, "workqueue_adds_total", labels)).toBe(2);
    vi.advanceTimersByTime(1500);
    await q.get();
    expect(await metricValue(registry, "workqueue_depth", labels)).toBe(1);
    vi.advanceTimersByTime(2000);
    expect(await metricValue(registry, "workqueue_unfinished_work_seconds", labels)).toBe(2);
    expect(await metricValue(registry, "workqueue_longest_running_processor_seconds", labels)).toBe(2);
    q.done("a");
    q.addRateLimited("a");
    expect(await metricValue(registry, "workqueue_retries_total", labels)).toBe(1);
    const text = await registry.metrics();
    expect(text).toContain('workqueue_queue_duration_seconds_count{name="mdep",controller="mdep"} 1');
    expect(text).toContain('workqueue_work_duration_seconds_count{name="mdep",controller="mdep"} 1');
    expect(text).toMatch(/workqueue_queue_duration_seconds_sum\{name="mdep",controller="mdep"\} 1\.5/);
    // a second queue on the same registry shares the metric families
    const q2 = new WorkQueue({ name: "other", registry });
    q2.add("z");
    expect(await metricValue(registry, "workqueue_depth", { name: "other" })).toBe(1);
  });
});
