// DriftMonitor metrics an SRE alerts on: the score of every compared feature,
// the verdict of every monitor, and the actions taken.
import type { Registry } from "prom-client";
import { DRIFT_VERDICTS } from "../../api/index.ts";
import { counterOn, gaugeOn } from "../../runtime/metrics.ts";
import type { ActionOutcome } from "./actions.ts";

type Scored = { name: string; method: string; score: number };

const SCORE = "modelops_drift_score";
/** Series set last per monitor, so features that went away (or a deleted monitor) lose theirs. */
const recorded = new WeakMap<Registry, Map<string, Scored[]>>();
const keyOf = (m: { namespace: string; name: string }) => `${m.namespace}/${m.name}`;
function remembered(registry: Registry): Map<string, Scored[]> {
  let map = recorded.get(registry);
  if (!map) {
    map = new Map();
    recorded.set(registry, map);
  }
  return map;
}
const STATUS = "modelops_drift_status";

function scoreGauge(registry: Registry) {
  return gaugeOn(registry, {
    name: SCORE,
    help: "Drift score of a feature or prediction at the last evaluation (a distance, or a test statistic for ks and chiSquare).",
    labelNames: ["namespace", "name", "feature", "method"],
  });
}

function statusGauge(registry: Registry) {
  return gaugeOn(registry, {
    name: STATUS,
    help: "1 for the DriftMonitor's verdict (NoDrift, Warning, Critical, InsufficientData, Unknown), 0 for the others.",
    labelNames: ["namespace", "name", "verdict"],
  });
}

export function recordDriftMetrics(
  registry: Registry,
  monitor: { namespace: string; name: string },
  verdict: string,
  all: (Scored & { status?: string })[],
): void {
  // A feature without data or that could not be read has no score; 0 would read as "no drift".
  const features = all.filter((f) => f.status !== "InsufficientData" && f.status !== "Unknown");
  const score = scoreGauge(registry);
  const previous = remembered(registry).get(keyOf(monitor)) ?? [];
  remembered(registry).set(keyOf(monitor), features);
  for (const f of previous) {
    if (!features.some((x) => x.name === f.name && x.method === f.method))
      score.remove({ ...monitor, feature: f.name, method: f.method });
  }
  for (const f of features) score.set({ ...monitor, feature: f.name, method: f.method }, f.score);
  const status = statusGauge(registry);
  for (const v of DRIFT_VERDICTS) status.set({ ...monitor, verdict: v }, v === verdict ? 1 : 0);
}

export function countDriftActions(
  registry: Registry,
  monitor: { namespace: string; name: string },
  outcomes: ActionOutcome[],
): void {
  const total = counterOn(registry, {
    name: "modelops_drift_actions_total",
    help: "Actions run on Critical drift (event, rollback, retrainJob, webhook), by result: ok or failed.",
    labelNames: ["namespace", "name", "action", "result"],
  });
  total.inc({ ...monitor, action: "event", result: "ok" });
  for (const o of outcomes) total.inc({ ...monitor, action: o.action, result: o.ok ? "ok" : "failed" });
}

/** Forget a deleted DriftMonitor's series. */
export function forgetDriftMetrics(registry: Registry, monitor: { namespace: string; name: string }): void {
  const score = scoreGauge(registry);
  for (const f of remembered(registry).get(keyOf(monitor)) ?? []) {
    score.remove({ ...monitor, feature: f.name, method: f.method });
  }
  remembered(registry).delete(keyOf(monitor));
  const status = statusGauge(registry);
  for (const v of DRIFT_VERDICTS) status.remove({ ...monitor, verdict: v });
}
