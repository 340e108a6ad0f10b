import { describe, expect, it } from "vitest";
import { createRegistry, metricValue } from "../runtime/metrics.ts";
import { measureAnalysis } from "./measure.ts";
import { ANALYSIS_METRIC_VALUE, recordAnalysisMetricValues } from "./metrics.ts";
import type { MetricProvider, MetricResult } from "./provider.ts";

/** Answers by the revision a query selects; records every query and the time it was asked for. */
function fakeProvider(
  byRevision: Record<string, MetricResult>,
): MetricProvider & { queries: string[]; times: (Date | undefined)[] } {
  const queries: string[] = [];
  const times: (Date | undefined)[] = [];
  return {
    queries,
    times,
    async query(query, options) {
      queries.push(query);
      times.push(options?.time);
      const revision = /revision="([^"]+)"/.exec(query)?.[1] ?? "";
      return byRevision[revision] ?? { kind: "noData", reason: "the query returned no series" };
    },
  };
}

const ctx = { namespace: "ml", name: "iris", revision: "new", stableRevision: "old", version: "iris-v2" };

describe("measureAnalysis", () => {
  it("measures the stable side as of stableAt (the guard's baseline before the switch), the new one now", async () => {
    const provider = fakeProvider({
      new: { kind: "value", value: 0.11 },
      old: { kind: "value", value: 0.1 },
    });
    const switchedAt = new Date("2026-01-01T00:00:00Z");
    const metric = {
      name: "p99",
      builtin: "latencyP99" as const,
      maxRatioToStable: 1.2,
      noData: "Inconclusive" as const,
    };
    const [result] = await measureAnalysis(
      provider,
      { interval: "1m", metrics: [metric] },
      { ...ctx, stableAt: switchedAt },
    );
    const byRevision = provider.queries.map((q, i) => [/revision="([^"]+)"/.exec(q)?.[1], provider.times[i]]);
    expect(byRevision).toEqual(
      expect.arrayContaining([
        ["new", undefined],
        ["old", switchedAt],
      ]),
    );
    expect(result?.phase).toBe("Successful");
  });

  it("queries the new revision, and stable only for ratio metrics", async () => {
    const provider = fakeProvider({ new: { kind: "value", value: 0.3 }, old: { kind: "value", value: 0.2 } });
    const results = await measureAnalysis(
      provider,
      {
        interval: "1m",
        metrics: [
          { name: "errors", builtin: "errorRate", max: 0.5, noData: "Inconclusive" },
          { name: "p99", builtin: "latencyP99", maxRatioToStable: 1.2, noData: "Inconclusive" },
        ],
      },
      ctx,
    );
    expect(provider.queries).toHaveLength(3);
    expect(provider.queries.every((q) => q.includes("[60s]"))).toBe(true);
    expect(results).toEqual([
      { metric: "errors", phase: "Successful", value: 0.3, message: "errors = 0.3 (max 0.5)" },
      {
        metric: "p99",
        phase: "Failed",
        value: 0.3,
        stableValue: 0.2,
        message: "p99 = 0.3s is 1.5x stable 0.2s > max ratio 1.2",
      },
    ]);
  });

  it("renders user queries for each side, with the stable version", async () => {
    const provider = fakeProvider({ new: { kind: "value", value: 1 }, old: { kind: "value", value: 1 } });
    await measureAnalysis(
      provider,
      {
        interval: "30s",
        metrics: [
          {
            name: "score",
            query: 'avg(s{revision="{{revision}}",version="{{version}}"}[{{interval}}])',
            maxRatioToStable: 1.1,
            noData: "Inconclusive",
          },
        ],
      },
      { ...ctx, stableVersion: "iris-v1" },
    );
    expect(provider.queries.sort()).toEqual([
      'avg(s{revision="new",version="iris-v2"}[30s])',
      'avg(s{revision="old",version="iris-v1"}[30s])',
    ]);
  });

  it("turns a query that cannot be rendered into an Error, without asking Prometheus", async () => {
    const provider = fakeProvider({});
    const [result] = await measureAnalysis(
      provider,
      {
        interval: "1m",
        metrics: [{ name: "bad", query: 'x{pod="{{pod}}"}', max: 1, noData: "Inconclusive" }],
      },
      ctx,
    );
    expect(result).toMatchObject({
      phase: "Error",
      message: expect.stringMatching(/^bad: query failed: cannot render/),
    });
    expect(provider.queries).toEqual([]);
  });

  it("explains a ratio without a stable revision (first rollout)", async () => {
    const provider = fakeProvider({ new: { kind: "value", value: 0.3 } });
    const [result] = await measureAnalysis(
      provider,
      {
        interval: "1m",
        metrics: [{ name: "p99", builtin: "latencyP99", maxRatioToStable: 1.2, noData: "Inconclusive" }],
      },
      { ...ctx, stableRevision: undefined },
    );
    expect(result).toMatchObject({
      phase: "Inconclusive",
      message: expect.stringContaining("no stable revision"),
    });
    expect(provider.queries).toHaveLength(1);
  });

  it("turns a throwing provider into an Error", async () => {
    const provider: MetricProvider = {
      query: () => Promise.reject(new Error("boom")),
    };
    const [result] = await measureAnalysis(
      provider,
      {
        interval: "1m",
        metrics: [{ name: "errors", builtin: "errorRate", max: 0.1, noData: "Inconclusive" }],
      },
      ctx,
    );
    expect(result).toEqual({
      metric: "errors",
      phase: "Error",
      message: "errors: query failed: metric provider failed: boom",
    });
  });

  it("runs the queries in parallel", async () => {
    let inFlight = 0;
    let most = 0;
    const provider: MetricProvider = {
      async query() {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 20));
        inFlight--;
        return { kind: "value", value: 1 };
      },
    };
    const metrics = ["a", "b", "c"].map((name) => ({
      name,
      builtin: "requestRate" as const,
      maxRatioToStable: 2,
      noData: "Inconclusive" as const,
    }));
    await measureAnalysis(provider, { interval: "1m", metrics }, ctx);
    expect(most).toBe(6);
  });
});

describe("recordAnalysisMetricValues", () => {
  const series = {
    namespace: "ml",
    deployment: "iris",
    analysis: "step-1",
    revision: "new",
    stableRevision: "old",
  };
  const labels = (revision: string) => ({
    namespace: "ml",
    deployment: "iris",
    analysis: "step-1",
    metric: "p99",
    revision,
  });

  it("sets the value of both revisions and removes series without a value", async () => {
    const registry = createRegistry({ defaultMetrics: false });
    recordAnalysisMetricValues(registry, series, [
      { metric: "p99", phase: "Successful", value: 0.3, stableValue: 0.25, message: "" },
    ]);
    expect(await metricValue(registry, ANALYSIS_METRIC_VALUE, labels("new"))).toBe(0.3);
    expect(await metricValue(registry, ANALYSIS_METRIC_VALUE, labels("old"))).toBe(0.25);

    recordAnalysisMetricValues(registry, series, [
      { metric: "p99", phase: "Inconclusive", message: "no data" },
    ]);
    expect(await metricValue(registry, ANALYSIS_METRIC_VALUE, labels("new"))).toBeUndefined();
    expect(await metricValue(registry, ANALYSIS_METRIC_VALUE, labels("old"))).toBeUndefined();
  });
});
