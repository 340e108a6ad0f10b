// The ModelDeployment reconciler's pure core: from the ModelDeployment, the
// ModelVersion it names and the revisions observed in the cluster, decide
// what to apply, what to delete and the next status.
//
// Without a rollout strategy a version change is a safe switch: the new
// revision starts beside the serving one, the Service moves to it once all
// its replicas are ready, and only then are older revisions deleted. The
// version that serves is never scaled down before its successor is ready.
import type { Condition, ModelDeployment, ModelVersion } from "../api/index.ts";
import { setCondition } from "../runtime/conditions.ts";
import { desiredDeployment, desiredService, LABEL_DEPLOYMENT, revisionHash } from "./workload.ts";

export type ObservedRevision = {
  name: string;
  revision: string;
  versionName: string;
  replicas: number;
  readyReplicas: number;
  updatedReplicas: number;
  deadlineExceeded: boolean;
};

export type VersionLookup =
  | { state: "missing"; name: string }
  | { state: "invalid"; version: ModelVersion; message: string }
  | { state: "ready"; version: ModelVersion };

export type PlannedEvent = { type: "Normal" | "Warning"; reason: string; message: string };

export type DeploymentPlan = {
  apply: Record<string, unknown>[];
  deleteDeployments: string[];
  status: ModelDeploymentStatus;
  events: PlannedEvent[];
};

type ModelDeploymentStatus = NonNullable<ModelDeployment["status"]>;

export function planModelDeployment(
  mdep: ModelDeployment,
  lookup: VersionLookup,
  observed: ObservedRevision[],
  now: Date,
): DeploymentPlan {
  const previous = mdep.status ?? {};
  const generation = mdep.metadata.generation ?? 0;
  const desiredReplicas = mdep.spec.replicas ?? 1;
  const byRevision = new Map(observed.map((r) => [r.revision, r]));
  const stable = previous.stableRevision ? byRevision.get(previous.stableRevision) : undefined;
  const apply: Record<string, unknown>[] = [];
  const events: PlannedEvent[] = [];

  let target: ObservedRevision | undefined;
  let targetRevision: string | undefined;
  let serving = stable;
  if (lookup.state === "ready") {
    const mv = lookup.version;
    targetRevision = revisionHash(mdep, mv);
    target = byRevision.get(targetRevision);
    apply.push(withDeadline(desiredDeployment(mdep, mv, targetRevision, desiredReplicas), mdep));
    if (!target) {
      events.push({
        type: "Normal",
        reason: "RevisionCreated",
        message: `Starting revision ${targetRevision} of ${mv.metadata.name} with ${desiredReplicas} replica(s)`,
      });
    }
    const targetReady = target !== undefined && target.readyReplicas >= desiredReplicas;
    if (!serving || targetReady) serving = target ?? { ...emptyRevision(targetRevision, mv.metadata.name) };
    apply.push(desiredService(mdep, serving.revision));
    if (serving.revision === targetRevision && previous.stableRevision !== targetRevision) {
      events.push({
        type: "Normal",
        reason: "RevisionServing",
        message: `Service ${mdep.metadata.name} now routes to revision ${targetRevision} (${mv.metadata.name})`,
      });
    }
  } else if (serving) {
    apply.push(desiredService(mdep, serving.revision));
  }

  // Keep only the serving revision and the one being brought up.
  const keep = new Set([serving?.revision, targetRevision].filter((r): r is string => r !== undefined));
  const deleteDeployments = observed.filter((r) => !keep.has(r.revision)).map((r) => r.name);
  for (const name of deleteDeployments) {
    events.push({
      type: "Normal",
      reason: "RevisionDeleted",
      message: `Deleted superseded Deployment ${name}`,
    });
  }

  const status = nextStatus(mdep, lookup, {
    target,
    targetRevision,
    serving,
    observed,
    desiredReplicas,
    generation,
    now,
  });
  if (status.phase !== previous.phase) {
    events.push({
      type: status.phase === "Degraded" ? "Warning" : "Normal",
      reason: `Phase${status.phase}`,
      message: status.message ?? `ModelDeployment is ${status.phase}`,
    });
  }
  if (
    lookup.state !== "ready" &&
    !conditionMatches(previous.conditions, "ModelVersionReady", "False", lookupReason(lookup))
  ) {
    events.push({ type: "Warning", reason: lookupReason(lookup), message: lookupMessage(lookup) });
  }
  return { apply, deleteDeployments, status, events };
}

function withDeadline(deployment: Record<string, unknown>, mdep: ModelDeployment): Record<string, unknown> {
  const spec = deployment.spec as Record<string, unknown>;
  spec.progressDeadlineSeconds = mdep.spec.progressDeadlineSeconds ?? 600;
  return deployment;
}

function emptyRevision(revision: string, versionName: string): ObservedRevision {
  return {
    name: "",
    revision,
    versionName,
    replicas: 0,
    readyReplicas: 0,
    updatedReplicas: 0,
    deadlineExceeded: false,
  };
}

type StatusInputs = {
  target: ObservedRevision | undefined;
  targetRevision: string | undefined;
  serving: ObservedRevision | undefined;
  observed: ObservedRevision[];
  desiredReplicas: number;
  generation: number;
  now: Date;
};

function nextStatus(mdep: ModelDeployment, lookup: VersionLookup, s: StatusInputs): ModelDeploymentStatus {
  let conditions: Condition[] = mdep.status?.conditions ?? [];
  const set = (type: string, status: "True" | "False", reason: string, message: string) => {
    conditions = setCondition(conditions, { type, status, reason, message }, s.generation, s.now);
  };
  if (lookup.state === "ready")
    set("ModelVersionReady", "True", "ModelVersionReady", `${lookup.version.metadata.name} is Ready`);
  else set("ModelVersionReady", "False", lookupReason(lookup), lookupMessage(lookup));

  const servingReady = s.serving?.readyReplicas ?? 0;
  const available = s.serving !== undefined && s.serving.name !== "" && servingReady >= s.desiredReplicas;
  set(
    "Available",
    available ? "True" : "False",
    available ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
    `${servingReady} of ${s.desiredReplicas} replica(s) of the serving revision are ready`,
  );

  const targetDone = s.target !== undefined && s.serving?.revision === s.targetRevision && available;
  let phase: ModelDeploymentStatus["phase"];
  let message: string;
  if (s.target?.deadlineExceeded && !targetDone) {
    set(
      "Progressing",
      "False",
      "ProgressDeadlineExceeded",
      `Revision ${s.targetRevision} did not become ready within progressDeadlineSeconds`,
    );
    phase = "Degraded";
    message = `Revision ${s.targetRevision} is not becoming ready; check its pods' events`;
  } else if (lookup.state !== "ready") {
    set("Progressing", "False", lookupReason(lookup), lookupMessage(lookup));
    phase = available ? "Degraded" : "Pending";
    message = lookupMessage(lookup);
  } else if (targetDone) {
    set(
      "Progressing",
      "True",
      "RevisionAvailable",
      `Revision ${s.targetRevision} serves with all replicas ready`,
    );
    phase = "Available";
    message = `Serving ${lookup.version.metadata.name}`;
  } else {
    set(
      "Progressing",
      "True",
      "RevisionProgressing",
      `Waiting for revision ${s.targetRevision} to become ready`,
    );
    phase = "Progressing";
    message = `Bringing up ${lookup.version.metadata.name}: ${s.target?.readyReplicas ?? 0}/${s.desiredReplicas} ready`;
  }

  const status: ModelDeploymentStatus = {
    phase,
    message,
    observedGeneration: s.generation,
    replicas: s.serving?.replicas ?? 0,
    readyReplicas: s.observed.reduce((sum, r) => sum + r.readyReplicas, 0),
    updatedReplicas: s.target?.updatedReplicas ?? 0,
    selector: `${LABEL_DEPLOYMENT}=${mdep.metadata.name}`,
    conditions,
  };
  if (s.serving && s.serving.name !== "") {
    status.stableRevision = s.serving.revision;
    status.stableVersion = s.serving.versionName;
  }
  return status;
}

function lookupReason(lookup: VersionLookup): string {
  if (lookup.state === "missing") return "ModelVersionNotFound";
  if (lookup.state === "invalid") return "ModelVersionInvalid";
  return "ModelVersionReady";
}

function lookupMessage(lookup: VersionLookup): string {
  if (lookup.state === "missing")
    return `ModelVersion ${lookup.name} does not exist in this namespace; apply it, or fix spec.modelVersion`;
  if (lookup.state === "ready") return "";
  return `ModelVersion ${lookup.version.metadata.name} is not usable: ${lookup.message}`;
}

function conditionMatches(
  conditions: Condition[] | undefined,
  type: string,
  status: string,
  reason: string,
): boolean {
  const c = conditions?.find((x) => x.type === type);
  return c !== undefined && c.status === status && c.reason === reason;
}
