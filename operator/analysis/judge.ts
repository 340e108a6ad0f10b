// Judgement of one measurement of one metric: pure, so every bound, policy
// and corner (no data, NaN, a stable revision without traffic) is a table
// row in a test. Messages are written for the SRE reading a condition at 3am.
import type { AnalysisMetric } from "../api/index.ts";
import type { MetricResult } from "./provider.ts";

/**
 * Error is not a verdict on the model: the query failed (Prometheus
 * unreachable, bad PromQL). It counts toward the consecutive-error limit,
 * never toward failures, so a flaky Prometheus does not roll a good model back.
 */
export type JudgementPhase = "Successful" | "Failed" | "Inconclusive" | "Error";

export interface MetricJudgement {
  metric: string;
  phase: JudgementPhase;
  value?: number;
  stableValue?: number;
  message: string;
}

/** The metric fields judgement reads; noData optional so unparsed specs work too. */
export type JudgedMetric = Pick<AnalysisMetric, "name" | "builtin" | "min" | "max" | "maxRatioToStable"> & {
  noData?: AnalysisMetric["noData"] | undefined;
};

export interface JudgeContext {
  revision: string;
  stableRevision?: string | undefined;
  /** The measurement window as written in the query, e.g. "60s". */
  interval: string;
}

export function judgeMetric(
  metric: JudgedMetric,
  canary: MetricResult,
  stable: MetricResult | undefined,
  ctx: JudgeContext,
): MetricJudgement {
  const name = metric.name;
  if (canary.kind === "error")
    return { metric: name, phase: "Error", message: `${name}: query failed: ${canary.message}` };
  if (canary.kind === "noData") return judgeNoData(metric, canary.reason, ctx);
  const value = canary.value;
  const shown = `${name} = ${formatValue(metric, value)}`;
  if (metric.max !== undefined && value > metric.max) {
    return {
      metric: name,
      phase: "Failed",
      value,
      message: `${shown} > max ${formatValue(metric, metric.max)}`,
    };
  }
  if (metric.min !== undefined && value < metric.min) {
    return {
      metric: name,
      phase: "Failed",
      value,
      message: `${shown} < min ${formatValue(metric, metric.min)}`,
    };
  }
  if (metric.maxRatioToStable === undefined) {
    return { metric: name, phase: "Successful", value, message: `${shown}${absoluteBounds(metric)}` };
  }
  return judgeRatio(metric, metric.maxRatioToStable, value, stable, ctx);
}

function judgeNoData(metric: JudgedMetric, reason: string, ctx: JudgeContext): MetricJudgement {
  const why = metric.builtin
    ? `no requests reached it in the last ${ctx.interval} (is traffic reaching the canary?)`
    : `${reason} (is traffic reaching the canary, and does the query select revision ${ctx.revision}?)`;
  const message = `${metric.name} has no data for revision ${ctx.revision}: ${why}`;
  switch (metric.noData ?? "Inconclusive") {
    case "Fail":
      return {
        metric: metric.name,
        phase: "Failed",
        message: `${message}; counted as failed (noData: Fail)`,
      };
    case "Pass":
      return {
        metric: metric.name,
        phase: "Successful",
        message: `${message}; counted as passed (noData: Pass)`,
      };
    default:
      return { metric: metric.name, phase: "Inconclusive", message };
  }
}

function judgeRatio(
  metric: JudgedMetric,
  maxRatio: number,
  value: number,
  stable: MetricResult | undefined,
  ctx: JudgeContext,
): MetricJudgement {
  const name = metric.name;
  const shown = `${name} = ${formatValue(metric, value)}`;
  const stableName = ctx.stableRevision ? `stable revision ${ctx.stableRevision}` : "the stable revision";
  if (ctx.stableRevision === undefined || stable === undefined) {
    return stableMissing(metric, value, `${shown}, but there is no stable revision to compare with`);
  }
  if (stable.kind === "error") {
    return {
      metric: name,
      phase: "Error",
      value,
      message: `${name}: query for ${stableName} failed: ${stable.message}`,
    };
  }
  if (stable.kind === "noData") {
    return stableMissing(
      metric,
      value,
      `${shown}, but ${stableName} has no data to compare with (${stable.reason}; is it receiving traffic?)`,
    );
  }
  const stableValue = stable.value;
  const against = `stable ${formatValue(metric, stableValue)}`;
  if (value < 0 || stableValue < 0) {
    return {
      metric: name,
      phase: "Inconclusive",
      value,
      stableValue,
      message: `${shown} vs ${against}: a ratio of negative values means nothing; use min/max for this metric`,
    };
  }
  // Both zero is "as good as stable"; anything above a zero stable is infinitely worse.
  const ratio = stableValue === 0 ? (value === 0 ? 1 : Number.POSITIVE_INFINITY) : value / stableValue;
  const ratioText = Number.isFinite(ratio) ? `${formatNumber(ratio)}x` : "infinitely many times";
  if (ratio > maxRatio) {
    return {
      metric: name,
      phase: "Failed",
      value,
      stableValue,
      message: `${shown} is ${ratioText} ${against} > max ratio ${formatNumber(maxRatio)}`,
    };
  }
  return {
    metric: name,
    phase: "Successful",
    value,
    stableValue,
    message: `${shown} is ${ratioText} ${against} (max ratio ${formatNumber(maxRatio)})${absoluteBounds(metric)}`,
  };
}

// Stable without data is not the new revision's fault, so noData: Fail does
// not apply to it; noData: Pass does (the user said missing data is fine).
function stableMissing(metric: JudgedMetric, value: number, message: string): MetricJudgement {
  if (metric.noData === "Pass") {
    return {
      metric: metric.name,
      phase: "Successful",
      value,
      message: `${message}; ratio not checked (noData: Pass)`,
    };
  }
  return { metric: metric.name, phase: "Inconclusive", value, message };
}

function absoluteBounds(metric: JudgedMetric): string {
  const bounds: string[] = [];
  if (metric.min !== undefined) bounds.push(`min ${formatValue(metric, metric.min)}`);
  if (metric.max !== undefined) bounds.push(`max ${formatValue(metric, metric.max)}`);
  return bounds.length > 0 ? ` (${bounds.join(", ")})` : "";
}

/** Four significant digits: enough to compare with a threshold, short enough for a condition. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return String(Number(value.toPrecision(4)));
}

function formatValue(metric: JudgedMetric, value: number): string {
  const number = formatNumber(value);
  if (metric.builtin?.startsWith("latency")) return `${number}s`;
  if (metric.builtin === "requestRate") return `${number} req/s`;
  return number;
}
