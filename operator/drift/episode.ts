// Drift episodes: actions (rollback, retraining, webhook) run once per
// episode, not at every evaluation. An episode starts with the first Critical
// verdict and ends only at NoDrift; Warning, InsufficientData or Unknown
// (Prometheus down) in between keep it open, so a flapping verdict or a
// Prometheus outage does not fire the actions again.
import type { Verdict } from "./evaluate.ts";

export interface EpisodeState {
  criticalSince?: string | undefined;
  lastActionTime?: string | undefined;
}

export interface EpisodeStep {
  criticalSince: string | undefined;
  /** True when this evaluation should run the actions. */
  act: boolean;
}

export function stepEpisode(previous: EpisodeState, verdict: Verdict, now: string): EpisodeStep {
  if (verdict === "NoDrift") return { criticalSince: undefined, act: false };
  if (verdict !== "Critical") return { criticalSince: previous.criticalSince, act: false };
  const criticalSince = previous.criticalSince ?? now;
  const acted = previous.lastActionTime !== undefined && previous.lastActionTime >= criticalSince;
  return { criticalSince, act: !acted };
}
