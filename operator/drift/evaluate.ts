// One drift evaluation: per-feature scores, multiple-testing correction,
// thresholds and the overall verdict. Pure; the controller supplies the
// aligned reference and live counts.
import {
  DEFAULT_THRESHOLDS,
  type DriftMethod,
  type FeatureDriftStatus,
  isTest,
} from "../api/driftmonitor.ts";
import type { Aligned } from "./align.ts";
import { type Correction, correct } from "./correction.ts";
import { chiSquare, jensenShannon, kolmogorovSmirnov, psi, total, wasserstein } from "./stats.ts";

export type FeatureType = "numeric" | "categorical";
export type Verdict = FeatureDriftStatus["status"];

export interface FeatureInput extends Aligned {
  name: string;
  kind: "Feature" | "Prediction";
  type: FeatureType;
  /** Omitted: chosen by type and sample size (defaultMethod). */
  method?: DriftMethod | undefined;
  warning?: number | undefined;
  critical?: number | undefined;
  /** Set when the live distribution could not be read (e.g. histogram buckets do not match the edges). */
  problem?: string | undefined;
}

export interface EvaluationInput {
  features: FeatureInput[];
  minSampleSize: number;
  correction: Correction;
  /** Training rows behind the reference; makes KS a two-sample test. */
  referenceSampleSize?: number | undefined;
}

export interface FeatureResult extends FeatureDriftStatus {
  sampleSize: number;
  /** Why the feature could not be scored, when status is Unknown. */
  problem?: string;
}

export interface Evaluation {
  verdict: Verdict;
  sampleSize: number;
  features: FeatureResult[];
  message: string;
}

/**
 * Sample size up to which a test is used, as Evidently does: with few values
 * a test (KS, chi-square at p < 0.05) tells noise from drift; with many, any
 * tiny difference is "significant", so a distance with a fixed threshold
 * (normed Wasserstein, Jensen–Shannon at 0.1) judges whether it matters.
 */
export const SMALL_SAMPLE = 1000;

export function defaultMethod(type: FeatureType, sampleSize: number): DriftMethod {
  if (type === "numeric") return sampleSize <= SMALL_SAMPLE ? "ks" : "wasserstein";
  return sampleSize <= SMALL_SAMPLE ? "chiSquare" : "jensenShannon";
}

const NUMERIC_ONLY: DriftMethod[] = ["ks", "wasserstein"];

type Scored = { score: number; pValue?: number } | { problem: string };

export function scoreFeature(f: FeatureInput, method: DriftMethod, referenceSampleSize?: number): Scored {
  if (f.type === "categorical" && NUMERIC_ONLY.includes(method)) {
    return { problem: `${method} needs an ordered (numeric) feature; use chiSquare, jensenShannon or psi` };
  }
  switch (method) {
    case "psi":
      return { score: psi(f.reference, f.live) };
    case "jensenShannon":
      return { score: jensenShannon(f.reference, f.live) };
    case "wasserstein":
      return { score: wasserstein(f.edges ?? [], f.reference, f.live) };
    case "ks": {
      const r = kolmogorovSmirnov(f.reference, f.live, referenceSampleSize);
      return { score: r.statistic, pValue: r.pValue };
    }
    case "chiSquare": {
      const r = chiSquare(f.reference, f.live);
      return { score: r.statistic, pValue: r.pValue };
    }
  }
}

export function evaluateDrift(input: EvaluationInput): Evaluation {
  const results = input.features.map((f) => scoreOne(f, input));
  applyCorrection(results, input.correction);
  for (const [i, r] of results.entries()) {
    if (r.status === "Unknown" || r.status === "InsufficientData") continue;
    r.status = judge(r, input.features[i] as FeatureInput);
  }
  const sampleSize = Math.max(0, ...results.map((r) => r.sampleSize));
  const verdict = overallVerdict(results);
  return {
    verdict,
    sampleSize,
    features: results,
    message: summarise(verdict, results, input.minSampleSize),
  };
}

function scoreOne(f: FeatureInput, input: EvaluationInput): FeatureResult {
  // A custom query may return any number, +Inf included; status holds an
  // int64 and the statistics need a finite total, so such counts are a problem.
  const liveTotal = total(f.live);
  const finite = Number.isFinite(liveTotal);
  const sampleSize = finite ? Math.min(Number.MAX_SAFE_INTEGER, Math.round(liveTotal)) : 0;
  const method = f.method ?? defaultMethod(f.type, sampleSize);
  const base = { name: f.name, kind: f.kind, method, sampleSize };
  if (f.problem) return { ...base, score: 0, status: "Unknown", problem: f.problem };
  if (!finite) {
    const problem =
      "the live counts add up to more than a number can hold (+Inf or above 1e308); check the query";
    return { ...base, score: 0, status: "Unknown", problem };
  }
  if (sampleSize < input.minSampleSize) return { ...base, score: 0, status: "InsufficientData" };
  const scored = scoreFeature(f, method, input.referenceSampleSize);
  if ("problem" in scored) return { ...base, score: 0, status: "Unknown", problem: scored.problem };
  if (Number.isNaN(scored.score) || Number.isNaN(scored.pValue)) {
    return { ...base, score: 0, status: "Unknown", problem: `${method} is undefined for these counts` };
  }
  return {
    ...base,
    // Huge counts can overflow a statistic to Infinity, which JSON (and so status) cannot hold.
    score: round(Math.max(-Number.MAX_VALUE, Math.min(Number.MAX_VALUE, scored.score))),
    ...(scored.pValue === undefined ? {} : { pValue: scored.pValue }),
    status: "NoDrift",
  };
}

function applyCorrection(results: FeatureResult[], correction: Correction): void {
  const tested = results.filter((r) => r.pValue !== undefined && r.status === "NoDrift");
  const corrected = correct(
    tested.map((r) => r.pValue as number),
    correction,
  );
  tested.forEach((r, i) => {
    r.pValue = round(corrected[i] as number);
  });
}

function judge(r: FeatureResult, f: FeatureInput): Verdict {
  const defaults = DEFAULT_THRESHOLDS[r.method];
  const warning = f.warning ?? defaults.warning;
  const critical = f.critical ?? defaults.critical;
  if (isTest(r.method)) {
    const p = r.pValue ?? 1;
    return p < critical ? "Critical" : p < warning ? "Warning" : "NoDrift";
  }
  return r.score >= critical ? "Critical" : r.score >= warning ? "Warning" : "NoDrift";
}

const SEVERITY: Verdict[] = ["Critical", "Warning", "Unknown", "InsufficientData", "NoDrift"];

/** The worst feature wins; a feature without data keeps the whole from claiming NoDrift. */
export function overallVerdict(results: readonly FeatureResult[]): Verdict {
  if (results.length === 0) return "Unknown";
  for (const v of SEVERITY) if (results.some((r) => r.status === v)) return v;
  return "NoDrift";
}

function summarise(verdict: Verdict, results: FeatureResult[], minSampleSize: number): string {
  const drifting = results.filter((r) => r.status === "Critical" || r.status === "Warning");
  const list = (rs: FeatureResult[]) =>
    rs
      .slice(0, 5)
      .map((r) => `${r.name} (${r.method} ${r.pValue === undefined ? r.score : `p=${r.pValue}`})`)
      .join(", ") + (rs.length > 5 ? `, and ${rs.length - 5} more` : "");
  switch (verdict) {
    case "Critical":
    case "Warning":
      return `${verdict} drift in ${drifting.length} of ${results.length}: ${list(drifting)}`;
    case "InsufficientData": {
      const few = results.filter((r) => r.status === "InsufficientData");
      return `fewer than minSampleSize=${minSampleSize} values in the window for ${few
        .map((r) => `${r.name} (${r.sampleSize})`)
        .slice(0, 5)
        .join(", ")}`;
    }
    case "Unknown": {
      const broken = results.filter((r) => r.status === "Unknown");
      return broken.length === 0
        ? "nothing to compare: the reference has no features or predictions"
        : broken
            .slice(0, 3)
            .map((r) => `${r.name}: ${r.problem}`)
            .join("; ");
    }
    default:
      return `no drift in ${results.length} feature(s) and prediction(s)`;
  }
}

/** Six significant digits: enough to judge, stable enough not to rewrite status for noise. */
function round(x: number): number {
  return Number(x.toPrecision(6));
}
