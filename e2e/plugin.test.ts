// The kubectl-modelops plugin as SREs run it: `kubectl modelops ...` found by
// kubectl on the PATH, against the test cluster. The plugin is installed the
// ways a user installs it (hack/build-plugin.ts builds them, cached), each
// into an empty directory that is alone on PATH: the single executable (most
// tests), the bundle run by the machine's Node 20, the source checkout (Node
// 24), and the krew archive through `kubectl krew install`.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createPrometheusProvider } from "../operator/analysis/prometheus.ts";
import type { RunningManager } from "../operator/manager.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { startInProcess } from "./harness/operator.ts";
import { type Install, node20, PluginInstalls, startKubectl } from "./harness/plugin.ts";
import { mdepManifest, waitStatus } from "./harness/rollout.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const kubeconfig = inject("kubeconfig");
const binDir = inject("binDir");
const namespaces: TestNamespace[] = [];
let operator: RunningManager | undefined;
let ns: TestNamespace;
/** A namespace no operator watches: objects there keep the status the test writes (or none). */
let quiet: TestNamespace;
const plugins = new PluginInstalls();
const { installs } = plugins;

interface RunOptions {
  /** Appended as `-n NS`; null: no -n. Default: the test's namespace. */
  namespace?: string | null;
  /** Default: the single executable. */
  install?: Install;
  env?: Record<string, string>;
}

/** Starts `kubectl modelops ARGS -n NS` with only the install on PATH. */
function startPlugin(args: string[], opts: RunOptions = {}) {
  const namespace = opts.namespace === undefined ? ns.name : opts.namespace;
  const env = {
    KUBECONFIG: kubeconfig,
    PATH: (opts.install ?? installs.binary).join(delimiter),
    ...opts.env,
  };
  return startKubectl(
    join(binDir, "kubectl"),
    ["modelops", ...args, ...(namespace ? ["-n", namespace] : [])],
    env,
  );
}

const plugin = (args: string[], opts?: RunOptions) => startPlugin(args, opts).done;

async function pluginOk(args: string[], opts?: RunOptions): Promise<string> {
  const r = await plugin(args, opts);
  if (r.code !== 0) throw new Error(`kubectl modelops ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

const STRATEGY =
  "canary:\n  steps:\n    - setWeight: 30\n    - pause: {}\n    - setWeight: 70\n    - pause: {}";

beforeAll(async () => {
  // Built once per change of its inputs (cached): seconds when unchanged, under a minute cold.
  await plugins.install();
  ns = await createTestNamespace("plugin", kubeconfig, binDir);
  quiet = await createTestNamespace("plugin-quiet", kubeconfig, binDir);
  namespaces.push(ns, quiet);
  await ns.applySampleVersions();
  operator = await startInProcess({
    kubeconfig: inject("operatorKubeconfig"),
    namespace: ns.name,
    prometheus: createPrometheusProvider({ address: "http://127.0.0.1:9", timeoutMs: 1000 }),
  });
}, 600_000);

afterAll(async () => {
  await operator?.stop();
  for (const n of namespaces) await n.delete();
  plugins.remove();
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
    // Not the kubeconfig's namespace: the suggestion says which, ready to paste.
    expect(explain).toMatch(new RegExp(`kubectl modelops promote iris -n ${ns.name} +# continue`));
    expect(await pluginOk(["get"])).toMatch(
      /iris\s+Paused\s+iris-classifier-v1\s+iris-classifier-v2\s+33%\s+2\/4/,
    );

    // A paused step is not a resting phase: the watch goes on until Ctrl-C.
    const watch = startPlugin(["status", "iris", "--watch", "--interval", "0.3"]);
    await watch.printed("weight 30% realised");
    expect(await pluginOk(["promote", "iris", "--wait"])).toMatch(
      /promote requested[^\n]*\n[^\n]*: handled; phase /,
    );
    await waitStatus(ns, "iris", (s) => s.currentStepIndex === 3, "step 4");
    expect(await pluginOk(["status", "iris"])).toMatch(/Weight:\s+\d+% — weight 70% realised/);
    await watch.printed("weight 70% realised");
    watch.stop();
    const watched = await watch.done;
    expect(watched.code).toBe(0);
    expect(watched.stdout.indexOf("weight 30% realised")).toBeLessThan(
      watched.stdout.indexOf("weight 70% realised"),
    );
    expect(watched.stdout.split("\n---").length).toBeGreaterThan(2);

    // Started before the last promotion, this watch ends by itself once v2 is Available.
    const untilDone = startPlugin(["status", "iris", "--watch", "--interval", "0.3"]);
    await untilDone.printed("Phase:     Paused");
    expect(await pluginOk(["promote", "iris", "--full", "--wait"])).toMatch(/promote-full requested/);
    const ended = await untilDone.done;
    expect(ended.code).toBe(0);
    expect(ended.stdout.trim().split("\n---").at(-2)).toMatch(
      /Phase:\s+Available[\s\S]*Stable:\s+iris-classifier-v2/,
    );
    expect(await pluginOk(["history", "iris"])).toMatch(/iris-classifier-v2\s+\S+\s+Promoted/);
    expect(await pluginOk(["explain", "iris"])).toMatch(/iris is Available, nothing is holding it/);
    // Resting already: --watch prints once and exits; --keep-watching waits for Ctrl-C.
    expect((await plugin(["status", "iris", "--watch"])).code).toBe(0);
    const keep = startPlugin(["status", "iris", "--watch", "--keep-watching", "--interval", "0.3"]);
    await keep.printed("Phase:     Available");
    await new Promise((r) => setTimeout(r, 1500));
    keep.stop();
    expect((await keep.done).code).toBe(0);
  });

  it("aborts a rollout: a watch exits 1 on RolledBack, and explain says why", async () => {
    await pausedRollout("abortme");
    const watch = startPlugin(["status", "abortme", "--watch", "--interval", "0.3"]);
    await watch.printed("Phase:     Paused");
    expect(await pluginOk(["abort", "abortme", "--wait"])).toMatch(
      /handled; phase RolledBack, stable iris-classifier-v1/,
    );
    const watched = await watch.done;
    expect(watched.code).toBe(1);
    expect(watched.stderr).toContain("modeldeployment/abortme ended RolledBack");
    const explain = await pluginOk(["explain", "abortme"]);
    expect(explain).toContain(
      "abortme rolled back: iris-classifier-v2 was rolled back; iris-classifier-v1 serves",
    );
    expect(explain).toContain("aborted by an operator action");
    expect(explain).toContain(`kubectl modelops retry abortme -n ${ns.name}`);
    expect(await pluginOk(["history", "abortme"])).toMatch(/iris-classifier-v2\s+\S+\s+(RolledBack|Aborted)/);
    expect(await pluginOk(["status", "abortme"])).toMatch(/Phase:\s+RolledBack/);
  });

  it("pauses a ModelDeployment before a rollout and resumes it", async () => {
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest("frozen", "iris-classifier-v1", STRATEGY));
    await waitStatus(ns, "frozen", (s) => s.phase === "Available", "v1 Available");
    expect(await pluginOk(["pause", "frozen", "--wait"])).toMatch(
      /modeldeployment\/frozen paused \(spec.paused=true\)\n.*handled/,
    );
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest("frozen", "iris-classifier-v2", STRATEGY));
    await waitStatus(ns, "frozen", (s) => s.pauseReason === "SpecPaused", "held by spec.paused");
    const explain = await pluginOk(["explain", "frozen"]);
    expect(explain).toContain(`kubectl modelops resume frozen -n ${ns.name}`);
    expect(explain).not.toContain("promote");
    expect(await pluginOk(["resume", "frozen", "--wait"])).toContain("resumed (spec.paused=false)");
    await waitStatus(ns, "frozen", (s) => s.pauseReason === "PauseStep", "the rollout's own pause step");
    const mdep = JSON.parse(
      await ns.kubectlOk(["get", "mdep", "frozen", "-o", "json", "--show-managed-fields"]),
    ) as { metadata: { managedFields: { manager: string }[] } };
    expect(mdep.metadata.managedFields.map((f) => f.manager)).toContain("kubectl-modelops");
  });

  it("prints json, yaml and wide, and lists all namespaces with -A", async () => {
    await quiet.kubectlOk(["apply", "-f", "-"], mdepManifest("unwatched", "iris-classifier-v1", ""));
    const one = JSON.parse(await pluginOk(["get", "iris", "-o", "json"]));
    expect(one).toMatchObject({ kind: "ModelDeployment", metadata: { name: "iris", namespace: ns.name } });
    const list = yaml.load(await pluginOk(["get", "-o", "yaml"])) as {
      kind: string;
      items: { metadata: { name: string } }[];
    };
    expect(list.kind).toBe("List");
    expect(list.items.map((i) => i.metadata.name)).toContain("iris");
    const status = JSON.parse(await pluginOk(["status", "iris", "-o", "json"]));
    expect(status.status.stableVersion).toBe("iris-classifier-v2");
    const history = yaml.load(await pluginOk(["history", "iris", "-o", "yaml"])) as { result: string }[];
    expect(history.map((h) => h.result)).toContain("Promoted");
    expect(await pluginOk(["get", "-o", "wide"])).toMatch(
      /^NAME .* MODELVERSION\s+STRATEGY\s+PAUSED\s+MESSAGE\n/,
    );

    const all = await pluginOk(["get", "-A"], { namespace: null });
    expect(all).toMatch(/^NAMESPACE\s+NAME\s+PHASE/);
    expect(all).toMatch(new RegExp(`${ns.name}\\s+iris\\s+Available`));
    expect(all).toMatch(new RegExp(`${quiet.name}\\s+unwatched\\s+-`));
    const byName = await plugin(["get", "iris", "--all-namespaces"], { namespace: null });
    expect(byName.code).toBe(2);
    expect(byName.stderr).toContain("cannot be read by name across all namespaces");
  });

  it("gives up waiting after --timeout when no operator handles the namespace", async () => {
    const started = Date.now();
    const wait = await plugin(["promote", "unwatched", "--wait", "--timeout", "1s"], {
      namespace: quiet.name,
    });
    expect(wait.code).toBe(1);
    expect(wait.stderr).toMatch(/did not handle promote@\S+ within 1s; is it running\?/);
    const watch = await plugin(["status", "unwatched", "--watch", "--timeout", "1s"], {
      namespace: quiet.name,
    });
    expect(watch.code).toBe(1);
    expect(watch.stderr).toContain("timed out waiting for modeldeployment/unwatched");
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it("prints a DriftMonitor's last report, worst feature first", async () => {
    await quiet.kubectlOk(["apply", "-f", join(root, "config/samples/driftmonitor.yaml")]);
    expect(await pluginOk(["drift", "iris-classifier"], { namespace: quiet.name })).toContain(
      "no drift report yet",
    );
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
    const out = await pluginOk(["drift", "iris-classifier"], { namespace: quiet.name });
    expect(out).toMatch(/Verdict:\s+Critical/);
    expect(out).toContain("over 512 requests");
    expect(out.indexOf("petal_length")).toBeLessThan(out.indexOf("petal_width"));
  });

  it("reports the client version and the operator Deployment's version label", async () => {
    // Labelled as the chart labels the operator's Deployment.
    await ns.kubectlOk(
      ["apply", "-f", "-"],
      `apiVersion: apps/v1
kind: Deployment
metadata:
  name: modelops-operator
  labels: {app.kubernetes.io/name: modelops-operator, app.kubernetes.io/version: "9.8.7"}
spec:
  replicas: 0
  selector: {matchLabels: {app: op}}
  template:
    metadata: {labels: {app: op}}
    spec: {containers: [{name: manager, image: "registry.test/modelops-operator:9.8.7"}]}`,
    );
    const out = await pluginOk(["version"], { namespace: null });
    expect(out).toMatch(/^client: 0\.1\.0\n/);
    expect(out).toContain(
      `operator: 9.8.7 (deployment ${ns.name}/modelops-operator, image registry.test/modelops-operator:9.8.7)`,
    );
  });

  it("fails clearly: unknown object, unknown command, no kubeconfig, unreachable cluster", async () => {
    const missing = await plugin(["status", "nope"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(
      'Error from server (NotFound): modeldeployments.modelops.io "nope" not found',
    );
    const bad = await plugin(["frobnicate", "x"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('error: unknown command "frobnicate" for "kubectl modelops"');
    const noCluster = join(plugins.emptyDir("kubeconfig"), "config");
    writeFileSync(
      noCluster,
      yaml.dump({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "gone", cluster: { server: "https://127.0.0.1:1" } }],
        users: [{ name: "u", user: { token: "t" } }],
        contexts: [{ name: "gone", context: { cluster: "gone", user: "u" } }],
        "current-context": "gone",
      }),
    );
    const home = plugins.emptyDir("home");
    const none = await plugin(["get"], { env: { KUBECONFIG: "", HOME: home } });
    expect(none.code).toBe(1);
    expect(none.stderr.trim()).toBe(
      `error: no kubeconfig: set KUBECONFIG, pass --kubeconfig, or create ${home}/.kube/config`,
    );
    const refused = await plugin(["get"], { env: { KUBECONFIG: noCluster } });
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(
      `The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port? (kubeconfig ${noCluster}, context "gone")`,
    );
  });

  it("has a help page per command", async () => {
    const status = await pluginOk(["status", "--help"], { namespace: null });
    const promote = await pluginOk(["promote", "--help"], { namespace: null });
    expect(status).toContain("Usage: kubectl modelops status [options] <NAME>");
    expect(status).toContain("--keep-watching");
    expect(promote).toContain("Usage: kubectl modelops promote [options] <NAME>");
    expect(promote).toContain("--full");
    expect(promote).not.toContain("--keep-watching");
  });

  it("completes commands and ModelDeployment names in bash, and for kubectl modelops <TAB>", async () => {
    const bin = installs.binary[0] as string;
    const env = { PATH: [bin, "/usr/bin", "/bin"].join(delimiter), KUBECONFIG: kubeconfig };
    const bash = (words: string) =>
      execFileSync(
        "bash",
        [
          "-c",
          `source <(kubectl-modelops completion bash); COMP_WORDS=(${words}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _kubectl_modelops; printf '%s\\n' "\${COMPREPLY[@]}"`,
        ],
        { env, encoding: "utf8" },
      ).trim();
    expect(bash("kubectl-modelops pro")).toBe("promote");
    expect(bash(`kubectl-modelops status -n ${ns.name} ir`)).toBe("iris");
    // kubectl (1.26+) completes plugin arguments through kubectl_complete-<plugin>.
    writeFileSync(
      join(bin, "kubectl_complete-modelops"),
      '#!/bin/sh\nexec kubectl-modelops __complete "$@"\n',
      {
        mode: 0o755,
      },
    );
    const viaKubectl = execFileSync(
      join(binDir, "kubectl"),
      ["__complete", "modelops", "abort", "-n", ns.name, "ab"],
      {
        env,
        encoding: "utf8",
      },
    );
    expect(viaKubectl.split("\n")[0]).toBe("abortme");
  });
});

describe("kubectl modelops, installed without a source checkout", () => {
  it("installs from the krew manifest and archive with kubectl krew", async () => {
    const { code, output: out } = plugins.installWithKrew(join(binDir, "kubectl"));
    expect(code, out).toBe(0);
    expect(out).toContain("Installed plugin: modelops");
  });

  it.each(["krew", "bundle", "source"] as const)("works installed as the %s", async (how) => {
    const install = installs[how];
    expect(install.length, `${how} installed`).toBeGreaterThan(0);
    expect(await pluginOk(["get", "iris"], { install })).toMatch(/iris\s+Available\s+iris-classifier-v2/);
    expect(await pluginOk(["pause", "iris", "--wait"], { install })).toMatch(/paused.*\n.*handled/);
    expect(await pluginOk(["resume", "iris", "--wait"], { install })).toMatch(/resumed.*\n.*handled/);
    expect(await pluginOk(["version", "--client"], { install, namespace: null })).toBe("client: 0.1.0\n");
  });

  it("runs the bundle on Node 20", () => {
    expect(
      execFileSync(node20(), [plugins.artifacts.bundle, "version", "--client"], { encoding: "utf8" }),
    ).toBe("client: 0.1.0\n");
  });
});
