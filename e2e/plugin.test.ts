// The kubectl-modelops plugin as SREs run it: `kubectl modelops ...` found by
// kubectl on the PATH, against the test cluster, through a rollout that is
// paused, promoted step by step, promoted fully and aborted.
import { spawn } from "node:child_process";
import { mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../hack/localcluster/kubectl.ts";
import { createPrometheusProvider } from "../operator/analysis/prometheus.ts";
import type { RunningManager } from "../operator/manager.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { startInProcess } from "./harness/operator.ts";
import { mdepManifest, waitStatus } from "./harness/rollout.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const kubeconfig = inject("kubeconfig");
const binDir = inject("binDir");
const namespaces: TestNamespace[] = [];
let operator: RunningManager | undefined;
let ns: TestNamespace;
let pluginDir: string;

/** Runs `kubectl modelops ARGS -n NS` as a user would, with the plugin on PATH. */
type PluginResult = { code: number; stdout: string; stderr: string };

/** Starts `kubectl modelops ARGS -n NS`; `stop` sends SIGINT (kubectl execs the plugin, so it gets it). */
function startPlugin(
  args: string[],
  namespace = ns.name,
): { done: Promise<PluginResult>; stop: () => void; output: () => string } {
  const PATH = [pluginDir, binDir, dirname(process.execPath), process.env.PATH].join(":");
  const child = spawn(join(binDir, "kubectl"), ["modelops", ...args, "-n", namespace], {
    env: { ...process.env, PATH, KUBECONFIG: kubeconfig },
    timeout: 120_000,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<PluginResult>((resolve) =>
    child.on("close", (code) => resolve({ code: code ?? 128, stdout, stderr })),
  );
  return { done, stop: () => child.kill("SIGINT"), output: () => stdout };
}

function plugin(args: string[], namespace = ns.name): Promise<PluginResult> {
  return startPlugin(args, namespace).done;
}

async function pluginOk(args: string[], namespace?: string): Promise<string> {
  const r = await plugin(args, namespace);
  if (r.code !== 0) throw new Error(`kubectl modelops ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

const STRATEGY =
  "canary:\n  steps:\n    - setWeight: 30\n    - pause: {}\n    - setWeight: 70\n    - pause: {}";

beforeAll(async () => {
  pluginDir = mkdtempSync(join(tmpdir(), "modelops-plugin-"));
  symlinkSync(join(root, "operator/cli/main.ts"), join(pluginDir, "kubectl-modelops"));
  ns = await createTestNamespace("plugin", kubeconfig, binDir);
  namespaces.push(ns);
  await ns.applySampleVersions();
  operator = await startInProcess({
    kubeconfig: inject("operatorKubeconfig"),
    namespace: ns.name,
    prometheus: createPrometheusProvider({ address: "http://127.0.0.1:9", timeoutMs: 1000 }),
  });
});

afterAll(async () => {
  await operator?.stop();
  for (const n of namespaces) await n.delete();
});

async function pausedRollout(name: string): Promise<void> {
  await ns.kubectlOk(["apply", "-f", "-"], mdepManifest(name, "iris-classifier-v1", STRATEGY));
  await waitStatus(ns, name, (s) => s.phase === "Available", "v1 Available");
  await ns.kubectlOk(["apply", "-f", "-"], mdepManifest(name, "iris-classifier-v2", STRATEGY));
  await waitStatus(ns, name, (s) => s.pauseReason === "PauseStep" && s.currentStepIndex === 1, "paused");
}

describe("kubectl modelops", () => {
  it("shows a paused rollout, promotes it a step, then fully, and lists its history", async () => {
    await pausedRollout("iris");
    const status = await pluginOk(["status", "iris"]);
    expect(status).toMatch(/Phase:\s+Paused \(PauseStep/);
    expect(status).toMatch(/Canary:\s+iris-classifier-v2/);
    // Two replicas cannot carry 30%: the realised share is shown with why.
    expect(status).toMatch(/Weight:\s+33% — weight 30% realised as 1 canary \/ 2 stable pods/);
    expect(status).toContain("1. [done   ] setWeight 30%");
    expect(status).toContain("2. [current] pause until promoted");
    expect(status).toMatch(/stable\s+iris-classifier-v1\s+\d\/\d/);
    expect(status).toMatch(/canary\s+iris-classifier-v2\s+\d\/\d/);
    const explain = await pluginOk(["explain", "iris"]);
    expect(explain).toContain("iris is paused: PauseStep");
    expect(explain).toContain("kubectl modelops promote iris");
    expect(await pluginOk(["get"])).toMatch(
      /iris\s+Paused\s+iris-classifier-v1\s+iris-classifier-v2\s+33%\s+2\/4/,
    );

    const watch = startPlugin(["status", "iris", "--watch", "--interval", "0.3"]);
    const printed = (text: string) =>
      waitFor(async () => watch.output().includes(text) || undefined, {
        timeoutMs: 15_000,
        intervalMs: 200,
        description: `status --watch prints "${text}"`,
      });
    await printed("weight 30% realised");
    expect(await pluginOk(["promote", "iris", "--wait"])).toMatch(
      /promote requested[^\n]*\n[^\n]*: handled; phase /,
    );
    await waitStatus(ns, "iris", (s) => s.currentStepIndex === 3, "step 4");
    expect(await pluginOk(["status", "iris"])).toMatch(/Weight:\s+\d+% — weight 70% realised/);
    // The live view printed the paused step, then the new weight, and ends cleanly on Ctrl-C.
    await printed("weight 70% realised");
    watch.stop();
    const watched = await watch.done;
    expect(watched.code).toBe(0);
    expect(watched.stdout.indexOf("weight 30% realised")).toBeLessThan(
      watched.stdout.indexOf("weight 70% realised"),
    );
    expect(watched.stdout.split("\n---").length).toBeGreaterThan(2);

    expect(await pluginOk(["promote", "iris", "--full", "--wait"])).toMatch(/promote-full requested/);
    await waitStatus(ns, "iris", (s) => s.stableVersion === "iris-classifier-v2" && !s.canaryVersion, "done");
    expect(await pluginOk(["history", "iris"])).toMatch(/iris-classifier-v2\s+\S+\s+Promoted/);
    expect(await pluginOk(["explain", "iris"])).toMatch(
      /iris is (Available|Progressing), nothing is holding it/,
    );
  });

  it("aborts a rollout and explains the rollback", async () => {
    await pausedRollout("abortme");
    expect(await pluginOk(["abort", "abortme", "--wait"])).toMatch(
      /handled; phase RolledBack, stable iris-classifier-v1/,
    );
    const explain = await pluginOk(["explain", "abortme"]);
    expect(explain).toContain(
      "abortme rolled back: iris-classifier-v2 was rolled back; iris-classifier-v1 serves",
    );
    expect(explain).toContain("aborted by an operator action");
    expect(explain).toContain("kubectl modelops retry abortme");
    expect(await pluginOk(["history", "abortme"])).toMatch(/iris-classifier-v2\s+\S+\s+(RolledBack|Aborted)/);
    expect(await pluginOk(["status", "abortme"])).toMatch(/Phase:\s+RolledBack/);
  });

  it("prints a DriftMonitor's last report, worst feature first", async () => {
    // A namespace no operator watches, so the report is the one written here.
    const quiet = await createTestNamespace("plugin-drift", kubeconfig, binDir);
    namespaces.push(quiet);
    await quiet.kubectlOk(["apply", "-f", join(root, "config/samples/driftmonitor.yaml")]);
    expect(await pluginOk(["drift", "iris-classifier"], quiet.name)).toContain("no drift report yet");
    const report = {
      status: {
        verdict: "Critical",
        lastEvaluationTime: "2026-01-01T00:00:00Z",
        sampleSize: 512,
        message: "petal_length drifted",
        features: [
          { name: "petal_width", method: "ks", score: 0.02, pValue: 0.3, status: "NoDrift" },
          { name: "petal_length", method: "psi", score: 0.31, status: "Critical" },
        ],
      },
    };
    await quiet.kubectlOk([
      "patch",
      "driftmonitor",
      "iris-classifier",
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify(report),
    ]);
    const out = await pluginOk(["drift", "iris-classifier"], quiet.name);
    expect(out).toMatch(/Verdict:\s+Critical/);
    expect(out).toContain("over 512 requests");
    expect(out.indexOf("petal_length")).toBeLessThan(out.indexOf("petal_width"));
  });

  it("fails with a clear message and exit code for an unknown object or command", async () => {
    const missing = await plugin(["status", "nope"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/error: .*not found/i);
    const bad = await plugin(["frobnicate", "x"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown command frobnicate");
  });
});
