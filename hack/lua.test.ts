// The Argo CD health checks and actions of config/argocd, run by a real Lua
// 5.1 interpreter (hack/lua.sh installs it) against sample objects for each
// phase, as Argo CD would call them with the live object in `obj`.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { ModelDeployment } from "../operator/api/index.ts";
import { runUntil, setVersion, world } from "../operator/testing/simulate.ts";
import { ARGOCD_DIR, actionsYaml } from "./lua-argocd.ts";

let lua = "";
beforeAll(() => {
  lua =
    execFileSync("bash", [join(ARGOCD_DIR, "../../hack/lua.sh")], { encoding: "utf8" })
      .trim()
      .split("\n")
      .pop() ?? "";
});

/** A JSON value as a Lua literal (tables for objects and arrays). */
function toLua(value: unknown): string {
  if (value === null || value === undefined) return "nil";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `{${value.map(toLua).join(", ")}}`;
  const fields = Object.entries(value as Record<string, unknown>).map(
    ([k, v]) => `[${JSON.stringify(k)}] = ${toLua(v)}`,
  );
  return `{${fields.join(", ")}}`;
}

/** Runs a script with `obj` set; `print` is Lua code that prints the result `r`. */
function runLua(script: string, obj: unknown, print: string): string {
  const program = `obj = ${toLua(obj)}\nlocal r = dofile(${JSON.stringify(join(ARGOCD_DIR, script))})\n${print}`;
  return execFileSync(lua, ["-"], { input: program, encoding: "utf8" }).trim();
}

const health = (script: string, obj: unknown) => {
  const [status, message] = runLua(script, obj, 'io.write(r.status, "\\t", r.message or "")').split("\t");
  return { status, message };
};

const mdep = (status?: Record<string, unknown>, generation = 1) => ({
  apiVersion: "modelops.io/v1alpha1",
  kind: "ModelDeployment",
  metadata: { name: "iris", generation },
  ...(status ? { status: { observedGeneration: 1, ...status } } : {}),
});

describe("ModelDeployment health", () => {
  const check = (obj: unknown) => health("modeldeployment-health.lua", obj);
  it.each([
    ["no status yet", mdep(), "Progressing", "Waiting for the operator"],
    ["a spec change not yet observed", mdep({ phase: "Available" }, 2), "Progressing", "generation 2"],
    [
      "pending pods",
      mdep({ phase: "Pending", message: "waiting for pods" }),
      "Progressing",
      "waiting for pods",
    ],
    [
      "a canary at a weight",
      mdep({ phase: "Progressing", canaryVersion: "v2", canaryWeight: 30, message: "step 1" }),
      "Progressing",
      "v2 at 30%: step 1",
    ],
    [
      "a pause for promotion",
      mdep({ phase: "Paused", pauseReason: "PauseStep", message: "Step 2: paused" }),
      "Suspended",
      "PauseStep: Step 2: paused",
    ],
    [
      "a rollback",
      mdep({ phase: "RolledBack", message: "error-rate 0.2 > 0.05" }),
      "Degraded",
      "error-rate 0.2 > 0.05",
    ],
    [
      "nothing serving yet",
      mdep({ phase: "Pending", message: "ModelVersion v9 does not exist in this namespace" }),
      "Progressing",
      "ModelVersion v9 does not exist in this namespace",
    ],
    ["unready serving pods", mdep({ phase: "Degraded" }), "Degraded", "Degraded"],
    [
      "an apiserver refusal the operator cannot get past",
      mdep(
        {
          phase: "Available",
          conditions: [
            { type: "Reconciled", status: "False", reason: "Forbidden", message: "exceeded quota: q" },
          ],
        },
        2,
      ),
      "Degraded",
      "Forbidden: exceeded quota: q",
    ],
    ["a finished rollout", mdep({ phase: "Available", message: "serving v2" }), "Healthy", "serving v2"],
  ])("%s: %s", (_what, obj, status, message) => {
    const hs = check(obj);
    expect(hs.status).toBe(status);
    expect(hs.message).toContain(message);
  });
});

/** The status the rollout engine writes once v2 is promoted over v1, its post-promotion guard in `guard` phase. */
function promotedUnderGuard(guard: "Running" | "Successful"): ModelDeployment {
  const analysis = { interval: "1m", count: 2, failureLimit: 0, inconclusiveLimit: 0, metrics: [] };
  const w = world({
    apiVersion: "modelops.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: "iris", namespace: "ml", generation: 1 },
    spec: {
      modelVersion: "v1",
      replicas: 2,
      paused: false,
      progressDeadlineSeconds: 600,
      strategy: {
        canary: {
          steps: [{ setWeight: 50 }],
          postPromotionAnalysis: analysis,
          scaleDownDelaySeconds: 30,
          abortScaleDownDelaySeconds: 600,
        },
      },
    },
  } as ModelDeployment);
  runUntil(w, (d) => d.status.phase === "Available");
  setVersion(w, "v2");
  runUntil(w, (d) => d.status.stableVersion === "v2" && d.status.phase === "Available");
  if (guard === "Successful") {
    w.analysis.postPromotion = "Successful";
    runUntil(w, (d) => d.status.analysisRuns === undefined);
  }
  return { ...w.mdep, status: { ...w.mdep.status, observedGeneration: 1 } };
}

describe("ModelDeployment health after promotion (statuses from the rollout engine)", () => {
  const check = (obj: unknown) => health("modeldeployment-health.lua", obj);

  it("is Progressing while the post-promotion guard runs, naming the guarded and the warm version", () => {
    const mdep = promotedUnderGuard("Running");
    expect(mdep.status?.analysisRuns).toMatchObject([{ name: "postPromotion", phase: "Running" }]);
    const hs = check(mdep);
    expect(hs.status).toBe("Progressing");
    expect(hs.message).toMatch(/^Post-promotion analysis of v2 running; v1 stays warm/);
    expect(hs.message).toContain(mdep.status?.message);
  });

  it("is Healthy once the guard passed", () => {
    const mdep = promotedUnderGuard("Successful");
    expect(mdep.status?.phase).toBe("Available");
    expect(check(mdep)).toEqual({ status: "Healthy", message: "Serving v2" });
  });
});

describe("ModelVersion and DriftMonitor health", () => {
  it.each([
    [undefined, "Progressing"],
    [{ phase: "Ready" }, "Healthy"],
    [{ phase: "Invalid", message: "artifact not found" }, "Degraded"],
  ])("ModelVersion %j is %s", (status, expected) => {
    expect(health("modelversion-health.lua", { metadata: { name: "v1" }, status }).status).toBe(expected);
  });

  it.each([
    [undefined, "Progressing"],
    [{ verdict: "InsufficientData" }, "Progressing"],
    [{ verdict: "NoDrift" }, "Healthy"],
    [{ verdict: "Warning", message: "petal_width drifting" }, "Healthy"],
    [{ verdict: "Critical", message: "petal_length drifted" }, "Degraded"],
    [{ verdict: "Unknown" }, "Unknown"],
  ])("DriftMonitor %j is %s", (status, expected) => {
    expect(health("driftmonitor-health.lua", { metadata: { name: "d" }, status }).status).toBe(expected);
  });

  it("puts the drift message next to the verdict", () => {
    expect(
      health("driftmonitor-health.lua", { metadata: {}, status: { verdict: "Critical", message: "x" } })
        .message,
    ).toBe("Critical: x");
  });
});

describe("ModelDeployment actions", () => {
  const enabled = (obj: unknown) =>
    runLua(
      "actions/discovery.lua",
      obj,
      'local n = {} for k, v in pairs(r) do if not v.disabled then table.insert(n, k) end end table.sort(n) io.write(table.concat(n, " "))',
    );

  it.each([
    ["a paused canary", mdep({ phase: "Paused", canaryVersion: "v2" }), "abort promote promote-full undo"],
    ["a rolled-back rollout", mdep({ phase: "RolledBack", canaryVersion: "v2" }), "retry"],
    ["a promoted version with a previous one", mdep({ phase: "Available", previousVersion: "v1" }), "undo"],
    [
      "a running post-promotion guard",
      mdep({
        phase: "Available",
        previousVersion: "v1",
        analysisRuns: [{ name: "postPromotion", phase: "Running" }],
      }),
      "promote undo",
    ],
    ["a first install", mdep({ phase: "Available" }), ""],
  ])("%s enables: %s", (_what, obj, expected) => {
    expect(enabled(obj)).toBe(expected);
  });

  it.each(["promote", "promote-full", "abort", "retry", "undo"])(
    "%s sets a new action annotation",
    (verb) => {
      const value = runLua(
        `actions/${verb}.lua`,
        mdep({ phase: "Paused" }),
        'io.write(r.metadata.annotations["modelops.io/action"])',
      );
      expect(value).toMatch(new RegExp(`^${verb}@\\d{8}T\\d{6}Z$`));
      const kept = runLua(
        `actions/${verb}.lua`,
        { metadata: { annotations: { team: "ml" } } },
        "io.write(r.metadata.annotations.team)",
      );
      expect(kept).toBe("ml");
    },
  );

  it("ships the scripts verbatim in actions.yaml", () => {
    expect(readFileSync(join(ARGOCD_DIR, "actions.yaml"), "utf8")).toBe(actionsYaml());
  });
});
