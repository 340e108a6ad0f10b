import { describe, expect, it } from "vitest";
import { slackPayload, suggestedCommand, webhookPayload } from "./format.ts";
import type { Notification } from "./transitions.ts";

const rolledBack: Notification = {
  event: "RolledBack",
  key: "ml/iris/RolledBack/2026-01-01T00:10:00Z/rev2",
  kind: "ModelDeployment",
  namespace: "ml",
  name: "iris",
  modelDeployment: "iris",
  version: "iris-v2",
  previousVersion: "iris-v1",
  reason: "analysis step-1 failed: error-rate 0.2 > 0.05 <b>",
  time: "2026-01-01T00:10:00Z",
};

describe("webhookPayload", () => {
  it("is the documented document, absent versions as null", () => {
    expect(webhookPayload(rolledBack)).toEqual({
      kind: "ModelDeployment",
      event: "RolledBack",
      key: rolledBack.key,
      namespace: "ml",
      name: "iris",
      modelDeployment: "iris",
      version: "iris-v2",
      previousVersion: "iris-v1",
      reason: rolledBack.reason,
      time: "2026-01-01T00:10:00Z",
    });
    const first = { ...rolledBack, event: "RolloutStarted" as const, previousVersion: undefined };
    expect(webhookPayload(first).previousVersion).toBeNull();
  });
});

describe("slackPayload", () => {
  it("says where, which versions, why, and what to run", () => {
    const { text, blocks } = slackPayload(rolledBack);
    expect(text).toContain("ModelDeployment ml/iris: iris-v2 rolled back; iris-v1 serves");
    expect(text).toContain("error-rate 0.2 > 0.05");
    expect(text).toContain("kubectl modelops explain iris -n ml");
    const json = JSON.stringify(blocks);
    expect(json).toContain("*Version*\\niris-v2");
    expect(json).toContain("*Previous*\\niris-v1");
    expect(json).toContain("0.05 &lt;b&gt;"); // the engine's text is not markup
    expect(json).toContain(`key ${rolledBack.key}`);
  });

  it("keeps a long reason inside Slack's section limit", () => {
    const { blocks } = slackPayload({ ...rolledBack, reason: "x".repeat(10_000) });
    for (const b of blocks as { text?: { text: string } }[])
      expect((b.text?.text ?? "").length).toBeLessThan(3000);
  });
});

describe("suggestedCommand", () => {
  it.each([
    ["RolloutStarted", "kubectl modelops status iris -n ml --watch"],
    ["RolloutPaused", "kubectl modelops explain iris -n ml  # then: kubectl modelops promote iris -n ml"],
    ["Promoted", "kubectl modelops history iris -n ml"],
    ["RolledBack", "kubectl modelops explain iris -n ml"],
  ] as const)("%s: %s", (event, command) => {
    expect(suggestedCommand({ ...rolledBack, event })).toBe(command);
  });

  it("DriftCritical: the drift report, and the undo when there is a version to return to", () => {
    const drift: Notification = {
      ...rolledBack,
      event: "DriftCritical",
      kind: "DriftMonitor",
      name: "iris-drift",
    };
    expect(suggestedCommand(drift)).toBe(
      "kubectl modelops drift iris-drift -n ml  # roll back: kubectl modelops undo iris -n ml",
    );
    expect(suggestedCommand({ ...drift, previousVersion: undefined })).toBe(
      "kubectl modelops drift iris-drift -n ml",
    );
  });
});
