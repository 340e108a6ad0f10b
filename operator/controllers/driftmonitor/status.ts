// The DriftMonitor's next status and Events from one evaluation. Pure.
import type { DriftMonitor, DriftMonitorStatus } from "../../api/index.ts";
import type { Evaluation, FeatureResult } from "../../drift/evaluate.ts";
import { type Condition, kubeTime, removeCondition, setCondition } from "../../runtime/conditions.ts";
import { withReconciled } from "../../runtime/reconcile-errors.ts";
import type { ActionOutcome } from "./actions.ts";
import { retrainJobProblems } from "./retrain-policy.ts";

/** Whether the retraining Job the spec asks for would be created; absent without retrainJob. */
export const RETRAIN_JOB_ALLOWED = "RetrainJobAllowed";

export type Outcome =
  | { kind: "evaluated"; evaluation: Evaluation }
  | { kind: "failed"; reason: string; message: string };
export type DriftEvent = { type: "Normal" | "Warning"; reason: string; message: string };

export interface StatusInput {
  dm: DriftMonitor;
  outcome: Outcome;
  criticalSince: string | undefined;
  actions: ActionOutcome[] | undefined;
  now: Date;
}

export function statusFeature(r: FeatureResult) {
  return {
    name: r.name,
    kind: r.kind,
    method: r.method,
    score: r.score,
    ...(r.pValue === undefined ? {} : { pValue: r.pValue }),
    sampleSize: r.sampleSize,
    status: r.status,
    ...(r.problem ? { message: r.problem.slice(0, 1024) } : {}),
  };
}

export function composeDriftStatus(input: StatusInput): DriftMonitorStatus {
  const { dm, outcome, now } = input;
  const previous = dm.status ?? {};
  const verdict = outcome.kind === "evaluated" ? outcome.evaluation.verdict : "Unknown";
  const message = outcome.kind === "evaluated" ? outcome.evaluation.message : outcome.message;
  const conditions = withReconciled(
    retrainCondition(
      dm,
      setCondition(
        previous.conditions as Condition[] | undefined,
        driftCondition(outcome),
        dm.metadata.generation,
        now,
      ),
      now,
    ),
    dm.metadata.generation,
    now,
  );
  const status: DriftMonitorStatus = {
    verdict,
    message,
    lastEvaluationTime: kubeTime(now),
    observedGeneration: dm.metadata.generation ?? 0,
    conditions,
    // A failed evaluation keeps the last scores: they are still the best knowledge.
    ...(outcome.kind === "evaluated"
      ? {
          sampleSize: outcome.evaluation.sampleSize,
          features: outcome.evaluation.features.map(statusFeature),
        }
      : pick(previous, ["sampleSize", "features"])),
    ...(input.criticalSince ? { criticalSince: input.criticalSince } : {}),
    ...pick(previous, ["lastActionTime", "lastActionResult"]),
  };
  if (input.actions) {
    status.lastActionTime = kubeTime(now);
    status.lastActionResult = ["event recorded", ...input.actions.map((a) => a.message)]
      .join("; ")
      .slice(0, 4096);
  }
  return status;
}

function pick<T extends object, K extends keyof T>(obj: T, keys: K[]): Partial<T> {
  const out: Partial<T> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

/** Said before any drift, so the author learns at apply time that the Job would be refused. */
function retrainCondition(dm: DriftMonitor, conditions: Condition[], now: Date): Condition[] {
  const retrain = dm.spec.actions?.retrainJob;
  if (!retrain) return removeCondition(conditions, RETRAIN_JOB_ALLOWED);
  const problems = retrainJobProblems(retrain.template);
  const input =
    problems.length === 0
      ? {
          type: RETRAIN_JOB_ALLOWED,
          status: "True" as const,
          reason: "Allowed",
          message: "the retraining Job template may be created",
        }
      : {
          type: RETRAIN_JOB_ALLOWED,
          status: "False" as const,
          reason: "TemplateNotAllowed",
          message:
            `no retraining Job will be created until spec.actions.retrainJob.template is fixed: ${problems.join("; ")}`.slice(
              0,
              4096,
            ),
        };
  return setCondition(conditions, input, dm.metadata.generation, now);
}

function driftCondition(outcome: Outcome) {
  const type = "DriftDetected";
  if (outcome.kind === "failed") {
    return { type, status: "Unknown" as const, reason: outcome.reason, message: outcome.message };
  }
  const { verdict, message } = outcome.evaluation;
  if (verdict === "Critical" || verdict === "Warning")
    return { type, status: "True" as const, reason: verdict, message };
  if (verdict === "NoDrift") return { type, status: "False" as const, reason: "NoDrift", message };
  return { type, status: "Unknown" as const, reason: verdict, message };
}

/** An Event when the verdict changes, and one per action taken. */
export function driftEvents(
  previous: DriftMonitorStatus | undefined,
  next: DriftMonitorStatus,
  actions: ActionOutcome[] | undefined,
): DriftEvent[] {
  const events: DriftEvent[] = [];
  const reason =
    next.conditions?.find((c) => c.type === "DriftDetected")?.reason ?? next.verdict ?? "Unknown";
  const before = previous?.conditions?.find((c) => c.type === "DriftDetected")?.reason ?? previous?.verdict;
  if (reason !== before) {
    const bad = next.verdict === "Critical" || next.verdict === "Warning" || next.verdict === "Unknown";
    events.push({
      type: bad ? "Warning" : "Normal",
      reason: eventReason(next.verdict, reason),
      message: next.message ?? "",
    });
  }
  const refused = next.conditions?.find((c) => c.type === RETRAIN_JOB_ALLOWED && c.status === "False");
  const wasRefused = previous?.conditions?.find(
    (c) => c.type === RETRAIN_JOB_ALLOWED && c.status === "False",
  );
  if (refused && refused.message !== wasRefused?.message) {
    events.push({ type: "Warning", reason: "RetrainJobNotAllowed", message: refused.message });
  }
  for (const a of actions ?? []) {
    events.push({
      type: a.ok ? "Normal" : "Warning",
      reason: a.ok ? "DriftActionTaken" : "DriftActionFailed",
      message: a.message,
    });
  }
  return events;
}

function eventReason(verdict: string | undefined, conditionReason: string): string {
  switch (verdict) {
    case "Critical":
      return "DriftCritical";
    case "Warning":
      return "DriftWarning";
    case "NoDrift":
      return "NoDrift";
    case "InsufficientData":
      return "InsufficientData";
    default:
      return conditionReason;
  }
}
