// Promotion gates (spec.gates): whether a candidate ModelVersion may start
// rolling out, judged from its stage and offline metrics and those of the
// version serving now. Pure.
import { GATE_PATTERN, type GateResult, type Gates, type ModelVersion } from "../api/index.ts";

type Comparison = ">=" | "<=" | ">" | "<";

export type MetricGate = {
  metric: string;
  op: Comparison;
  /** An absolute bound, or one derived from the serving version's value. */
  bound: { absolute: number } | { stable: true; apply?: { op: "+" | "-" | "*"; operand: number } };
};

const GATE = new RegExp(GATE_PATTERN);

/** Undefined when the text is not a gate (the CRD's CEL rule refuses those first). */
export function parseMetricGate(text: string): MetricGate | undefined {
  const m = GATE.exec(text);
  if (!m) return undefined;
  const [, metric, op, stable, stableOp, operand, absolute] = m;
  if (stable) {
    const apply = stableOp ? { op: stableOp as "+" | "-" | "*", operand: Number(operand) } : undefined;
    return {
      metric: metric as string,
      op: op as Comparison,
      bound: { stable: true, ...(apply ? { apply } : {}) },
    };
  }
  return { metric: metric as string, op: op as Comparison, bound: { absolute: Number(absolute) } };
}

export type GateVerdict = { passed: boolean; results: GateResult[]; message: string };

/**
 * The version serving now: its ModelVersion, the name of one that no longer
 * exists, or undefined when nothing serves (relative gates then pass, and
 * say so).
 */
export type Serving = ModelVersion | { missing: string } | undefined;

/** Every gate's verdict for `candidate`. */
export function evaluateGates(gates: Gates, candidate: ModelVersion, serving: Serving): GateVerdict {
  const results: GateResult[] = [];
  if (gates.stages) {
    const stage = candidate.spec.stage ?? "None";
    const passed = (gates.stages as string[]).includes(stage);
    results.push({
      gate: `stage in [${gates.stages.join(", ")}]`,
      passed,
      message: `${candidate.metadata.name} is in stage ${stage}`,
    });
  }
  for (const text of gates.metrics ?? []) results.push(metricResult(text, candidate, serving));
  const failed = results.filter((r) => !r.passed);
  const message =
    failed.length > 0
      ? `${candidate.metadata.name} fails ${failed.length === 1 ? "a gate" : `${failed.length} gates`}: ${failed.map(describe).join("; ")}`
      : `${candidate.metadata.name} passes every gate: ${results.map(describe).join("; ")}`;
  return { passed: failed.length === 0, results, message };
}

function describe(r: GateResult): string {
  return `${r.gate} (${r.message})`;
}

function metricResult(text: string, candidate: ModelVersion, serving: Serving): GateResult {
  const gate = parseMetricGate(text);
  if (!gate) return { gate: text, passed: false, message: "not a gate; see spec.gates.metrics" };
  const value = candidate.spec.metrics?.[gate.metric];
  if (value === undefined)
    return { gate: text, passed: false, message: `${candidate.metadata.name} has no metric ${gate.metric}` };
  if ("absolute" in gate.bound) {
    const threshold = gate.bound.absolute;
    const passed = compare(value, gate.op, threshold);
    return { gate: text, passed, value, threshold, message: `${gate.metric} is ${value}` };
  }
  if (!serving)
    return {
      gate: text,
      passed: true,
      value,
      message: "nothing serves yet, so there is nothing to compare with",
    };
  if ("missing" in serving)
    return {
      gate: text,
      passed: false,
      value,
      message: `the serving version ${serving.missing} no longer exists`,
    };
  const stableValue = serving.spec.metrics?.[gate.metric];
  if (stableValue === undefined) {
    return {
      gate: text,
      passed: false,
      value,
      message: `the serving version ${serving.metadata.name} has no metric ${gate.metric} to compare with`,
    };
  }
  const threshold = derive(stableValue, gate.bound.apply);
  const passed = compare(value, gate.op, threshold);
  return {
    gate: text,
    passed,
    value,
    stableValue,
    threshold,
    message: `${gate.metric} is ${value}; ${serving.metadata.name} has ${stableValue}, so the bound is ${round(threshold)}`,
  };
}

function derive(stable: number, apply: { op: "+" | "-" | "*"; operand: number } | undefined): number {
  if (!apply) return stable;
  if (apply.op === "+") return stable + apply.operand;
  if (apply.op === "-") return stable - apply.operand;
  return stable * apply.operand;
}

function compare(value: number, op: Comparison, bound: number): boolean {
  if (op === ">=") return value >= bound;
  if (op === "<=") return value <= bound;
  if (op === ">") return value > bound;
  return value < bound;
}

/** Enough digits to read, without float noise like 0.9500000000000001. */
function round(n: number): number {
  return Number(n.toPrecision(6));
}
