import { describe, expect, it } from "vitest";
import { backoffDelay, microTime, sleep } from "./time.ts";

describe("time helpers", () => {
  it("backoff doubles, caps, and jitters within [d/2, d]", () => {
    expect(backoffDelay(1, 100, 1000, () => 1)).toBe(100);
    expect(backoffDelay(2, 100, 1000, () => 1)).toBe(200);
    expect(backoffDelay(10, 100, 1000, () => 1)).toBe(1000);
    expect(backoffDelay(2, 100, 1000, () => 0)).toBe(100);
  });

  it("formats MicroTime with six fractional digits", () => {
    expect(microTime(new Date("2025-01-02T03:04:05.678Z"))).toBe("2025-01-02T03:04:05.678000Z");
  });

  it("sleep resolves early on abort", async () => {
    const ac = new AbortController();
    const start = Date.now();
    const p = sleep(10_000, ac.signal);
    ac.abort();
    await p;
    expect(Date.now() - start).toBeLessThan(1000);
    await sleep(1, ac.signal);
  });
});
