import { describe, expect, it } from "vitest";
import type { RolloutDecision, Status } from "../../rollout/types.ts";
import { modelDeployment, modelVersion } from "../../testing/fixtures.ts";
import { composeStatus } from "./status.ts";

/** The status composed from an engine decision that reports `status`, with nothing else going on. */
function compose(status: Status, previous?: Status) {
  const mdep = modelDeployment("iris-v1", previous);
  return composeStatus({
    mdep,
    lookup: { state: "ready", version: modelVersion("iris-v1") },
    decision: { status } as RolloutDecision,
    revisions: new Map(),
    routerProblem: undefined,
    scaling: { status: undefined, problem: undefined },
    gates: undefined,
    fetching: [],
    now: new Date("2026-01-01T00:00:00Z"),
  });
}

describe("status.url", () => {
  it("is the client Service's in-cluster address once a revision serves", () => {
    const status = compose({ stableRevision: "abc", stableVersion: "iris-v1" });
    expect(status.url).toBe("http://iris.ml.svc.cluster.local");
  });

  it("is absent while nothing serves (no client Service yet), even if an old status had it", () => {
    expect(compose({ phase: "Pending", url: "http://iris.ml.svc.cluster.local" })).not.toHaveProperty("url");
  });
});
