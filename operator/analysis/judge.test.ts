import { describe, expect, it } from "vitest";
import { formatNumber, type JudgedMetric, judgeMetric } from "./judge.ts";
import type { MetricResult } from "./provider.ts";

const ctx = { revision: "abc", stableRevision: "old", interval: "60s" };
const value = (v: number): MetricResult => ({ kind: "value", value: v });
const noData: MetricResult = { kind: "noData", reason: "the query returned no series" };
const nan: MetricResult = {
  kind: "noData",
  reason: "the query returned NaN (0/0: no requests in the window)",
};
const error: MetricResult = {
  kind: "error",
  message: "Prometheus unreachable at http://prom:9090: ECONNREFUSED",
};

const errorRate: JudgedMetric = { name: "error-rate", builtin: "errorRate", max: 0.05 };
const requests: JudgedMetric = { name: "request-rate", builtin: "requestRate", min: 1 };
const band: JudgedMetric = { name: "score", min: 0.2, max: 0.8 };
const p99Ratio: JudgedMetric = { name: "p99-latency", builtin: "latencyP99", maxRatioToStable: 1.2 };
const p99Both: JudgedMetric = { ...p99Ratio, max: 1 };

interface Row {
  case: string;
  metric: JudgedMetric;
  canary: MetricResult;
  stable?: MetricResult;
  context?: typeof ctx | { revision: string; interval: string };
  phase: string;
  message: string | RegExp;
  value?: number;
  stableValue?: number;
}

const rows: Row[] = [
  {
    case: "below max",
    metric: errorRate,
    canary: value(0.01),
    phase: "Successful",
    message: "error-rate = 0.01 (max 0.05)",
    value: 0.01,
  },
  {
    case: "equal to max passes",
    metric: errorRate,
    canary: value(0.05),
    phase: "Successful",
    message: /= 0.05 \(max 0.05\)/,
  },
  {
    case: "above max",
    metric: errorRate,
    canary: value(0.12),
    phase: "Failed",
    message: "error-rate = 0.12 > max 0.05",
    value: 0.12,
  },
  {
    case: "below min",
    metric: requests,
    canary: value(0.5),
    phase: "Failed",
    message: "request-rate = 0.5 req/s < min 1 req/s",
  },
  {
    case: "equal to min passes",
    metric: requests,
    canary: value(1),
    phase: "Successful",
    message: /1 req\/s \(min 1 req\/s\)/,
  },
  {
    case: "inside band",
    metric: band,
    canary: value(0.5),
    phase: "Successful",
    message: "score = 0.5 (min 0.2, max 0.8)",
  },
  { case: "above band", metric: band, canary: value(0.9), phase: "Failed", message: "score = 0.9 > max 0.8" },
  { case: "below band", metric: band, canary: value(0.1), phase: "Failed", message: "score = 0.1 < min 0.2" },
  {
    case: "four significant digits",
    metric: errorRate,
    canary: value(0.123456),
    phase: "Failed",
    message: "error-rate = 0.1235 > max 0.05",
  },
  {
    case: "no data, default policy",
    metric: { name: "p95-latency", builtin: "latencyP95", max: 0.5 },
    canary: noData,
    phase: "Inconclusive",
    message:
      "p95-latency has no data for revision abc: no requests reached it in the last 60s (is traffic reaching the canary?)",
  },
  {
    case: "NaN is no data",
    metric: errorRate,
    canary: nan,
    phase: "Inconclusive",
    message: /has no data for revision abc/,
  },
  {
    case: "no data, explicit Inconclusive",
    metric: { ...errorRate, noData: "Inconclusive" },
    canary: noData,
    phase: "Inconclusive",
    message: /no data/,
  },
  {
    case: "no data, Fail",
    metric: { ...errorRate, noData: "Fail" },
    canary: nan,
    phase: "Failed",
    message: /counted as failed \(noData: Fail\)$/,
  },
  {
    case: "no data, Pass",
    metric: { ...errorRate, noData: "Pass" },
    canary: noData,
    phase: "Successful",
    message: /counted as passed \(noData: Pass\)$/,
  },
  {
    case: "no data of a user query names the reason",
    metric: { name: "accuracy", min: 0.9 },
    canary: nan,
    phase: "Inconclusive",
    message:
      /accuracy has no data for revision abc: the query returned NaN .*does the query select revision abc\?/,
  },
  {
    case: "query error",
    metric: errorRate,
    canary: error,
    phase: "Error",
    message: "error-rate: query failed: Prometheus unreachable at http://prom:9090: ECONNREFUSED",
  },
  {
    case: "query error wins over the noData policy",
    metric: { ...errorRate, noData: "Fail" },
    canary: error,
    phase: "Error",
    message: /query failed/,
  },
  {
    case: "ratio within bound",
    metric: p99Ratio,
    canary: value(0.3),
    stable: value(0.27),
    phase: "Successful",
    message: "p99-latency = 0.3s is 1.111x stable 0.27s (max ratio 1.2)",
    value: 0.3,
    stableValue: 0.27,
  },
  {
    case: "ratio exactly at bound",
    metric: p99Ratio,
    canary: value(1.2),
    stable: value(1),
    phase: "Successful",
    message: /is 1.2x/,
  },
  {
    case: "ratio above bound",
    metric: p99Ratio,
    canary: value(0.5),
    stable: value(0.25),
    phase: "Failed",
    message: "p99-latency = 0.5s is 2x stable 0.25s > max ratio 1.2",
    stableValue: 0.25,
  },
  {
    case: "both zero is as good as stable",
    metric: p99Ratio,
    canary: value(0),
    stable: value(0),
    phase: "Successful",
    message: /is 1x stable 0s/,
  },
  {
    case: "above a zero stable",
    metric: p99Ratio,
    canary: value(0.1),
    stable: value(0),
    phase: "Failed",
    message: /infinitely many times stable 0s > max ratio 1.2/,
  },
  {
    case: "negative values",
    metric: { name: "delta", maxRatioToStable: 2 },
    canary: value(-1),
    stable: value(2),
    phase: "Inconclusive",
    message: /negative values/,
  },
  {
    case: "absolute bound fails before the ratio is looked at",
    metric: p99Both,
    canary: value(2),
    stable: error,
    phase: "Failed",
    message: "p99-latency = 2s > max 1s",
  },
  {
    case: "ratio and max both pass",
    metric: p99Both,
    canary: value(0.3),
    stable: value(0.3),
    phase: "Successful",
    message: /is 1x stable 0.3s \(max ratio 1.2\) \(max 1s\)/,
  },
  {
    case: "stable has no data",
    metric: p99Ratio,
    canary: value(0.3),
    stable: noData,
    phase: "Inconclusive",
    message:
      /p99-latency = 0.3s, but stable revision old has no data to compare with .*is it receiving traffic\?/,
    value: 0.3,
  },
  {
    case: "stable NaN",
    metric: p99Ratio,
    canary: value(0.3),
    stable: nan,
    phase: "Inconclusive",
    message: /no data to compare/,
  },
  {
    case: "stable no data with noData Fail is not the canary's fault",
    metric: { ...p99Ratio, noData: "Fail" },
    canary: value(0.3),
    stable: noData,
    phase: "Inconclusive",
    message: /no data to compare/,
  },
  {
    case: "stable no data with noData Pass",
    metric: { ...p99Ratio, noData: "Pass" },
    canary: value(0.3),
    stable: noData,
    phase: "Successful",
    message: /ratio not checked \(noData: Pass\)/,
  },
  {
    case: "stable query error",
    metric: p99Ratio,
    canary: value(0.3),
    stable: error,
    phase: "Error",
    message: /p99-latency: query for stable revision old failed: Prometheus unreachable/,
  },
  {
    case: "no stable revision",
    metric: p99Ratio,
    canary: value(0.3),
    context: { revision: "abc", interval: "60s" },
    phase: "Inconclusive",
    message: "p99-latency = 0.3s, but there is no stable revision to compare with",
  },
  {
    case: "stable not measured",
    metric: p99Ratio,
    canary: value(0.3),
    phase: "Inconclusive",
    message: /no stable revision to compare with/,
  },
];

describe("judgeMetric", () => {
  it.each(rows)("$case", (row) => {
    const judgement = judgeMetric(row.metric, row.canary, row.stable, row.context ?? ctx);
    expect(judgement.metric).toBe(row.metric.name);
    expect(judgement.phase).toBe(row.phase);
    if (typeof row.message === "string") expect(judgement.message).toBe(row.message);
    else expect(judgement.message).toMatch(row.message);
    if (row.value !== undefined) expect(judgement.value).toBe(row.value);
    if (row.stableValue !== undefined) expect(judgement.stableValue).toBe(row.stableValue);
  });

  it("reports no value when there was no data", () => {
    const judgement = judgeMetric(errorRate, noData, undefined, ctx);
    expect(judgement.value).toBeUndefined();
    expect(judgement.stableValue).toBeUndefined();
  });
});

describe("formatNumber", () => {
  it.each([
    [0.05, "0.05"],
    [1234567, "1235000"],
    [0.000123456, "0.0001235"],
    [3, "3"],
    [Number.POSITIVE_INFINITY, "Infinity"],
  ])("%s → %s", (input, expected) => {
    expect(formatNumber(input)).toBe(expected);
  });
});
