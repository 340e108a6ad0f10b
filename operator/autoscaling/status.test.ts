import { describe, expect, it } from "vitest";
import { type AutoscalingStatus, statusToWrite } from "./status.ts";

const previous: AutoscalingStatus = {
  provider: "builtin",
  desiredReplicas: 3,
  currentReplicas: 3,
  metrics: [{ type: "rps", value: 25.0031, target: 10 }],
  message: "rps: the stable window needs 3 pod(s) at 10 per pod",
  lastScaleTime: "2025-01-01T00:00:00Z",
};

describe("statusToWrite", () => {
  it.each<[string, Partial<AutoscalingStatus>, "previous" | "next"]>([
    ["only the measured value moved", { metrics: [{ type: "rps", value: 24.9987, target: 10 }] }, "previous"],
    ["nothing moved", {}, "previous"],
    ["the size changed", { desiredReplicas: 4, metrics: [{ type: "rps", value: 31, target: 10 }] }, "next"],
    ["someone scaled by hand", { currentReplicas: 5 }, "next"],
    ["the reason changed", { message: "rps: ...; holding 3 until the scale-down delay passes" }, "next"],
    ["a burst started", { panicUntil: "2025-01-01T00:01:00Z" }, "next"],
    ["the data went away", { metrics: [{ type: "rps", target: 10 }] }, "next"],
    ["the target changed", { metrics: [{ type: "rps", value: 25.0031, target: 20 }] }, "next"],
  ])("%s", (_, change, expected) => {
    const next = { ...previous, ...change };
    expect(statusToWrite(previous, next)).toBe(expected === "previous" ? previous : next);
  });

  it("writes the first status", () => {
    expect(statusToWrite(undefined, previous)).toBe(previous);
  });
});
