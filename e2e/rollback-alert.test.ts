// The chart's ModelRolloutRolledBack alert, loaded exactly as the chart renders
// it into a real Prometheus, fires for a rollback that is the operator's first
// action after a start: the hard case, because every series the operator
// exports is born then, and a counter first scraped at 1 has no increase().
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import yaml from "js-yaml";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../hack/localcluster/kubectl.ts";
import {
  activeAlerts,
  queryValue,
  type RunningPrometheus,
  startPrometheus,
} from "../hack/localcluster/prometheus.ts";
import { parseDurationMs } from "../operator/api/index.ts";
import type { RunningManager } from "../operator/manager.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { startInProcess } from "./harness/operator.ts";
import { mdepManifest, waitStatus } from "./harness/rollout.ts";

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ALERT = "ModelRolloutRolledBack";
const MDEP = "alerted";
const STRATEGY = "canary:\n  steps:\n    - setWeight: 30\n    - pause: {}";

type Rule = { alert?: string; expr: string; for?: string };
type RuleGroups = { groups: { name: string; rules: Rule[] }[] };

let dir: string;
let ns: TestNamespace;
let prom: RunningPrometheus | undefined;
const operators: RunningManager[] = [];

/** The PrometheusRule's groups as `helm template` renders them, which is a Prometheus rule file. */
async function renderedRules(): Promise<RuleGroups> {
  const helm = (await run("bash", [join(root, "hack/helm.sh")])).stdout.trim().split("\n").pop() ?? "";
  const { stdout } = await run(helm, [
    "template",
    "modelops-operator",
    join(root, "charts/modelops-operator"),
    "--kube-version",
    "1.34.4",
    "--set",
    "prometheusRule.enabled=true",
    "--show-only",
    "templates/prometheusrule.yaml",
  ]);
  return (yaml.load(stdout) as { spec: RuleGroups }).spec;
}

async function startOperator(): Promise<RunningManager> {
  const operator = await startInProcess({ kubeconfig: inject("operatorKubeconfig"), namespace: ns.name });
  operators.push(operator);
  return operator;
}

async function alertState(): Promise<string | undefined> {
  const alerts = await activeAlerts(prom?.url ?? "");
  const ours = alerts.find(
    (a) => a.labels.alertname === ALERT && a.labels.namespace === ns.name && a.labels.name === MDEP,
  );
  return ours?.state;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "modelops-alert-"));
  ns = await createTestNamespace("alert", inject("kubeconfig"), inject("binDir"));
  await ns.applySampleVersions();
});

afterAll(async () => {
  await prom?.stop();
  for (const o of operators) await o.stop();
  await ns?.delete();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the shipped ModelRolloutRolledBack alert", () => {
  it("fires for a rollback that is the operator's first action after a start, and resolves once fixed", async () => {
    const rules = await renderedRules();
    const rule = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === ALERT);
    expect(rule, `${ALERT} in the rendered PrometheusRule`).toBeDefined();
    const rulesPath = join(dir, "rules.yaml");
    writeFileSync(rulesPath, yaml.dump(rules));

    // A rollout paused at its canary step, left by an operator that then stops.
    const first = await startOperator();
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest(MDEP, "iris-classifier-v1", STRATEGY));
    await waitStatus(ns, MDEP, (s) => s.phase === "Available", "v1 Available");
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest(MDEP, "iris-classifier-v2", STRATEGY));
    await waitStatus(ns, MDEP, (s) => s.pauseReason === "PauseStep", "paused at the canary step");
    await first.stop();

    // A new operator process (fresh metrics) whose first action is the rollback.
    await ns.kubectlOk(["annotate", "mdep", MDEP, "modelops.io/action=abort@1", "--overwrite"]);
    const second = await startOperator();
    await waitStatus(
      ns,
      MDEP,
      (s) => s.lastHandledAction === "abort@1" && s.phase === "RolledBack",
      "rolled back by the new operator",
    );
    prom = await startPrometheus({
      dir,
      binDir: inject("binDir"),
      targets: [second.metricsAddress ?? ""],
      ruleFiles: [rulesPath],
    });
    const url = prom.url;
    const forMs = rule?.for ? parseDurationMs(rule.for) : 0;
    const state = await waitFor(async () => ((await alertState()) === "firing" ? "firing" : undefined), {
      timeoutMs: forMs + 30_000,
      intervalMs: 500,
      description: `${ALERT} firing for ${ns.name}/${MDEP} (expr: ${rule?.expr})`,
    });
    expect(state).toBe("firing");
    // Prometheus never saw the rolled_back counter at 0, the case increase() misses.
    const selector = `namespace="${ns.name}",name="${MDEP}",outcome="rolled_back"`;
    expect(await queryValue(url, `min_over_time(modelops_rollout_total{${selector}}[5m])`)).toBe(1);

    // Pointing spec back at the serving version ends the rolled-back state, and the alert.
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest(MDEP, "iris-classifier-v1", STRATEGY));
    await waitStatus(ns, MDEP, (s) => s.phase === "Available", "v1 Available again");
    await waitFor(async () => (await alertState()) === undefined, {
      timeoutMs: 30_000,
      intervalMs: 500,
      description: `${ALERT} resolved for ${ns.name}/${MDEP}`,
    });
  });
});
