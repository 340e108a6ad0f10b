import { describe, expect, it } from "vitest";
import { type EpisodeState, stepEpisode } from "./episode.ts";
import type { Verdict } from "./evaluate.ts";

/** Runs verdicts one per minute and returns the minutes at which actions ran. */
function actionsFor(verdicts: Verdict[]): number[] {
  let state: EpisodeState = {};
  const acted: number[] = [];
  verdicts.forEach((v, minute) => {
    const now = `2026-01-01T00:${String(minute).padStart(2, "0")}:00Z`;
    const step = stepEpisode(state, v, now);
    if (step.act) acted.push(minute);
    state = { criticalSince: step.criticalSince, lastActionTime: step.act ? now : state.lastActionTime };
  });
  return acted;
}

describe("stepEpisode", () => {
  it("acts once on the first Critical, not on every evaluation", () => {
    expect(actionsFor(["NoDrift", "Critical", "Critical", "Critical"])).toEqual([1]);
  });

  it("keeps the episode through Warning, InsufficientData and Unknown", () => {
    expect(actionsFor(["Critical", "Warning", "Unknown", "InsufficientData", "Critical"])).toEqual([0]);
  });

  it("starts a new episode after NoDrift", () => {
    expect(actionsFor(["Critical", "NoDrift", "Critical", "Critical"])).toEqual([0, 2]);
  });

  it("never acts without Critical", () => {
    expect(actionsFor(["Warning", "Unknown", "InsufficientData", "NoDrift"])).toEqual([]);
  });
});
