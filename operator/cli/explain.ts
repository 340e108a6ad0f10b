// `explain` and `drift`: answers to "why is it paused / rolled back?" and
// "what did the last drift check say?" built only from status, so they work
// for any user who can read the objects.
import type { AnalysisRunStatus, Condition, DriftMonitor } from "../api/index.ts";
import { type Mdep, table } from "./render.ts";

/**
 * A suggested command, ready to paste: `-n NS` unless the object lives in the
 * namespace commands use without it (the kubeconfig context's, else "default").
 */
function hint(m: Mdep, defaultNamespace: string, args: string): string {
  const ns = m.metadata.namespace;
  return `${args}${ns && ns !== defaultNamespace ? ` -n ${ns}` : ""}`;
}

/** Aligns the `# why` comments of suggested commands. */
function withComments(lines: [string, string][]): string[] {
  const width = Math.max(...lines.map(([c]) => c.length));
  return lines.map(([c, why]) => (why ? `${c.padEnd(width)}  # ${why}` : c));
}

function failingMetrics(runs: AnalysisRunStatus[] | undefined): string[] {
  const lines: string[] = [];
  for (const run of runs ?? []) {
    if (run.phase === "Successful" || run.phase === "Running") continue;
    lines.push(`- analysis ${run.name} is ${run.phase}${run.message ? `: ${run.message}` : ""}`);
    for (const metric of run.metrics ?? []) {
      if (metric.phase === "Successful") continue;
      const value = metric.value === undefined ? "no value" : `value ${metric.value}`;
      const stable = metric.stableValue === undefined ? "" : `, stable ${metric.stableValue}`;
      lines.push(
        `    ${metric.name}: ${metric.phase} (${value}${stable})${metric.message ? ` ${metric.message}` : ""}`,
      );
    }
  }
  return lines;
}

function conditionLines(conditions: Condition[] | undefined): string[] {
  return (conditions ?? [])
    .filter((c) => c.status !== "True" || c.type === "Progressing")
    .map((c) => `- condition ${c.type}=${c.status} (${c.reason ?? "-"}): ${c.message ?? ""}`);
}

function nextSteps(m: Mdep, defaultNamespace: string): string[] {
  const s = m.status ?? {};
  const plugin = (args: string) => hint(m, defaultNamespace, `kubectl modelops ${args} ${m.metadata.name}`);
  if (s.phase === "Paused" && s.pauseReason === "GatesFailed")
    return [
      ...withComments([
        [
          hint(
            m,
            defaultNamespace,
            `kubectl patch mv ${m.spec.modelVersion} --type=merge -p '{"spec":{"stage":"Production"}}'`,
          ),
          "once it is approved",
        ],
      ]),
      `or point spec.modelVersion at a version that passes, back at ${s.stableVersion ?? "the stable version"}, or change spec.gates`,
    ];
  if (s.phase === "Paused" && m.spec.paused)
    return withComments([[plugin("resume"), "spec.paused is true: let the rollout continue"]]);
  if (s.phase === "Paused")
    return withComments([
      [plugin("promote"), "continue to the next step"],
      [`${plugin("promote")} --full`, "skip all remaining steps"],
      [plugin("abort"), `send all traffic back to ${s.stableVersion ?? "stable"}`],
    ]);
  if (s.phase === "RolledBack")
    return [
      ...withComments([[plugin("retry"), `roll ${s.canaryVersion || "the new version"} out again`]]),
      `or change spec.modelVersion to a fixed version`,
    ];
  if (s.canaryVersion) return [`${plugin("status")} --watch`];
  return [];
}

/** A headline for the phase followed by the evidence in status. */
export function renderExplain(m: Mdep, defaultNamespace = "default"): string {
  const s = m.status ?? {};
  const name = m.metadata.name;
  const lines: string[] = [];
  switch (s.phase) {
    case "Paused":
      lines.push(`${name} is paused: ${s.pauseReason ?? "reason not recorded"}.`);
      break;
    case "RolledBack": {
      const last = s.history?.[0];
      const what = last ? `${last.version} was ${last.result === "Promoted" ? "undone" : "rolled back"}` : "";
      lines.push(
        `${name} rolled back${what ? `: ${what}` : ""}; ${s.stableVersion ?? "the stable version"} serves.`,
      );
      if (last?.message) lines.push(`- reason: ${last.message}`);
      break;
    }
    case undefined:
      lines.push(`${name} has no status yet: the operator has not reconciled it.`);
      break;
    default:
      lines.push(`${name} is ${s.phase}, nothing is holding it.`);
  }
  if (s.message) lines.push(`- message: ${s.message}`);
  lines.push(...failingMetrics(s.analysisRuns), ...conditionLines(s.conditions));
  if (s.lastHandledAction) lines.push(`- last action handled: ${s.lastHandledAction}`);
  const next = nextSteps(m, defaultNamespace);
  if (next.length) lines.push("Next:", ...next.map((l) => `  ${l}`));
  return lines.join("\n");
}

/** What the plugin reads of a DriftMonitor. */
export type DriftMonitorView = Pick<DriftMonitor, "metadata" | "status">;

const VERDICT_ORDER = ["Critical", "Warning", "Unknown", "InsufficientData", "NoDrift"];

export function renderDrift(dm: DriftMonitorView): string {
  const s = dm.status;
  if (!s?.lastEvaluationTime && !s?.verdict)
    return `${dm.metadata.name}: no drift report yet (the monitor has not evaluated).`;
  const lines = [
    `DriftMonitor: ${dm.metadata.name}`,
    `Verdict:      ${s.verdict ?? "-"}`,
    `Evaluated:    ${s.lastEvaluationTime ?? "-"} over ${s.sampleSize ?? 0} requests`,
    `Message:      ${s.message ?? "-"}`,
  ];
  if (s.lastActionTime) lines.push(`Last actions: ${s.lastActionTime}`);
  const features = [...(s.features ?? [])].sort(
    (a, b) => VERDICT_ORDER.indexOf(a.status) - VERDICT_ORDER.indexOf(b.status) || b.score - a.score,
  );
  if (features.length) {
    const rows = [["FEATURE", "KIND", "METHOD", "SCORE", "P-VALUE", "VERDICT"]];
    for (const f of features)
      rows.push([f.name, f.kind ?? "-", f.method, f.score.toFixed(4), f.pValue?.toFixed(4) ?? "-", f.status]);
    lines.push(table(rows));
  }
  lines.push(...conditionLines(s.conditions));
  return lines.join("\n");
}
