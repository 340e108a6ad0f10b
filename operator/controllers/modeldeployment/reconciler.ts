// ModelDeployment reconciler: the thin shell around the rollout engine. It
// reads the caches, measures due analyses, steps the engine, and applies its
// decision in the order that keeps serving safe: Services and routes first
// (so an abort moves traffic before anything else), then Deployments, then
// deletions, then status.
import type { V1Deployment } from "@kubernetes/client-node";
import {
  ACTION_ANNOTATION,
  ACTION_VERBS,
  FIELD_MANAGER,
  LABEL_DEPLOYMENT,
  LABEL_REVISION,
  LABEL_VERSION,
  type ModelDeployment,
  type ModelVersion,
  PROGRESS_DEADLINE_SECONDS,
  revisionDeploymentName,
} from "../../api/index.ts";
import { forgetAutoscalerMetrics } from "../../autoscaling/metrics.ts";
import type { GateVerdict } from "../../core/gates.ts";
import { validateModelVersion } from "../../core/version-validation.ts";
import { desiredDeployment, revisionHash } from "../../core/workload.ts";
import { rolloutNotifications } from "../../notifications/transitions.ts";
import { pendingAction } from "../../rollout/actions.ts";
import { stepRollout } from "../../rollout/engine.ts";
import { routeOf } from "../../rollout/routers/index.ts";
import { routerKind } from "../../rollout/routers/kind.ts";
import type {
  EngineEvent,
  RevisionState,
  RolloutDecision,
  RolloutInput,
  RouterKind,
} from "../../rollout/types.ts";
import { applyIfChanged, applyStatusIfChanged } from "../../runtime/apply.ts";
import type { ReconcileResult } from "../../runtime/controller.ts";
import { isNotFound } from "../../runtime/kube.ts";
import type { KubeObject, ObjectKey } from "../../runtime/types.ts";
import { APPLY_AS, asKubeObject, type ReconcileDeps } from "../context.ts";
import { measureDueAnalyses } from "./analysis.ts";
import { reconcileAutoscaling } from "./autoscaling.ts";
import { FETCH_CHECK_INTERVAL_MS, fetchProblems } from "./fetch-problems.ts";
import { checkGates, modelVersionSetBy } from "./gates.ts";
import { forgetRolloutMetrics, recordRolloutMetrics } from "./rollout-metrics.ts";
import { desiredServices } from "./services.ts";
import {
  composeStatus,
  conditionEvents,
  conditionIs,
  lookupMessage,
  lookupReason,
  type VersionLookup,
} from "./status.ts";

/** A failed route write is retried this soon: an abort must reach the route. */
const ROUTER_RETRY_MS = 5_000;

export async function reconcileModelDeployment(
  deps: ReconcileDeps,
  key: ObjectKey,
): Promise<ReconcileResult> {
  const mdep = deps.stores.modelDeployments.get(key.namespace, key.name) as ModelDeployment | undefined;
  if (!mdep || mdep.metadata.deletionTimestamp) {
    forgetRolloutMetrics(deps.registry, key.namespace ?? "", key.name);
    forgetAutoscalerMetrics(deps.registry, key.namespace ?? "", key.name);
    return {}; // owned objects go with it through the garbage collector
  }
  const now = deps.now();
  const lookup = lookupVersion(deps, mdep, mdep.spec.modelVersion);
  const revisions = observedRevisions(deps, mdep);
  const measured = await measureDueAnalyses(deps, mdep, mdep.status ?? {}, now);
  const action = pendingAction(mdep.metadata.annotations, mdep.status?.lastHandledAction);
  const router = routerKind(mdep);
  const previous = mdep.status?.previousVersion
    ? lookupVersion(deps, mdep, mdep.status.previousVersion)
    : undefined;
  const gates = lookup.state === "ready" ? checkGates(deps, mdep, lookup.version) : undefined;
  const decision = stepRollout({
    mdep: { ...mdep, status: measured.status },
    ...rolloutTarget(mdep, lookup, gates),
    previousTarget: previous?.state === "ready" ? revisionOf(mdep, previous.version) : undefined,
    revisions,
    action: action && "verb" in action ? action : undefined,
    router,
    routerError: routerProblemOf(mdep)?.message,
    now,
  });
  const events = [...decision.events, ...lookupEvents(mdep, lookup)];
  if (action && "invalid" in action) {
    decision.status.lastHandledAction = action.invalid;
    events.push(invalidAction(action.invalid));
  }

  await applyServices(deps, mdep, decision, router);
  const routerProblem = await routeTraffic(deps, mdep, decision);
  await applyRevisions(deps, mdep, decision, lookup);
  await deleteRevisions(deps, mdep, decision.deleteRevisions);
  const scaling = await reconcileAutoscaling(deps, mdep, now);
  events.push(...scaling.events);
  const fetched = await fetchProblems(deps, mdep, revisions);
  const status = composeStatus({
    mdep,
    lookup,
    decision,
    revisions,
    routerProblem,
    scaling,
    gates,
    fetching: fetched.problems,
    now,
  });
  events.push(...conditionEvents(mdep.status, status));
  if (status.phase && status.phase !== mdep.status?.phase) events.push(phaseEvent(status));
  await applyStatusIfChanged(deps.kube, asKubeObject(mdep), status as Record<string, unknown>, {
    fieldManager: FIELD_MANAGER,
  });
  // Only once the transition is written: a reconcile whose write failed announces nothing.
  deps.notifications?.publish(rolloutNotifications(mdep, mdep.status, status));
  for (const e of events) await deps.events.event(asKubeObject(mdep), e.type, e.reason, e.message);
  recordRolloutMetrics(deps.registry, mdep, status, decision.events);
  const waits = [
    decision.requeueAfterMs,
    measured.nextDueMs,
    routerProblem ? ROUTER_RETRY_MS : undefined,
    scaling.requeueAfterMs,
    fetched.watching ? FETCH_CHECK_INTERVAL_MS : undefined,
  ];
  const requeueAfterMs = Math.min(...waits.filter((w): w is number => w !== undefined));
  return Number.isFinite(requeueAfterMs) ? { requeueAfterMs: Math.max(requeueAfterMs, 100) } : {};
}

function revisionOf(mdep: ModelDeployment, mv: ModelVersion) {
  return { revision: revisionHash(mdep, mv), version: mv.metadata.name };
}

/**
 * What the engine should serve. A version its gates refuse is not a target:
 * the stable one stays it (so nothing starts), or, when nothing serves yet,
 * there is none and the phase says why.
 */
function rolloutTarget(
  mdep: ModelDeployment,
  lookup: VersionLookup,
  gates: GateVerdict | undefined,
): Pick<RolloutInput, "target" | "targetProblem" | "targetEvidence"> {
  if (lookup.state !== "ready") return { target: undefined, targetProblem: lookupMessage(lookup) };
  if (gates && !gates.passed) {
    const { stableRevision, stableVersion } = mdep.status ?? {};
    const stable =
      stableRevision && stableVersion ? { revision: stableRevision, version: stableVersion } : undefined;
    return { target: stable, targetProblem: gates.message };
  }
  const setBy = modelVersionSetBy(mdep);
  return {
    target: revisionOf(mdep, lookup.version),
    targetEvidence: { ...(setBy ? { setBy } : {}), ...(gates ? { gates: gates.results } : {}) },
  };
}

/** Validates the version inline rather than waiting for its status, so nothing depends on which reconciler ran first. */
function lookupVersion(deps: ReconcileDeps, mdep: ModelDeployment, name: string): VersionLookup {
  const mv = deps.stores.modelVersions.get(mdep.metadata.namespace, name) as ModelVersion | undefined;
  if (!mv) return { state: "missing", name };
  const problems = validateModelVersion(mv, { mlflowTrackingUri: deps.mlflowTrackingUri });
  if (problems.length > 0)
    return { state: "invalid", version: mv, message: problems.map((p) => p.message).join("; ") };
  return { state: "ready", version: mv };
}

function lookupEvents(mdep: ModelDeployment, lookup: VersionLookup): EngineEvent[] {
  if (lookup.state === "ready") return [];
  const reason = lookupReason(lookup);
  if (conditionIs(mdep.status, "ModelVersionReady", "False", reason)) return []; // already said
  return [{ type: "Warning", reason, message: lookupMessage(lookup) }];
}

/** Every phase change is an Event, so `kubectl describe` tells the story. */
function phaseEvent(status: { phase?: string; message?: string }): EngineEvent {
  const bad = status.phase === "RolledBack" || status.phase === "Degraded";
  return {
    type: bad ? "Warning" : "Normal",
    reason: `Phase${status.phase}`,
    message: status.message ?? `phase ${status.phase}`,
  };
}

function invalidAction(value: string): EngineEvent {
  return {
    type: "Warning",
    reason: "InvalidAction",
    message: `${ACTION_ANNOTATION} "${value}" is not an action; use ${ACTION_VERBS.join(", ")} (optionally followed by @<anything>)`,
  };
}

function routerProblemOf(mdep: ModelDeployment): { reason: string; message: string } | undefined {
  const c = mdep.status?.conditions?.find((x) => x.type === "TrafficRouted");
  return c && c.status === "False" ? { reason: c.reason, message: c.message } : undefined;
}

function ownedBy(mdep: ModelDeployment, obj: KubeObject): boolean {
  return obj.metadata?.ownerReferences?.some((o) => o.uid === mdep.metadata.uid && o.controller) ?? false;
}

function observedRevisions(deps: ReconcileDeps, mdep: ModelDeployment): Map<string, RevisionState> {
  const owned = deps.stores.deployments
    .list(mdep.metadata.namespace, { [LABEL_DEPLOYMENT]: mdep.metadata.name })
    .filter((d) => ownedBy(mdep, d) && !d.metadata?.deletionTimestamp);
  const revisions = new Map<string, RevisionState>();
  for (const live of owned) {
    const d = live as V1Deployment;
    const labels = d.metadata?.labels ?? {};
    const revision = labels[LABEL_REVISION] ?? "";
    revisions.set(revision, {
      revision,
      version: labels[LABEL_VERSION] ?? "",
      replicas: d.spec?.replicas ?? 0,
      readyReplicas: d.status?.readyReplicas ?? 0,
      deadlineExceeded:
        d.status?.conditions?.some(
          (c) => c.type === "Progressing" && c.reason === "ProgressDeadlineExceeded",
        ) ?? false,
    });
  }
  return revisions;
}

async function applyServices(
  deps: ReconcileDeps,
  mdep: ModelDeployment,
  decision: RolloutDecision,
  router: RouterKind,
): Promise<void> {
  const desired = desiredServices(mdep, decision.traffic, router);
  const names = new Set<string>();
  for (const svc of desired) {
    const name = svc.metadata.name;
    names.add(name);
    const live = deps.stores.services.get(mdep.metadata.namespace, name);
    await applyIfChanged(deps.kube, asKubeObject(svc), live, APPLY_AS);
  }
  const stale = deps.stores.services
    .list(mdep.metadata.namespace, { [LABEL_DEPLOYMENT]: mdep.metadata.name })
    .filter((s) => ownedBy(mdep, s) && !names.has(s.metadata?.name ?? "") && desired.length > 0);
  for (const s of stale) await deleteIgnoringMissing(deps, "v1", "Service", mdep, s.metadata?.name ?? "");
}

async function routeTraffic(deps: ReconcileDeps, mdep: ModelDeployment, decision: RolloutDecision) {
  const route = routeOf(mdep, deps.routers);
  if (!route) return undefined;
  const { canaryWeight, mirrorPercent, headerRoute } = decision.traffic;
  const result = await route.router.setTraffic(route.target, { canaryWeight, mirrorPercent, headerRoute });
  return result.ok ? undefined : { reason: result.reason, message: result.message };
}

/**
 * Creates the revisions the engine names that do not exist yet; every
 * existing revision only gets its replica count and deadline. A revision's
 * pod template is fixed when it is created (its hash is its identity), so
 * nothing but a new revision, rolled out through the strategy, restarts
 * inference pods: not an operator upgrade (a new sidecar image), not a
 * shadow rollout starting or ending.
 */
async function applyRevisions(
  deps: ReconcileDeps,
  mdep: ModelDeployment,
  decision: RolloutDecision,
  lookup: VersionLookup,
): Promise<void> {
  const created = new Set<string>();
  for (const rev of decision.render) {
    const name = revisionDeploymentName(mdep.metadata.name, rev.revision);
    if (deps.stores.deployments.get(mdep.metadata.namespace, name)) continue;
    const mv =
      lookup.state === "ready" && lookup.version.metadata.name === rev.version
        ? lookup.version
        : (deps.stores.modelVersions.get(mdep.metadata.namespace, rev.version) as ModelVersion | undefined);
    if (!mv) continue;
    const replicas = decision.replicas.get(rev.revision) ?? mdep.spec.replicas ?? 1;
    const desired = desiredDeployment(mdep, mv, rev.revision, replicas, {
      proxyImage: deps.proxyImage,
      fetcherImage: deps.fetcherImage,
      mlflowTrackingUri: deps.mlflowTrackingUri,
    });
    desired.spec.progressDeadlineSeconds = progressDeadline(mdep);
    await applyIfChanged(deps.kube, asKubeObject(desired), undefined, APPLY_AS);
    created.add(rev.revision);
  }
  const owned = deps.stores.deployments
    .list(mdep.metadata.namespace, { [LABEL_DEPLOYMENT]: mdep.metadata.name })
    .filter((d) => ownedBy(mdep, d) && !created.has(d.metadata?.labels?.[LABEL_REVISION] ?? ""));
  for (const live of owned as V1Deployment[]) {
    const revision = live.metadata?.labels?.[LABEL_REVISION] ?? "";
    const spec: { replicas?: number; progressDeadlineSeconds?: number } = {};
    const replicas = decision.replicas.get(revision);
    if (replicas !== undefined && replicas !== live.spec?.replicas) spec.replicas = replicas;
    if (live.spec?.progressDeadlineSeconds !== progressDeadline(mdep))
      spec.progressDeadlineSeconds = progressDeadline(mdep);
    if (Object.keys(spec).length === 0) continue;
    await deps.kube.mergePatch(
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        namespace: mdep.metadata.namespace,
        name: live.metadata?.name ?? "",
      },
      { spec },
      { fieldManager: FIELD_MANAGER },
    );
  }
}

function progressDeadline(mdep: ModelDeployment): number {
  return mdep.spec.progressDeadlineSeconds ?? PROGRESS_DEADLINE_SECONDS;
}

async function deleteRevisions(
  deps: ReconcileDeps,
  mdep: ModelDeployment,
  revisions: string[],
): Promise<void> {
  for (const revision of revisions) {
    const owned = deps.stores.deployments
      .list(mdep.metadata.namespace, { [LABEL_DEPLOYMENT]: mdep.metadata.name, [LABEL_REVISION]: revision })
      .filter((d) => ownedBy(mdep, d));
    for (const d of owned)
      await deleteIgnoringMissing(deps, "apps/v1", "Deployment", mdep, d.metadata?.name ?? "");
  }
}

async function deleteIgnoringMissing(
  deps: ReconcileDeps,
  apiVersion: string,
  kind: string,
  mdep: ModelDeployment,
  name: string,
): Promise<void> {
  try {
    await deps.kube.delete({ apiVersion, kind, namespace: mdep.metadata.namespace, name });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
