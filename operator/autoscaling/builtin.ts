// The builtin autoscaler's decision, in the spirit of Knative's: a stable
// window decides in steady load; a short panic window catches bursts, and
// while it panics the autoscaler only scales up. Pure.
//
// Reasons carry whole pod counts, never the measured totals: they go into
// status, and a total that moves a little at every evaluation would make
// every evaluation a status write (the totals are gauges instead).
import type { MetricResult } from "../analysis/provider.ts";

/** Knative's default: a burst is when the short window asks for twice the pods running. */
export const PANIC_THRESHOLD = 2;

export type BuiltinInput = {
  current: number;
  min: number;
  max: number;
  /** Target value per pod (requests per second, or requests in flight). */
  targetPerPod: number;
  /** Client load over all pods of the ModelDeployment; undefined when Prometheus gave none (see loadOf). */
  stableTotal: number | undefined;
  panicTotal: number | undefined;
  nowMs: number;
  stableWindowMs: number;
  panicUntilMs: number | undefined;
  lastScaleMs: number | undefined;
  /** Scale down only this long after the last change (default: the stable window). */
  scaleDownDelayMs?: number | undefined;
  maxUpStep?: number | undefined;
  maxDownStep?: number | undefined;
};

export type BuiltinDecision = { desired: number; panicUntilMs: number | undefined; reason: string };

/**
 * The load a query result stands for. No data (an empty result, NaN) and a
 * failed query are both "unknown", never 0: read as 0 they would scale a
 * serving ModelDeployment down to minReplicas whenever Prometheus loses the
 * series or is down. As Kubernetes' HPA does, the autoscaler then holds.
 */
export function loadOf(result: MetricResult | undefined): Load {
  if (!result) return { value: undefined, missing: "no Prometheus configured" };
  if (result.kind === "value") return { value: result.value };
  return { value: undefined, missing: result.kind === "noData" ? result.reason : result.message };
}

export type Load = { value: number } | { value: undefined; missing: string };

export function builtinDecision(i: BuiltinInput): BuiltinDecision {
  let panicUntilMs = i.panicUntilMs !== undefined && i.panicUntilMs > i.nowMs ? i.panicUntilMs : undefined;
  if (i.stableTotal === undefined) {
    const desired = clamp(i.current, i);
    return { desired, panicUntilMs, reason: `holding ${desired} pod(s) until there is data` };
  }
  const stableWant = Math.ceil(i.stableTotal / i.targetPerPod);
  const panicWant = i.panicTotal === undefined ? 0 : Math.ceil(i.panicTotal / i.targetPerPod);
  // A panic starts (or lasts longer) only when it can add pods: at maxReplicas
  // it would change nothing but panicUntil, a status write at every evaluation.
  if (panicWant >= PANIC_THRESHOLD * Math.max(i.current, 1) && panicWant > i.current && i.current < i.max) {
    panicUntilMs = i.nowMs + i.stableWindowMs;
  }
  let desired: number;
  let reason: string;
  if (panicUntilMs !== undefined) {
    desired = Math.max(i.current, panicWant, stableWant);
    reason = `panic: the short window needs ${panicWant} pod(s); no scale-down until the burst passes`;
  } else {
    desired = stableWant;
    reason = `the stable window needs ${stableWant} pod(s) at ${i.targetPerPod} per pod`;
  }
  desired = limitStep(desired, i);
  if (desired < i.current && recentlyScaled(i)) {
    return {
      desired: i.current,
      panicUntilMs,
      reason: `${reason}; holding ${i.current} until the scale-down delay passes`,
    };
  }
  return { desired: clamp(desired, i), panicUntilMs, reason };
}

function limitStep(desired: number, i: BuiltinInput): number {
  if (desired > i.current && i.maxUpStep) return Math.min(desired, i.current + i.maxUpStep);
  if (desired < i.current && i.maxDownStep) return Math.max(desired, i.current - i.maxDownStep);
  return desired;
}

function recentlyScaled(i: BuiltinInput): boolean {
  const delay = i.scaleDownDelayMs ?? i.stableWindowMs;
  return i.lastScaleMs !== undefined && i.nowMs - i.lastScaleMs < delay;
}

function clamp(n: number, i: { min: number; max: number }): number {
  return Math.min(i.max, Math.max(i.min, n));
}
