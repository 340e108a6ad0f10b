import { describe, expect, it } from "vitest";
import { counterOn, createRegistry, gaugeOn, histogramOn, metricValue } from "./metrics.ts";

describe("metrics helpers", () => {
  it("creates a registry with or without process metrics", async () => {
    expect(await createRegistry().metrics()).toContain("nodejs_eventloop_lag_seconds");
    expect(await createRegistry({ defaultMetrics: false }).metrics()).toBe("\n");
  });

  it("returns the same metric when registered twice on one registry", async () => {
    const r = createRegistry({ defaultMetrics: false });
    const a = counterOn(r, { name: "x_total", help: "h", labelNames: ["l"] });
    const b = counterOn(r, { name: "x_total", help: "h", labelNames: ["l"] });
    expect(a).toBe(b);
    a.inc({ l: "1" }, 2);
    expect(await metricValue(r, "x_total", { l: "1" })).toBe(2);
    expect(await metricValue(r, "missing")).toBeUndefined();
    expect(gaugeOn(r, { name: "g", help: "h" })).toBe(gaugeOn(r, { name: "g", help: "h" }));
    expect(histogramOn(r, { name: "h", help: "h" })).toBe(histogramOn(r, { name: "h", help: "h" }));
  });
});
