// Pure text renderings of ModelDeployment and DriftMonitor status for the
// kubectl-modelops plugin. Kept free of I/O so unit tests pin the wording
// SREs read during an incident.
import type { AnalysisRunStatus, ModelDeployment, ModelDeploymentStatus } from "../api/index.ts";

/** What the plugin reads of a ModelDeployment. */
export type Mdep = Pick<ModelDeployment, "metadata" | "spec" | "status">;

/** Pod counts by revision: ready / total. */
export type PodsByRevision = Map<string, { ready: number; total: number; version?: string }>;

/** Aligns rows into columns separated by three spaces, as kubectl does. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join("   ")
        .trimEnd(),
    )
    .join("\n");
}

/** `get`: `allNamespaces` (-A) adds NAMESPACE first, `wide` (-o wide) the spec and the message. */
export function renderList(items: Mdep[], opts: { allNamespaces?: boolean; wide?: boolean } = {}): string {
  if (items.length === 0) return "No ModelDeployments found.";
  const head = ["NAME", "PHASE", "STABLE", "CANARY", "WEIGHT", "STEP", "READY"];
  const rows = [[...(opts.allNamespaces ? ["NAMESPACE"] : []), ...head, ...(opts.wide ? WIDE : [])]];
  for (const m of items) {
    const s = m.status ?? {};
    const row = [
      m.metadata.name,
      s.phase ?? "-",
      s.stableVersion ?? "-",
      s.canaryVersion || "-",
      s.canaryVersion ? `${s.canaryWeight ?? 0}%` : "-",
      stepLabel(m),
      `${s.readyReplicas ?? 0}/${m.spec.replicas ?? "-"}`,
    ];
    if (opts.allNamespaces) row.unshift(m.metadata.namespace ?? "-");
    if (opts.wide)
      row.push(m.spec.modelVersion, strategyName(m), m.spec.paused ? "true" : "false", s.message ?? "");
    rows.push(row);
  }
  return table(rows);
}

const WIDE = ["MODELVERSION", "STRATEGY", "PAUSED", "MESSAGE"];

function canarySteps(m: Mdep) {
  return m.spec.strategy?.canary?.steps;
}

function strategyName(m: Mdep): string {
  return Object.keys(m.spec.strategy ?? {})[0] ?? "none";
}

/** Canary: the step (2/5) while stepping; otherwise the stage (Preview, Mirroring, Promoting...). */
function stepLabel(m: Mdep): string {
  const s = m.status;
  if (!s?.canaryVersion || s.phase === "RolledBack") return "-";
  const steps = canarySteps(m);
  const index = s.currentStepIndex;
  if (steps && index !== undefined && (s.stage ?? "Steps") === "Steps")
    return `${Math.min(index + 1, steps.length)}/${steps.length}`;
  return s.stage ?? "-";
}

/** One line per canary step, marking done, current and pending ones. */
function renderSteps(m: Mdep): string[] {
  const steps = canarySteps(m);
  if (!steps) return [];
  const index = m.status?.canaryVersion ? (m.status.currentStepIndex ?? 0) : steps.length;
  return steps.map((step, i) => {
    const mark = i < index ? "done   " : i === index ? "current" : "pending";
    return `  ${String(i + 1).padStart(2)}. [${mark}] ${describeStep(step)}`;
  });
}

function describeStep(step: unknown): string {
  const s = step as Record<string, unknown>;
  if (typeof s.setWeight === "number") return `setWeight ${s.setWeight}%`;
  if (s.pause !== undefined) {
    const d = (s.pause as { duration?: string } | null)?.duration;
    return d ? `pause ${d}` : "pause until promoted";
  }
  if (s.analysis !== undefined) {
    const metrics = (s.analysis as { metrics?: { name: string }[] }).metrics ?? [];
    return `analysis (${metrics.map((x) => x.name).join(", ") || "no metrics"})`;
  }
  return JSON.stringify(step);
}

const num = (v: number | undefined) => (v === undefined ? "-" : String(Number(v.toPrecision(4))));

function renderAnalysis(runs: AnalysisRunStatus[] | undefined): string[] {
  if (!runs?.length) return ["  (none)"];
  const lines: string[] = [];
  for (const run of runs) {
    const counts = `ok ${run.successful ?? 0}, failed ${run.failed ?? 0}, inconclusive ${run.inconclusive ?? 0}, errors ${run.errors ?? 0}`;
    lines.push(`  ${run.name}: ${run.phase} (${counts})`);
    const rows = [["    METRIC", "PHASE", "VALUE", "STABLE", "MESSAGE"]];
    for (const metric of run.metrics ?? []) {
      rows.push([
        `    ${metric.name}`,
        metric.phase,
        num(metric.value),
        num(metric.stableValue),
        metric.message ?? "",
      ]);
    }
    if (rows.length > 1) lines.push(table(rows));
  }
  return lines;
}

function renderPods(pods: PodsByRevision, s: ModelDeploymentStatus): string[] {
  if (pods.size === 0) return ["  (no pods)"];
  const role = (rev: string) =>
    rev === s.stableRevision ? "stable" : rev === s.canaryRevision ? "canary" : "retiring";
  const rows = [["  REVISION", "ROLE", "VERSION", "READY"]];
  for (const [rev, p] of pods) rows.push([`  ${rev}`, role(rev), p.version ?? "-", `${p.ready}/${p.total}`]);
  return [table(rows)];
}

export function renderStatus(m: Mdep, pods: PodsByRevision): string {
  const s = m.status ?? {};
  const lines = [
    `Name:      ${m.metadata.name}`,
    `Namespace: ${m.metadata.namespace ?? "-"}`,
    `Strategy:  ${strategyName(m)}`,
    `Phase:     ${s.phase ?? "-"}${s.pauseReason ? ` (${s.pauseReason})` : ""}${s.canaryVersion && s.stage ? `, stage ${s.stage}` : ""}`,
    `Stable:    ${s.stableVersion ?? "-"}${s.stableRevision ? ` (${s.stableRevision})` : ""}`,
    `Canary:    ${s.canaryVersion ? `${s.canaryVersion} (${s.canaryRevision ?? "-"})` : "-"}`,
    `Weight:    ${s.canaryVersion ? `${s.canaryWeight ?? 0}%` : "-"}${s.trafficMessage ? ` — ${s.trafficMessage}` : ""}`,
    `Message:   ${s.message ?? "-"}`,
  ];
  const steps = renderSteps(m);
  if (steps.length) lines.push("Steps:", ...steps);
  lines.push("Analysis:", ...renderAnalysis(s.analysisRuns));
  lines.push("Pods:", ...renderPods(pods, s));
  return lines.join("\n");
}

export function renderHistory(m: Mdep): string {
  const history = m.status?.history ?? [];
  if (history.length === 0) return `${m.metadata.name}: no finished rollouts yet.`;
  const rows = [["VERSION", "REVISION", "RESULT", "SET BY", "STARTED", "ENDED", "MESSAGE"]];
  for (const h of history) {
    const setBy = h.setBy?.manager ?? "-";
    rows.push([
      h.version,
      h.revision ?? "-",
      h.result,
      setBy,
      h.startTime ?? "-",
      h.time ?? "-",
      h.message ?? "",
    ]);
  }
  const evidence = history.flatMap(renderEvidence);
  return [table(rows), ...(evidence.length > 0 ? ["", "Evidence:", ...evidence] : [])].join("\n");
}

type HistoryEntry = NonNullable<NonNullable<Mdep["status"]>["history"]>[number];

/** Who put a version in, on which gates and analyses: "who put this model into production, on what evidence". */
function renderEvidence(h: HistoryEntry): string[] {
  if (!h.setBy && !h.gates?.length && !h.analyses?.length) return [];
  const lines = [`  ${h.version} (${h.result}${h.time ? ` ${h.time}` : ""})`];
  if (h.setBy) {
    const how = [h.setBy.operation, h.setBy.time && `at ${h.setBy.time}`].filter(Boolean).join(" ");
    lines.push(`    spec.modelVersion set by ${h.setBy.manager}${how ? ` (${how})` : ""}`);
  }
  for (const g of h.gates ?? [])
    lines.push(`    gate ${g.passed ? "passed" : "FAILED"}: ${g.gate} — ${g.message ?? ""}`);
  for (const a of h.analyses ?? []) {
    const values = (a.metrics ?? []).map(
      (m) => `${m.name}=${m.value ?? "-"}${m.stableValue !== undefined ? ` (stable ${m.stableValue})` : ""}`,
    );
    lines.push(`    analysis ${a.name}: ${a.phase}${values.length > 0 ? `, ${values.join(", ")}` : ""}`);
  }
  return lines;
}
