// DriftMonitor reconciler: every `interval`, reads the reference of the
// version serving the target ModelDeployment and the live distributions from
// Prometheus, evaluates drift (operator/drift, pure), writes status, Events and
// metrics, and on Critical runs the opted-in actions once per episode.
// Prometheus down or a query failing gives verdict Unknown and no action.
import { createPrometheusProvider } from "../../analysis/prometheus.ts";
import type { MetricProvider } from "../../analysis/provider.ts";
import { parseDurationMs } from "../../api/common.ts";
import {
  API_VERSION,
  type DriftMonitor,
  type DriftMonitorStatus,
  FIELD_MANAGER,
  type ModelDeployment,
  type ModelVersion,
} from "../../api/index.ts";
import { stepEpisode } from "../../drift/episode.ts";
import { defaultMethod, evaluateDrift, type FeatureInput } from "../../drift/evaluate.ts";
import { driftNotifications } from "../../notifications/transitions.ts";
import { applyStatusIfChanged } from "../../runtime/apply.ts";
import { kubeTime } from "../../runtime/conditions.ts";
import type { ReconcileResult } from "../../runtime/controller.ts";
import { outboundPolicy } from "../../runtime/outbound.ts";
import type { KubeObject, ObjectKey } from "../../runtime/types.ts";
import { asKubeObject, type ReconcileDeps } from "../context.ts";
import { type ActionOutcome, type DriftReport, runActions } from "./actions.ts";
import type { DriftDeps } from "./deps.ts";
import { countDriftActions, forgetDriftMetrics, recordDriftMetrics } from "./metrics.ts";
import { readLive, resolveReference, selectFeatures } from "./query.ts";
import { composeDriftStatus, driftEvents, type Outcome } from "./status.ts";

export async function reconcileDriftMonitor(deps: DriftDeps, key: ObjectKey): Promise<ReconcileResult> {
  const dm = deps.stores.driftMonitors.get(key.namespace, key.name) as DriftMonitor | undefined;
  const monitor = { namespace: key.namespace ?? "", name: key.name };
  if (!dm || dm.metadata.deletionTimestamp) {
    forgetDriftMetrics(deps.registry, monitor);
    return {};
  }
  const now = deps.now();
  const intervalMs = parseDurationMs(dm.spec.interval ?? "5m");
  const wait = untilDue(dm, intervalMs, now);
  if (wait > 0) return { requeueAfterMs: wait };

  const target = deps.stores.modelDeployments.get(dm.metadata.namespace, dm.spec.targetRef.name) as
    | ModelDeployment
    | undefined;
  const { outcome, version } = await evaluate(deps, dm, target);
  const verdict = outcome.kind === "evaluated" ? outcome.evaluation.verdict : "Unknown";
  const episode = stepEpisode(dm.status ?? {}, verdict, kubeTime(now));
  const compose = (actions?: ActionOutcome[]) =>
    composeDriftStatus({ dm, outcome, criticalSince: episode.criticalSince, actions, now });
  const evaluated = compose();
  // Metrics first, so whoever sees the new status finds them already updated.
  recordDriftMetrics(deps.registry, monitor, evaluated.verdict ?? "Unknown", evaluated.features ?? []);
  let written = asKubeObject(dm);
  let actions: ActionOutcome[] | undefined;
  if (episode.act && target && outcome.kind === "evaluated") {
    // Once per episode, and a webhook call cannot be taken back: the episode
    // is marked acted on (lastActionTime) before the actions run, in a status
    // write guarded by the resourceVersion read, so a reconcile from a cache
    // that missed the mark fails with a conflict instead of acting again.
    const marked = compose([]);
    written = await commitStatus(deps, written, marked, undefined);
    // Announced as soon as the episode is written (the same key again below is not sent twice).
    deps.notifications?.publish(driftNotifications(dm, target, dm.status, marked, version));
    const criticalSince = episode.criticalSince ?? kubeTime(now);
    actions = await runActions(deps, dm, target, report(dm, version ?? "", outcome, criticalSince, now));
    countDriftActions(deps.registry, monitor, actions);
  }
  const final = actions ? compose(actions) : evaluated;
  await commitStatus(deps, written, final, actions);
  deps.notifications?.publish(driftNotifications(dm, target, dm.status, final, version));
  return { requeueAfterMs: intervalMs };
}

/** Writes status (guarded by `base`'s resourceVersion), then its Events; returns the object as written. */
async function commitStatus(
  deps: ReconcileDeps,
  base: KubeObject,
  status: DriftMonitorStatus,
  actions: ActionOutcome[] | undefined,
): Promise<KubeObject> {
  const written = await applyStatusIfChanged(deps.kube, base, status as Record<string, unknown>, {
    fieldManager: FIELD_MANAGER,
  });
  for (const e of driftEvents(base.status as DriftMonitorStatus | undefined, status, actions)) {
    await deps.events.event(base, e.type, e.reason, e.message);
  }
  return written ?? base;
}

/** Milliseconds until the next evaluation is due; 0 when due now or the spec changed. */
function untilDue(dm: DriftMonitor, intervalMs: number, now: Date): number {
  const last = dm.status?.lastEvaluationTime;
  if (!last || dm.status?.observedGeneration !== dm.metadata.generation) return 0;
  return Math.max(0, Date.parse(last) + intervalMs - now.getTime());
}

async function evaluate(
  deps: DriftDeps,
  dm: DriftMonitor,
  target: ModelDeployment | undefined,
): Promise<{ outcome: Outcome; version?: string }> {
  const failed = (reason: string, message: string) => ({
    outcome: { kind: "failed" as const, reason, message },
  });
  if (!target) {
    return failed(
      "TargetNotFound",
      `ModelDeployment ${dm.spec.targetRef.name} does not exist in this namespace`,
    );
  }
  // The stable version's reference: that is what serves (and what an undo returns from).
  const version = target.status?.stableVersion ?? target.spec.modelVersion;
  const mv = deps.stores.modelVersions.get(dm.metadata.namespace, version) as ModelVersion | undefined;
  if (!mv)
    return failed(
      "ModelVersionNotFound",
      `ModelVersion ${version} (serving ${target.metadata.name}) does not exist`,
    );
  const resolved = await resolveReference(deps, mv);
  if ("reason" in resolved) return failed(resolved.reason, resolved.message);
  const prometheus = providerFor(deps, dm);
  if (!prometheus) {
    return failed(
      "PrometheusNotConfigured",
      "no Prometheus to read live distributions from: start the operator with --prometheus-address or set spec.prometheus.address",
    );
  }
  const { selected, missing } = selectFeatures(dm, resolved.reference);
  const ctx = {
    namespace: dm.metadata.namespace ?? "",
    name: target.metadata.name,
    version,
    window: dm.spec.window ?? "1h",
  };
  const features: FeatureInput[] = missing.map((name) => ({
    name,
    kind: "Feature",
    type: "numeric",
    reference: [],
    live: [],
    method: dm.spec.features?.find((f) => f.name === name)?.method ?? defaultMethod("numeric", 0),
    problem: `not in ModelVersion ${version}'s reference`,
  }));
  for (const s of selected) {
    const live = await readLive(prometheus, s, ctx);
    if ("queryError" in live)
      return { ...failed("QueryFailed", `live distribution of ${s.ref.name}: ${live.queryError}`), version };
    features.push(
      "problem" in live
        ? {
            name: s.ref.name,
            kind: s.kind,
            type: s.ref.type,
            reference: [],
            live: [],
            method: s.settings?.method,
            problem: live.problem,
          }
        : live.input,
    );
  }
  const evaluation = evaluateDrift({
    features,
    minSampleSize: dm.spec.minSampleSize ?? 100,
    correction: dm.spec.correction ?? "benjaminiHochberg",
    referenceSampleSize: resolved.reference.sampleSize,
  });
  return { outcome: { kind: "evaluated", evaluation }, version };
}

/** The operator's Prometheus is the admin's and trusted; one the DriftMonitor names is fenced. */
function providerFor(deps: DriftDeps, dm: DriftMonitor): MetricProvider | undefined {
  const address = dm.spec.prometheus?.address;
  return address
    ? createPrometheusProvider({ address, outbound: deps.outbound ?? outboundPolicy() })
    : deps.prometheus;
}

function report(
  dm: DriftMonitor,
  version: string,
  outcome: Outcome & { kind: "evaluated" },
  criticalSince: string,
  now: Date,
): DriftReport {
  const e = outcome.evaluation;
  return {
    kind: "DriftReport",
    apiVersion: API_VERSION,
    driftMonitor: { namespace: dm.metadata.namespace ?? "", name: dm.metadata.name },
    modelDeployment: dm.spec.targetRef.name,
    modelVersion: version,
    verdict: e.verdict,
    evaluatedAt: kubeTime(now),
    criticalSince,
    window: dm.spec.window ?? "1h",
    sampleSize: e.sampleSize,
    features: e.features.map(({ problem: _problem, ...f }) => f),
  };
}
