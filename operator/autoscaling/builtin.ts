// The builtin autoscaler's decision, in the spirit of Knative's: a stable
// window decides in steady load; a short panic window catches bursts, and
// while it panics the autoscaler only scales up. Pure.

/** Knative's default: a burst is when the short window asks for twice the pods running. */
export const PANIC_THRESHOLD = 2;

export type BuiltinInput = {
  current: number;
  min: number;
  max: number;
  /** Target value per pod (requests per second, or requests in flight). */
  targetPerPod: number;
  /** Totals over all pods of the ModelDeployment; undefined when Prometheus had no data. */
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

export function builtinDecision(i: BuiltinInput): BuiltinDecision {
  if (i.stableTotal === undefined) {
    return {
      desired: clamp(i.current, i),
      panicUntilMs: i.panicUntilMs,
      reason: "no data: keeping the current size",
    };
  }
  const stableWant = Math.ceil(i.stableTotal / i.targetPerPod);
  const panicWant = i.panicTotal === undefined ? 0 : Math.ceil(i.panicTotal / i.targetPerPod);
  let panicUntilMs = i.panicUntilMs !== undefined && i.panicUntilMs > i.nowMs ? i.panicUntilMs : undefined;
  if (panicWant >= PANIC_THRESHOLD * Math.max(i.current, 1) && panicWant > i.current) {
    panicUntilMs = i.nowMs + i.stableWindowMs;
  }
  let desired: number;
  let reason: string;
  if (panicUntilMs !== undefined) {
    desired = Math.max(i.current, panicWant, stableWant);
    reason = `panic: ${fmt(i.panicTotal)} over the short window needs ${panicWant} pod(s); no scale-down until the burst passes`;
  } else {
    desired = stableWant;
    reason = `${fmt(i.stableTotal)} over the stable window at ${i.targetPerPod} per pod needs ${stableWant} pod(s)`;
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

function fmt(n: number | undefined): string {
  return n === undefined ? "no data" : `${Math.round(n * 100) / 100}`;
}
