import { describe, expect, it } from "vitest";
import { type ObservedRevision, planModelDeployment } from "./deployment-plan.ts";
import { modelDeployment, modelVersion } from "./fixtures.ts";
import { revisionHash } from "./workload.ts";

const now = new Date("2026-01-01T00:00:00Z");

function observed(revision: string, versionName: string, ready: number, replicas = ready): ObservedRevision {
  return {
    name: `iris-${revision}`,
    revision,
    versionName,
    replicas,
    readyReplicas: ready,
    updatedReplicas: replicas,
    deadlineExceeded: false,
  };
}

function serviceRevision(plan: ReturnType<typeof planModelDeployment>): string | undefined {
  const svc = plan.apply.find((o) => o.kind === "Service") as
    | { spec: { selector: Record<string, string> } }
    | undefined;
  return svc?.spec.selector["modelops.io/revision"];
}

describe("planModelDeployment", () => {
  const v1 = modelVersion("iris-v1");
  const v2 = modelVersion("iris-v2");

  it("creates the first revision and routes the Service to it at once", () => {
    const mdep = modelDeployment("iris-v1");
    const plan = planModelDeployment(mdep, { state: "ready", version: v1 }, [], now);
    const rev = revisionHash(mdep, v1);
    expect(plan.apply.map((o) => o.kind)).toEqual(["Deployment", "Service"]);
    expect(serviceRevision(plan)).toBe(rev);
    expect(plan.status.phase).toBe("Progressing");
    expect(plan.events.map((e) => e.reason)).toContain("RevisionCreated");
  });

  it("is Available when the serving revision has all replicas ready", () => {
    const mdep = modelDeployment("iris-v1");
    const rev = revisionHash(mdep, v1);
    const plan = planModelDeployment(
      mdep,
      { state: "ready", version: v1 },
      [observed(rev, "iris-v1", 3)],
      now,
    );
    expect(plan.status.phase).toBe("Available");
    expect(plan.status.readyReplicas).toBe(3);
    expect(plan.status.stableVersion).toBe("iris-v1");
    expect(plan.status.selector).toBe("modelops.io/deployment=iris");
    expect(plan.status.conditions?.find((c) => c.type === "Available")?.status).toBe("True");
  });

  it("keeps serving the old revision until the new one is fully ready", () => {
    const mdep1 = modelDeployment("iris-v1");
    const old = revisionHash(mdep1, v1);
    const mdep = modelDeployment("iris-v2", {
      stableRevision: old,
      stableVersion: "iris-v1",
      phase: "Available",
    });
    const next = revisionHash(mdep, v2);
    const halfway = planModelDeployment(
      mdep,
      { state: "ready", version: v2 },
      [observed(old, "iris-v1", 3), observed(next, "iris-v2", 2, 3)],
      now,
    );
    expect(serviceRevision(halfway)).toBe(old);
    expect(halfway.deleteDeployments).toEqual([]);
    expect(halfway.status.phase).toBe("Progressing");

    const done = planModelDeployment(
      mdep,
      { state: "ready", version: v2 },
      [observed(old, "iris-v1", 3), observed(next, "iris-v2", 3)],
      now,
    );
    expect(serviceRevision(done)).toBe(next);
    expect(done.deleteDeployments).toEqual([`iris-${old}`]);
    expect(done.status.stableVersion).toBe("iris-v2");
  });

  it("reports a missing ModelVersion and keeps what already serves", () => {
    const mdep1 = modelDeployment("iris-v1");
    const old = revisionHash(mdep1, v1);
    const mdep = modelDeployment("iris-v9", {
      stableRevision: old,
      stableVersion: "iris-v1",
      phase: "Available",
    });
    const plan = planModelDeployment(
      mdep,
      { state: "missing", name: "iris-v9" },
      [observed(old, "iris-v1", 3)],
      now,
    );
    expect(plan.deleteDeployments).toEqual([]);
    expect(serviceRevision(plan)).toBe(old);
    expect(plan.status.phase).toBe("Degraded");
    const cond = plan.status.conditions?.find((c) => c.type === "ModelVersionReady");
    expect(cond?.reason).toBe("ModelVersionNotFound");
    expect(cond?.message).toContain("iris-v9");
    expect(plan.events.some((e) => e.type === "Warning" && e.reason === "ModelVersionNotFound")).toBe(true);
  });

  it("is Pending with nothing to apply when the version is missing and nothing serves", () => {
    const plan = planModelDeployment(modelDeployment("nope"), { state: "missing", name: "nope" }, [], now);
    expect(plan.apply).toEqual([]);
    expect(plan.status.phase).toBe("Pending");
  });

  it("does not repeat the missing-version warning once reported", () => {
    const mdep = modelDeployment("nope");
    const first = planModelDeployment(mdep, { state: "missing", name: "nope" }, [], now);
    const second = planModelDeployment(
      { ...mdep, status: first.status },
      { state: "missing", name: "nope" },
      [],
      now,
    );
    expect(second.events).toEqual([]);
    expect(second.status).toEqual(first.status);
  });

  it("reports Degraded when the new revision exceeds its progress deadline", () => {
    const mdep = modelDeployment("iris-v1");
    const rev = revisionHash(mdep, v1);
    const stuck = { ...observed(rev, "iris-v1", 0, 3), deadlineExceeded: true };
    const plan = planModelDeployment(mdep, { state: "ready", version: v1 }, [stuck], now);
    expect(plan.status.phase).toBe("Degraded");
    expect(plan.status.conditions?.find((c) => c.type === "Progressing")?.reason).toBe(
      "ProgressDeadlineExceeded",
    );
  });

  it("gives the same revision for a replica change and a new one for a template change", () => {
    const a = modelDeployment("iris-v1");
    const scaled = { ...a, spec: { ...a.spec, replicas: 7 } };
    const templated = { ...a, spec: { ...a.spec, template: { env: [{ name: "X", value: "1" }] } } };
    expect(revisionHash(scaled, v1)).toBe(revisionHash(a, v1));
    expect(revisionHash(templated, v1)).not.toBe(revisionHash(a, v1));
  });
});
