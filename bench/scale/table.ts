// The benchmark's report: one markdown table per N with both controllers,
// the ratio ours/Argo, and the goals marked met or missed.
import { describeWrites, total, writes } from "./audit.ts";
import { type Phase, type PhaseName, type SubjectResult, settleSeconds } from "./run.ts";

interface Row {
  label: string;
  value: (r: SubjectResult) => number | undefined;
  digits: number;
  /** Goal on ours/Argo, or on ours alone ("= 0"). */
  goal?: { text: string; met: (ours: number, argo: number) => boolean };
}

const phase = (r: SubjectResult, name: PhaseName): Phase | undefined => r.phases.find((p) => p.name === name);
const complete = (r: SubjectResult, name: PhaseName) => {
  const p = phase(r, name);
  return p?.complete ? p : undefined;
};
const seconds = (p: Phase | undefined) => (p ? (p.endMs - p.startMs) / 1000 : undefined);
const atMost = (x: number) => ({
  text: `<= ${x.toFixed(1)}x Argo`,
  met: (o: number, a: number) => o <= x * a,
});

const sum = (ps: Array<Phase | undefined>, f: (p: Phase) => number) =>
  ps.every((p) => p) ? ps.reduce((a, p) => a + f(p as Phase), 0) : undefined;
const idle = (r: SubjectResult) => [phase(r, "settle"), phase(r, "steady")];
const w = (p: Phase | undefined) => (p ? writes(p.requests) : undefined);
const all = (p: Phase | undefined) => (p ? total(p.requests) : undefined);

function rows(idleSeconds: number): Row[] {
  const steadyS = idleSeconds - settleSeconds(idleSeconds);
  return [
    {
      label: "time to all Available (s)",
      value: (r) => seconds(complete(r, "deploy")),
      digits: 1,
      goal: atMost(0.8),
    },
    {
      label: "time to all rolled (s)",
      value: (r) => seconds(complete(r, "bump")),
      digits: 1,
      goal: atMost(0.8),
    },
    {
      label: "peak RSS (MiB)",
      value: (r) => (r.phases.length ? Math.max(...r.phases.map((p) => p.peakMiB)) : undefined),
      digits: 0,
      goal: atMost(1.0),
    },
    { label: "RSS at start (MiB)", value: (r) => r.startRssMiB, digits: 0 },
    { label: "RSS at end of idle (MiB)", value: (r) => phase(r, "steady")?.endRssMiB, digits: 0 },
    { label: "CPU s, deploy", value: (r) => phase(r, "deploy")?.cpuS, digits: 1 },
    { label: "CPU s, bump", value: (r) => phase(r, "bump")?.cpuS, digits: 1 },
    { label: `CPU s, ${idleSeconds} s idle`, value: (r) => sum(idle(r), (p) => p.cpuS), digits: 2 },
    {
      label: `CPU s, steady state (last ${steadyS} s of idle)`,
      value: (r) => phase(r, "steady")?.cpuS,
      digits: 2,
      goal: atMost(1.0),
    },
    { label: "API writes, deploy", value: (r) => w(phase(r, "deploy")), digits: 0 },
    { label: "API writes, bump", value: (r) => w(phase(r, "bump")), digits: 0 },
    { label: "API requests (all verbs), deploy", value: (r) => all(phase(r, "deploy")), digits: 0 },
    { label: "API requests (all verbs), bump", value: (r) => all(phase(r, "bump")), digits: 0 },
    {
      label: `API writes, ${idleSeconds} s idle`,
      value: (r) => sum(idle(r), (p) => writes(p.requests)),
      digits: 0,
    },
    {
      label: `API writes at steady state (last ${steadyS} s)`,
      value: (r) => w(phase(r, "steady")),
      digits: 0,
      goal: { text: "= 0", met: (o) => o === 0 },
    },
  ];
}

function fmt(x: number | undefined, digits: number): string {
  return x === undefined
    ? "—"
    : x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** What a missing figure means: the phase did not finish (how far it got). */
function missing(r: SubjectResult, label: string): string {
  const p = label.includes("rolled") ? phase(r, "bump") : phase(r, "deploy");
  return p && !p.complete ? `stuck at ${p.done}/${r.n}` : "—";
}

export function renderTable(ours: SubjectResult, argo: SubjectResult, idleSeconds: number): string {
  const out = [
    `### N = ${ours.n}`,
    "",
    `| | ${ours.subject} | ${argo.subject} | ratio | goal | |`,
    "|---|---:|---:|---:|---|---|",
  ];
  for (const row of rows(idleSeconds)) {
    const o = row.value(ours);
    const a = row.value(argo);
    const ratio = o !== undefined && a !== undefined && a > 0 ? `${(o / a).toFixed(2)}x` : "—";
    let verdict = "";
    if (row.goal)
      verdict = o === undefined || a === undefined ? "missed" : row.goal.met(o, a) ? "met" : "missed";
    out.push(
      `| ${row.label} | ${o === undefined ? missing(ours, row.label) : fmt(o, row.digits)} | ` +
        `${a === undefined ? missing(argo, row.label) : fmt(a, row.digits)} | ${ratio} | ${row.goal?.text ?? ""} | ${verdict} |`,
    );
  }
  out.push("", "The controller's writes per phase:");
  for (const r of [ours, argo]) {
    out.push(`- ${r.subject}:`);
    for (const p of r.phases) out.push(`  - ${p.name}: ${describeWrites(p.requests)}`);
  }
  for (const r of [ours, argo]) if (r.failure) out.push("", `${r.subject} did not finish: ${r.failure}`);
  return out.join("\n");
}
