import { describe, expect, it } from "vitest";
import { modelDeploymentSpecSchema } from "../api/index.ts";
import { renderDrift, renderExplain } from "./explain.ts";
import { type Mdep, renderHistory, renderList, renderStatus, table } from "./render.ts";

// Parsed as the apiserver would default it, so the plugin sees what it reads live.
const spec = modelDeploymentSpecSchema.parse({
  modelVersion: "iris-v2",
  replicas: 2,
  strategy: {
    canary: {
      steps: [
        { setWeight: 20 },
        { analysis: { metrics: [{ name: "errors", builtin: "errorRate", max: 0.05 }] } },
      ],
    },
  },
});
const mdep = (status: Mdep["status"]): Mdep => ({
  metadata: { name: "iris", namespace: "ml" },
  spec,
  status,
});

describe("plugin renderings", () => {
  it("aligns columns without trailing spaces", () => {
    expect(
      table([
        ["A", "BB"],
        ["CCC", "D"],
      ]),
    ).toBe("A     BB\nCCC   D");
  });

  it("marks the current step and shows analysis values against stable", () => {
    const out = renderStatus(
      mdep({
        phase: "Progressing",
        canaryVersion: "v2",
        canaryRevision: "r2",
        stableRevision: "r1",
        canaryWeight: 20,
        currentStepIndex: 1,
        analysisRuns: [
          {
            name: "step-1",
            phase: "Running",
            successful: 2,
            metrics: [{ name: "errors", phase: "Successful", value: 0.0123456, stableValue: 0.01 }],
          },
        ],
      }),
      new Map([
        ["r1", { ready: 2, total: 2, version: "v1" }],
        ["r2", { ready: 0, total: 1, version: "v2" }],
      ]),
    );
    expect(out).toContain("1. [done   ] setWeight 20%");
    expect(out).toContain("2. [current] analysis (errors)");
    expect(out).toMatch(/errors\s+Successful\s+0\.01235\s+0\.01/);
    expect(out).toMatch(/r2\s+canary\s+v2\s+0\/1/);
  });

  it("shows the canary's step while stepping, and the stage after its steps", () => {
    const stepping = {
      phase: "Progressing",
      canaryVersion: "v2",
      currentStepIndex: 1,
      stage: "Steps",
    } as const;
    expect(renderList([mdep(stepping)])).toMatch(/2\/2/);
    expect(renderList([mdep({ ...stepping, currentStepIndex: 2, stage: "Promoting" })])).toMatch(/Promoting/);
    expect(renderStatus(mdep({ ...stepping, stage: "Promoting" }), new Map())).toMatch(
      /Phase:\s+Progressing, stage Promoting/,
    );
  });

  it("lists steps as done once no rollout is under way", () => {
    expect(renderStatus(mdep({ phase: "Available" }), new Map())).toContain("2. [done   ] analysis");
    expect(renderList([mdep({ phase: "Available", stableVersion: "v1", readyReplicas: 2 })])).toMatch(
      /iris\s+Available\s+v1\s+-\s+-\s+-\s+2\/2/,
    );
  });

  it("shows who set each version and the evidence it was promoted on", () => {
    const out = renderHistory({
      metadata: { name: "iris" },
      spec: { modelVersion: "v2" },
      status: {
        history: [
          {
            version: "v2",
            revision: "abc",
            result: "Promoted",
            time: "2026-11-30T10:00:00Z",
            setBy: { manager: "argocd-controller", operation: "Apply", time: "2026-11-30T09:50:00Z" },
            gates: [
              {
                gate: "accuracy >= stable - 0.01",
                passed: true,
                value: 0.97,
                stableValue: 0.96,
                threshold: 0.95,
                message: "accuracy is 0.97; v1 has 0.96, so the bound is 0.95",
              },
            ],
            analyses: [
              {
                name: "step-1",
                phase: "Successful",
                metrics: [{ name: "error-rate", phase: "Successful", value: 0.01 }],
              },
            ],
          },
        ],
      },
    } as never);
    expect(out).toMatch(/v2\s+abc\s+Promoted\s+argocd-controller/);
    expect(out).toContain("spec.modelVersion set by argocd-controller (Apply at 2026-11-30T09:50:00Z)");
    expect(out).toContain(
      "gate passed: accuracy >= stable - 0.01 — accuracy is 0.97; v1 has 0.96, so the bound is 0.95",
    );
    expect(out).toContain("analysis step-1: Successful, error-rate=0.01");
  });

  it("explains a version held by its gates, and how to let it through", () => {
    const out = renderExplain({
      metadata: { name: "iris" },
      spec: { ...spec, modelVersion: "iris-v3" },
      status: {
        phase: "Paused",
        pauseReason: "GatesFailed",
        stableVersion: "iris-v2",
        message:
          "iris-v3 fails a gate: stage in [Production] (iris-v3 is in stage Staging). Serving iris-v2.",
        conditions: [
          {
            type: "GatesPassed",
            status: "False",
            reason: "GatesFailed",
            message: "iris-v3 fails a gate",
            lastTransitionTime: "t",
          },
        ],
      },
    } as never);
    expect(out).toContain("iris is paused: GatesFailed.");
    expect(out).toContain("condition GatesPassed=False (GatesFailed)");
    expect(out).toContain("kubectl patch mv iris-v3 --type=merge");
    expect(out).not.toContain("promote iris");
  });

  it("explains a rollback by its failing metric and the history's reason", () => {
    const out = renderExplain(
      mdep({
        phase: "RolledBack",
        stableVersion: "v1",
        canaryVersion: "v2",
        history: [{ version: "v2", result: "RolledBack", message: "analysis step-1 failed" }],
        analysisRuns: [
          { name: "step-1", phase: "Failed", metrics: [{ name: "errors", phase: "Failed", value: 0.2 }] },
        ],
      }),
    );
    expect(out).toContain("iris rolled back: v2 was rolled back; v1 serves.");
    expect(out).toContain("- reason: analysis step-1 failed");
    expect(out).toContain("errors: Failed (value 0.2)");
    expect(out).toContain("kubectl modelops retry iris");
  });

  it("suggests commands with -n when the object is not in the namespace commands use by default", () => {
    const paused = mdep({
      phase: "Paused",
      pauseReason: "PauseStep",
      stableVersion: "v1",
      canaryVersion: "v2",
    });
    const elsewhere = renderExplain(paused, "default");
    expect(elsewhere).toContain("kubectl modelops promote iris -n ml         # continue to the next step");
    expect(elsewhere).toContain("kubectl modelops promote iris -n ml --full  # skip all remaining steps");
    expect(elsewhere).toContain("kubectl modelops abort iris -n ml           # send all traffic back to v1");
    const here = renderExplain(paused, "ml");
    expect(here).toContain("kubectl modelops promote iris  ");
    expect(here).not.toContain("-n ml");
    const specPaused = renderExplain({ ...paused, spec: { ...spec, paused: true } }, "default");
    expect(specPaused).toContain("kubectl modelops resume iris -n ml");
    expect(specPaused).not.toContain("promote");
  });

  it("lists across namespaces and wide with the columns kubectl users expect", () => {
    const items = [mdep({ phase: "Available", stableVersion: "v1", message: "serving v1" })];
    const [head, row] = renderList(items, { allNamespaces: true, wide: true }).split("\n");
    expect(head?.split(/\s{3,}/)).toEqual([
      "NAMESPACE",
      "NAME",
      "PHASE",
      "STABLE",
      "CANARY",
      "WEIGHT",
      "STEP",
      "READY",
      "MODELVERSION",
      "STRATEGY",
      "PAUSED",
      "MESSAGE",
    ]);
    expect(row?.split(/\s{3,}/)).toEqual([
      "ml",
      "iris",
      "Available",
      "v1",
      "-",
      "-",
      "-",
      "0/2",
      "iris-v2",
      "canary",
      "false",
      "serving v1",
    ]);
    expect(renderList(items).split("\n")[0]).toMatch(/^NAME\s+PHASE/);
  });

  it("says when a monitor has not reported yet", () => {
    expect(renderDrift({ metadata: { name: "d" } })).toContain("no drift report yet");
  });
});
