import { describe, expect, it } from "vitest";
import { DEFAULT_QUEUE_RATE_LIMIT, defaultControllerRateLimiter } from "./rate-limiter.ts";

describe("defaultControllerRateLimiter", () => {
  it("lets a burst through, then paces retries at qps (client-go's 10/s after 100 by default)", () => {
    const now = () => 0; // a frozen clock: the bucket never refills
    const custom = defaultControllerRateLimiter<string>(now, { qps: 50, burst: 3 });
    // Distinct items, so the per-item backoff stays at its 5 ms base.
    expect([1, 2, 3].map((i) => custom.when(`k${i}`))).toEqual([5, 5, 5]);
    expect(custom.when("k4")).toBe(20); // one token short at 50/s
    expect(custom.when("k5")).toBe(40);

    expect(DEFAULT_QUEUE_RATE_LIMIT).toEqual({ qps: 10, burst: 100 });
    const dflt = defaultControllerRateLimiter<string>(now);
    for (let i = 0; i < 100; i++) expect(dflt.when(`k${i}`)).toBe(5);
    expect(dflt.when("k100")).toBe(100);
  });
});
