// The autoscaling part of a ModelDeployment reconcile: owns the HPA or the
// KEDA ScaledObject, or (builtin) measures load in Prometheus and changes the
// ModelDeployment's total through its scale subresource, as an HPA would.
import type { V2HorizontalPodAutoscaler, V2HorizontalPodAutoscalerStatus } from "@kubernetes/client-node";
import {
  API_VERSION,
  type Autoscaling,
  type AutoscalingTarget,
  FIELD_MANAGER,
  type ModelDeployment,
  parseDurationMs,
} from "../../api/index.ts";
import { type BuiltinDecision, builtinDecision, type Load, loadOf } from "../../autoscaling/builtin.ts";
import { forgetAutoscalerMetrics, recordAutoscalerMetrics } from "../../autoscaling/metrics.ts";
import { desiredHpa, desiredScaledObject } from "../../autoscaling/objects.ts";
import { totalQuery } from "../../autoscaling/queries.ts";
import { type AutoscalingStatus, statusToWrite } from "../../autoscaling/status.ts";
import type { EngineEvent } from "../../rollout/types.ts";
import { applyIfChanged } from "../../runtime/apply.ts";
import { kubeTime } from "../../runtime/conditions.ts";
import { isNotFound, KubeApiError } from "../../runtime/kube.ts";
import { APPLY_AS, asKubeObject, type ReconcileDeps } from "../context.ts";
import { conditionIs } from "./status.ts";

/** Without KEDA, look again this often: the ScaledObject is created once KEDA is installed. */
const KEDA_RECHECK_MS = 60_000;

/** How often the builtin autoscaler looks at the load (Knative ticks every 2 s). */
export const BUILTIN_TICK_MS = 2_000;

/** AutoscalerReady's reason while some target has no load data and the size is held. */
export const METRICS_UNAVAILABLE = "MetricsUnavailable";

export type AutoscalingOutcome = {
  status: AutoscalingStatus | undefined;
  problem: { reason: string; message: string } | undefined;
  events: EngineEvent[];
  requeueAfterMs: number | undefined;
};

const NOTHING: AutoscalingOutcome = {
  status: undefined,
  problem: undefined,
  events: [],
  requeueAfterMs: undefined,
};

export async function reconcileAutoscaling(
  deps: ReconcileDeps,
  mdep: ModelDeployment,
  now: Date,
): Promise<AutoscalingOutcome> {
  const a = mdep.spec.autoscaling;
  if (a?.provider !== "builtin")
    forgetAutoscalerMetrics(deps.registry, mdep.metadata.namespace ?? "", mdep.metadata.name);
  if (!a) {
    if (mdep.status?.autoscaling) await removeAutoscalers(deps, mdep);
    return NOTHING;
  }
  if (a.provider !== "hpa") await deleteIfPresent(deps, mdep, "autoscaling/v2", "HorizontalPodAutoscaler");
  if (a.provider === "hpa") return hpa(deps, mdep, a);
  if (a.provider === "keda") return keda(deps, mdep, a);
  return builtin(deps, mdep, a, now);
}

async function hpa(deps: ReconcileDeps, mdep: ModelDeployment, a: Autoscaling): Promise<AutoscalingOutcome> {
  const live = deps.stores.hpas.get(mdep.metadata.namespace, mdep.metadata.name);
  await applyIfChanged(deps.kube, asKubeObject(desiredHpa(mdep, a)), live, APPLY_AS);
  const st: Partial<V2HorizontalPodAutoscalerStatus> =
    (live as V2HorizontalPodAutoscaler | undefined)?.status ?? {};
  const active = st.conditions?.find((c) => c.type === "ScalingActive");
  const status: AutoscalingStatus = { provider: "hpa", ...counts(st.desiredReplicas, st.currentReplicas) };
  if (active?.message) status.message = `${active.reason}: ${active.message}`;
  return { ...NOTHING, status };
}

async function keda(deps: ReconcileDeps, mdep: ModelDeployment, a: Autoscaling): Promise<AutoscalingOutcome> {
  const ref = {
    apiVersion: "keda.sh/v1alpha1",
    kind: "ScaledObject",
    namespace: mdep.metadata.namespace,
    name: mdep.metadata.name,
  };
  try {
    const live = await deps.kube.getOrUndefined(ref);
    const desired = desiredScaledObject(mdep, a, deps.prometheusAddress);
    await applyIfChanged(deps.kube, asKubeObject(desired), live, APPLY_AS);
    return {
      ...NOTHING,
      status: { provider: "keda", message: "ScaledObject applied; KEDA scales the ModelDeployment" },
    };
  } catch (err) {
    if (!(err instanceof KubeApiError) || err.status !== 404) throw err;
    const message =
      "KEDA is not installed (no keda.sh/v1alpha1 ScaledObject API): install KEDA, or use provider hpa or builtin";
    return {
      ...NOTHING,
      status: { provider: "keda", message },
      problem: { reason: "KEDANotInstalled", message },
      requeueAfterMs: KEDA_RECHECK_MS,
    };
  }
}

async function builtin(
  deps: ReconcileDeps,
  mdep: ModelDeployment,
  a: Autoscaling,
  now: Date,
): Promise<AutoscalingOutcome> {
  const unsupported = a.targets.find((t) => t.type === "cpu" || t.type === "memory");
  if (unsupported || !deps.prometheus) {
    const message = unsupported
      ? `the builtin autoscaler reads Prometheus only: ${unsupported.type} targets need provider hpa or keda`
      : "the builtin autoscaler needs Prometheus: start the operator with --prometheus-address";
    return {
      ...NOTHING,
      status: { provider: "builtin", message },
      problem: { reason: "AutoscalerMisconfigured", message },
    };
  }
  const current = mdep.spec.replicas ?? 1;
  const previous = mdep.status?.autoscaling;
  const decisions = await Promise.all(a.targets.map((t) => decide(deps, mdep, a, t, current, previous, now)));
  // Each target's decision is a floor: one without data holds the current
  // size, so the others can still scale up but nothing scales down (as the HPA).
  const winner = decisions.reduce((best, d) => (d.decision.desired > best.decision.desired ? d : best));
  const desired = winner.decision.desired;
  const status: AutoscalingStatus = {
    provider: "builtin",
    ...counts(desired, current),
    metrics: decisions.map((d) => ({
      type: d.target.type,
      ...(d.load.value === undefined ? {} : { value: d.load.value }),
      target: d.target.averageValue ?? 0,
    })),
    message: explain(winner),
  };
  const panicUntil = decisions
    .map((d) => d.decision.panicUntilMs)
    .filter((p): p is number => p !== undefined);
  if (panicUntil.length > 0) status.panicUntil = kubeTime(new Date(Math.max(...panicUntil)));
  if (previous?.lastScaleTime) status.lastScaleTime = previous.lastScaleTime;
  const events: EngineEvent[] = [];
  if (desired !== current) {
    await scaleTo(deps, mdep, desired);
    status.lastScaleTime = kubeTime(now);
    events.push({
      type: "Normal",
      reason: "Scaled",
      message: `${current} → ${desired} pod(s): ${explain(winner)}`,
    });
  }
  const problem = missingData(decisions);
  // A Warning when metrics vanish, once per episode: not while the condition
  // already says so, nor for a new ModelDeployment whose pods were never
  // scraped yet (the condition alone tells that).
  const hadData = previous?.metrics?.some((m) => m.value !== undefined) ?? false;
  if (problem && hadData && !conditionIs(mdep.status, "AutoscalerReady", "False", METRICS_UNAVAILABLE))
    events.push({ type: "Warning", ...problem });
  recordAutoscalerMetrics(
    deps.registry,
    { namespace: mdep.metadata.namespace ?? "", name: mdep.metadata.name },
    desired,
    decisions.map((d) => ({ type: d.target.type, value: d.load.value })),
  );
  return {
    status: statusToWrite(previous, status),
    problem,
    events,
    requeueAfterMs: BUILTIN_TICK_MS,
  };
}

/** Writes the total through the scale subresource, as an HPA would. */
async function scaleTo(deps: ReconcileDeps, mdep: ModelDeployment, replicas: number): Promise<void> {
  await deps.kube.mergePatch(
    {
      apiVersion: API_VERSION,
      kind: "ModelDeployment",
      namespace: mdep.metadata.namespace,
      name: mdep.metadata.name,
      subresource: "scale",
    },
    { spec: { replicas } },
    { fieldManager: FIELD_MANAGER },
  );
}

type TargetDecision = {
  target: AutoscalingTarget;
  load: Load;
  decision: BuiltinDecision;
};

async function decide(
  deps: ReconcileDeps,
  mdep: ModelDeployment,
  a: Autoscaling,
  target: AutoscalingTarget,
  current: number,
  previous: AutoscalingStatus | undefined,
  now: Date,
): Promise<TargetDecision> {
  const [stable, panic] = await Promise.all([
    deps.prometheus?.query(totalQuery(mdep, target, a.stableWindow)),
    deps.prometheus?.query(totalQuery(mdep, target, a.panicWindow)),
  ]);
  const load = loadOf(stable);
  const decision = builtinDecision({
    current,
    min: a.minReplicas,
    max: a.maxReplicas,
    targetPerPod: target.averageValue ?? 1,
    stableTotal: load.value,
    panicTotal: loadOf(panic).value,
    nowMs: now.getTime(),
    stableWindowMs: parseDurationMs(a.stableWindow),
    panicUntilMs: previous?.panicUntil ? Date.parse(previous.panicUntil) : undefined,
    lastScaleMs: previous?.lastScaleTime ? Date.parse(previous.lastScaleTime) : undefined,
    scaleDownDelayMs:
      a.scaleDown?.stabilizationWindowSeconds === undefined
        ? undefined
        : a.scaleDown.stabilizationWindowSeconds * 1000,
    maxUpStep: a.scaleUp?.maxPodsPerStep,
    maxDownStep: a.scaleDown?.maxPodsPerStep,
  });
  return { target, load, decision };
}

function explain(d: TargetDecision): string {
  const why = d.load.value === undefined ? `no data (${d.load.missing}); ` : "";
  return `${d.target.type}: ${why}${d.decision.reason}`;
}

/** AutoscalerReady=False while a target has no data: what is missing, and that nothing scales down meanwhile. */
function missingData(decisions: TargetDecision[]): { reason: string; message: string } | undefined {
  const missing = decisions.flatMap((d) =>
    d.load.value === undefined ? [`${d.target.type}: ${d.load.missing}`] : [],
  );
  if (missing.length === 0) return undefined;
  return {
    reason: METRICS_UNAVAILABLE,
    message: `No load data (${missing.join("; ")}); no scale-down until the metrics return`,
  };
}

function counts(desired: number | undefined, current: number | undefined) {
  return {
    ...(desired === undefined ? {} : { desiredReplicas: desired }),
    ...(current === undefined ? {} : { currentReplicas: current }),
  };
}

async function removeAutoscalers(deps: ReconcileDeps, mdep: ModelDeployment): Promise<void> {
  await deleteIfPresent(deps, mdep, "autoscaling/v2", "HorizontalPodAutoscaler");
  await deleteIfPresent(deps, mdep, "keda.sh/v1alpha1", "ScaledObject");
}

async function deleteIfPresent(
  deps: ReconcileDeps,
  mdep: ModelDeployment,
  apiVersion: string,
  kind: string,
): Promise<void> {
  if (
    kind === "HorizontalPodAutoscaler" &&
    !deps.stores.hpas.get(mdep.metadata.namespace, mdep.metadata.name)
  )
    return;
  try {
    await deps.kube.delete({
      apiVersion,
      kind,
      namespace: mdep.metadata.namespace,
      name: mdep.metadata.name,
    });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
