import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeApiServer } from "../testing/fake-apiserver.ts";
import { KubeApiError, KubeClient } from "./kube.ts";
import {
  describeError,
  RECONCILE_FAILED_REASON,
  reportReconcileError,
  withReconciled,
} from "./reconcile-errors.ts";
import type { KubeObject } from "./types.ts";

describe("describeError", () => {
  it("keeps the apiserver's reason and message", () => {
    const err = new KubeApiError(403, "Forbidden", 'deployments.apps "x" is forbidden: exceeded quota: q');
    expect(describeError(err)).toEqual({
      reason: "Forbidden",
      message: 'deployments.apps "x" is forbidden: exceeded quota: q',
    });
  });

  it("gives a valid condition reason for anything else", () => {
    expect(describeError(new KubeApiError(500, "Internal Server Error", "boom")).reason).toBe(
      "InternalServerError",
    );
    expect(describeError(new KubeApiError(0, "", "socket hang up")).reason).toBe("ReconcileError");
    expect(describeError(new KubeApiError(500, "Unknown", "typed patch")).reason).toBe("ReconcileError");
    expect(describeError(new Error("bug"))).toEqual({ reason: "ReconcileError", message: "bug" });
  });
});

describe("reportReconcileError", () => {
  let fake: FakeApiServer;
  let kube: KubeClient;
  const events: { reason: string; message: string }[] = [];
  const now = new Date("2026-01-01T00:00:00Z");
  beforeEach(async () => {
    fake = await new FakeApiServer().start();
    kube = new KubeClient(fake.kubeConfig());
    events.length = 0;
  });
  afterEach(async () => fake.stop());

  const deps = () => ({
    kube,
    events: {
      event: (_o: KubeObject, _t: "Warning", reason: string, message: string) =>
        void events.push({ reason, message }),
    },
    fieldManager: "m",
    now: () => now,
  });

  it("adds Reconciled=False to the status as it was, and records a Warning Event", async () => {
    const path = "/apis/modelops.io/v1alpha1/namespaces/n/modeldeployments/m";
    const obj = fake.put(path, {
      apiVersion: "modelops.io/v1alpha1",
      kind: "ModelDeployment",
      metadata: { name: "m", namespace: "n" },
      status: { phase: "Available", conditions: withReconciled([], 1, now) },
    });
    const err = new KubeApiError(403, "Forbidden", "exceeded quota: q");
    await reportReconcileError(deps(), obj, err);
    const reported = fake.getObject(path);
    expect(reported?.status).toEqual({
      phase: "Available",
      conditions: [
        {
          type: "Reconciled",
          status: "False",
          reason: "Forbidden",
          message: "exceeded quota: q",
          lastTransitionTime: "2026-01-01T00:00:00Z",
          observedGeneration: obj.metadata?.generation, // the generation that failed
        },
      ],
    });
    expect(events).toEqual([{ reason: RECONCILE_FAILED_REASON, message: "exceeded quota: q" }]);

    // The same error again: an Event (folded by the recorder), no status write.
    const applies = kube.requestCounts.apply;
    await reportReconcileError(deps(), reported as KubeObject, err);
    expect(kube.requestCounts.apply).toBe(applies);
    expect(events).toHaveLength(2);
  });
});
