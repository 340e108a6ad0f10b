import { setTimeout as delay } from "node:timers/promises";

/**
 * The longest delay a timer holds (a signed 32-bit millisecond count, about
 * 24.8 days). Node turns a longer one into 1 ms, so an unclamped requeue of a
 * long pause would spin; callers arm at most this and re-arm for the rest.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** `ms` as a delay a timer can hold: at least 0, at most MAX_TIMER_DELAY_MS. */
export function timerDelay(ms: number): number {
  return Math.min(Math.max(0, ms), MAX_TIMER_DELAY_MS);
}

/** Sleeps for `ms`, resolving early (never rejecting) when `signal` aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return;
  try {
    await delay(ms, undefined, { signal });
  } catch (err) {
    if (!signal?.aborted) throw err;
  }
}

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half is
 * random, so many clients that failed together do not retry in lock step.
 */
export function backoffDelay(
  failures: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.max(0, failures - 1));
  return exp / 2 + (random() * exp) / 2;
}

/** Kubernetes MicroTime wants exactly six fractional digits. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
