// The ModelDeployment's status from the rollout engine's decision and what
// is observed: replica counts for the scale subresource, and the conditions
// an SRE and kubectl wait read. Pure.
import {
  type Condition,
  clientServiceUrl,
  LABEL_DEPLOYMENT,
  type ModelDeployment,
  type ModelVersion,
} from "../../api/index.ts";
import type { GateVerdict } from "../../core/gates.ts";
import type { EngineEvent, RevisionState, RolloutDecision, Status } from "../../rollout/types.ts";
import { kubeTime, setCondition } from "../../runtime/conditions.ts";
import { withReconciled } from "../../runtime/reconcile-errors.ts";
import { describeFetchProblems, type FetchProblem } from "./fetch-problems.ts";

export type VersionLookup =
  | { state: "missing"; name: string }
  | { state: "invalid"; version: ModelVersion; message: string }
  | { state: "ready"; version: ModelVersion };

export type StatusInputs = {
  mdep: ModelDeployment;
  lookup: VersionLookup;
  decision: RolloutDecision;
  revisions: Map<string, RevisionState>;
  routerProblem: { reason: string; message: string } | undefined;
  scaling: { status: Status["autoscaling"]; problem: { reason: string; message: string } | undefined };
  /** The gates' verdict on a version that would start a rollout now (checkGates). */
  gates: GateVerdict | undefined;
  /** Live revisions whose pods cannot fetch their artifact. */
  fetching: FetchProblem[];
  now: Date;
};

export function composeStatus(s: StatusInputs): Status {
  const { mdep, lookup, decision } = s;
  const generation = mdep.metadata.generation ?? 0;
  const status: Status = { ...decision.status, observedGeneration: generation };
  if (s.gates && !s.gates.passed) holdForGates(status, s.gates.message, s.now);
  const stable = status.stableRevision ? s.revisions.get(status.stableRevision) : undefined;
  const target = status.canaryRevision ? s.revisions.get(status.canaryRevision) : stable;
  const desired = mdep.spec.replicas ?? 1;
  status.replicas = stable?.replicas ?? 0;
  status.readyReplicas = [...s.revisions.values()].reduce((sum, r) => sum + r.readyReplicas, 0);
  status.updatedReplicas = target?.readyReplicas ?? 0;
  status.selector = `${LABEL_DEPLOYMENT}=${mdep.metadata.name}`;
  // The client Service exists once a revision serves (services.ts).
  if (status.stableRevision)
    status.url = clientServiceUrl(mdep.metadata.name, mdep.metadata.namespace ?? "default");
  else delete status.url;

  let conditions: Condition[] = status.conditions ?? [];
  const set = (type: string, ok: boolean, reason: string, message: string) => {
    conditions = setCondition(
      conditions,
      { type, status: ok ? "True" : "False", reason, message },
      generation,
      s.now,
    );
  };
  set("ModelVersionReady", lookup.state === "ready", lookupReason(lookup), lookupMessage(lookup));
  const available = stable !== undefined && stable.readyReplicas >= desired;
  set(
    "Available",
    available,
    available ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
    `${stable?.readyReplicas ?? 0} of ${desired} pod(s) of the serving revision are ready`,
  );
  const [progressing, reason] = progressingCondition(status);
  set("Progressing", progressing, reason, status.message ?? "");
  if (s.routerProblem) set("TrafficRouted", false, s.routerProblem.reason, s.routerProblem.message);
  else if (mdep.spec.trafficRouting && !mdep.spec.trafficRouting.replicas)
    set("TrafficRouted", true, "RouteUpdated", "The route carries the weights");
  if (s.gates)
    set("GatesPassed", s.gates.passed, s.gates.passed ? "GatesPassed" : "GatesFailed", s.gates.message);
  if (s.fetching.length > 0)
    set("ArtifactFetched", false, "ArtifactFetchFailed", describeFetchProblems(s.fetching));
  else if (conditions.some((c) => c.type === "ArtifactFetched"))
    set("ArtifactFetched", true, "ArtifactFetched", "Every live revision's pods fetched their artifact");
  if (s.scaling.status) {
    status.autoscaling = s.scaling.status;
    const p = s.scaling.problem;
    set(
      "AutoscalerReady",
      !p,
      p?.reason ?? "AutoscalerConfigured",
      p?.message ?? `${s.scaling.status.provider} scales this ModelDeployment`,
    );
  } else {
    delete status.autoscaling;
    conditions = conditions.filter((c) => c.type !== "AutoscalerReady");
  }
  status.conditions = withReconciled(conditions, generation, s.now);
  return status;
}

/**
 * A refused version holds like a pause before its first step: what serves
 * keeps serving, and the phase says what it waits for. (With nothing serving,
 * the engine already reports Pending with the gates' message.)
 */
function holdForGates(status: Status, message: string, now: Date): void {
  if (status.phase !== "Available") return;
  if (status.pauseReason !== "GatesFailed") status.pauseStartTime = kubeTime(now);
  status.phase = "Paused";
  status.pauseReason = "GatesFailed";
  status.message = `${message}. Serving ${status.stableVersion}.`;
}

/** Conditions whose every change is an Event, so `kubectl describe` tells why a version waits or fails. */
const ANNOUNCED: Record<string, { ok: string; bad: string }> = {
  GatesPassed: { ok: "GatesPassed", bad: "GatesFailed" },
  ArtifactFetched: { ok: "ArtifactFetched", bad: "ArtifactFetchFailed" },
};

export function conditionEvents(before: Status | undefined, after: Status): EngineEvent[] {
  const events: EngineEvent[] = [];
  for (const [type, reasons] of Object.entries(ANNOUNCED)) {
    const now = after.conditions?.find((c) => c.type === type);
    const was = before?.conditions?.find((c) => c.type === type);
    if (!now || (was && was.status === now.status && was.message === now.message)) continue;
    const ok = now.status === "True";
    if (ok && !was) continue; // nothing was wrong before: no news
    events.push({
      type: ok ? "Normal" : "Warning",
      reason: ok ? reasons.ok : reasons.bad,
      message: now.message,
    });
  }
  return events;
}

function progressingCondition(status: Status): [boolean, string] {
  switch (status.phase) {
    case "Progressing":
      return [true, "RolloutInProgress"];
    case "Paused":
      return [true, status.pauseReason ?? "RolloutPaused"];
    case "RolledBack":
      return [false, "RolledBack"];
    case "Available":
      return [true, "RevisionAvailable"];
    default:
      return [false, status.phase ?? "Unknown"];
  }
}

export function lookupReason(lookup: VersionLookup): string {
  if (lookup.state === "missing") return "ModelVersionNotFound";
  if (lookup.state === "invalid") return "ModelVersionInvalid";
  return "ModelVersionReady";
}

export function lookupMessage(lookup: VersionLookup): string {
  if (lookup.state === "missing") {
    return `ModelVersion ${lookup.name} does not exist in this namespace; apply it, or fix spec.modelVersion`;
  }
  if (lookup.state === "ready") return `${lookup.version.metadata.name} is Ready`;
  return `ModelVersion ${lookup.version.metadata.name} is not usable: ${lookup.message}`;
}

/** True when this condition already says so: the event for it was sent. */
export function conditionIs(
  status: Status | undefined,
  type: string,
  value: string,
  reason: string,
): boolean {
  const c = status?.conditions?.find((x) => x.type === type);
  return c !== undefined && c.status === value && c.reason === reason;
}
