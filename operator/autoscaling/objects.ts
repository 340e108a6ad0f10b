// The autoscaler objects the operator owns for a ModelDeployment: an
// autoscaling/v2 HorizontalPodAutoscaler or a KEDA ScaledObject. Both target
// the ModelDeployment's scale subresource, never a revision's Deployment, so
// they change the total and the rollout engine splits it. Pure.
import type {
  V2CrossVersionObjectReference,
  V2HorizontalPodAutoscaler,
  V2HorizontalPodAutoscalerBehavior,
  V2HorizontalPodAutoscalerSpec,
  V2HPAScalingRules,
  V2MetricSpec,
} from "@kubernetes/client-node";
import {
  API_VERSION,
  type Autoscaling,
  type AutoscalingTarget,
  FIELD_MANAGER,
  LABEL_DEPLOYMENT,
  type ModelDeployment,
} from "../api/index.ts";
import { canonicalQuantity } from "../core/quantity.ts";
import { type Owned, type OwnedMeta, ownerReference } from "../core/workload.ts";
import { totalQuery } from "./queries.ts";

/** KEDA's ScaledObject (keda.sh/v1alpha1), the fields the operator sets; client-node has no type for it. */
export interface ScaledObject {
  apiVersion: "keda.sh/v1alpha1";
  kind: "ScaledObject";
  metadata: OwnedMeta;
  spec: {
    scaleTargetRef: V2CrossVersionObjectReference;
    minReplicaCount: number;
    maxReplicaCount: number;
    triggers: KedaTrigger[];
  };
}

/** One KEDA scaler; `metadata` is the scaler's settings, all strings. */
export interface KedaTrigger {
  type: string;
  metricType?: string;
  metadata: Record<string, string>;
}

/**
 * Pods metrics (custom.metrics.k8s.io) for hpa: the client load per pod that
 * the rules in config/prometheus-adapter/values.yaml make from the proxy's
 * series, mirrored shadow copies subtracted. Not the names the adapter's
 * default rules derive from those series (modelops_proxy_requests_per_second,
 * modelops_proxy_inflight_requests), which count mirrored copies too.
 */
export const HPA_POD_METRICS = {
  rps: "modelops_proxy_client_requests_per_second",
  concurrency: "modelops_proxy_client_inflight_requests",
} as const;
/** External metric an adapter must serve for a query target, selected by the ModelDeployment's name. */
export const HPA_EXTERNAL_QUERY_METRIC = "modelops_autoscaling_query";

function metadata(mdep: ModelDeployment): OwnedMeta {
  return {
    name: mdep.metadata.name,
    namespace: mdep.metadata.namespace,
    labels: { [LABEL_DEPLOYMENT]: mdep.metadata.name, "app.kubernetes.io/managed-by": FIELD_MANAGER },
    ownerReferences: [ownerReference(mdep)],
  };
}

function scaleTarget(mdep: ModelDeployment): V2CrossVersionObjectReference {
  return { apiVersion: API_VERSION, kind: "ModelDeployment", name: mdep.metadata.name };
}

export function desiredHpa(mdep: ModelDeployment, a: Autoscaling): Owned<V2HorizontalPodAutoscaler> {
  const spec: V2HorizontalPodAutoscalerSpec = {
    scaleTargetRef: scaleTarget(mdep),
    minReplicas: Math.max(1, a.minReplicas), // HPA needs 1 unless HPAScaleToZero is enabled
    maxReplicas: a.maxReplicas,
    metrics: a.targets.map((t, i) => hpaMetric(mdep, t, i)),
  };
  const behavior = hpaBehavior(a);
  if (behavior) spec.behavior = behavior;
  return { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", metadata: metadata(mdep), spec };
}

function hpaMetric(mdep: ModelDeployment, t: AutoscalingTarget, index: number): V2MetricSpec {
  if (t.type === "cpu" || t.type === "memory") {
    return {
      type: "Resource",
      resource: { name: t.type, target: { type: "Utilization", averageUtilization: t.averageUtilization } },
    };
  }
  const averageValue = canonicalQuantity(t.averageValue ?? 1);
  if (t.type === "query") {
    const selector = { matchLabels: { modelops_deployment: mdep.metadata.name, target: String(index) } };
    return {
      type: "External",
      external: {
        metric: { name: HPA_EXTERNAL_QUERY_METRIC, selector },
        target: { type: "AverageValue", averageValue },
      },
    };
  }
  return {
    type: "Pods",
    pods: { metric: { name: HPA_POD_METRICS[t.type] }, target: { type: "AverageValue", averageValue } },
  };
}

function hpaBehavior(a: Autoscaling): V2HorizontalPodAutoscalerBehavior | undefined {
  const direction = (d: Autoscaling["scaleUp"]) => {
    if (!d) return undefined;
    const out: V2HPAScalingRules = {};
    if (d.stabilizationWindowSeconds !== undefined)
      out.stabilizationWindowSeconds = d.stabilizationWindowSeconds;
    if (d.maxPodsPerStep) out.policies = [{ type: "Pods", value: d.maxPodsPerStep, periodSeconds: 15 }];
    return out;
  };
  const up = direction(a.scaleUp);
  const down = direction(a.scaleDown);
  if (!up && !down) return undefined;
  return { ...(up ? { scaleUp: up } : {}), ...(down ? { scaleDown: down } : {}) };
}

export function desiredScaledObject(
  mdep: ModelDeployment,
  a: Autoscaling,
  prometheusAddress: string | undefined,
): ScaledObject {
  const triggers = a.targets.map((t) => kedaTrigger(mdep, t, prometheusAddress));
  return {
    apiVersion: "keda.sh/v1alpha1",
    kind: "ScaledObject",
    metadata: metadata(mdep),
    spec: {
      scaleTargetRef: scaleTarget(mdep),
      minReplicaCount: a.minReplicas,
      maxReplicaCount: a.maxReplicas,
      triggers,
    },
  };
}

function kedaTrigger(
  mdep: ModelDeployment,
  t: AutoscalingTarget,
  prometheusAddress: string | undefined,
): KedaTrigger {
  if (t.type === "cpu" || t.type === "memory") {
    return { type: t.type, metricType: "Utilization", metadata: { value: String(t.averageUtilization) } };
  }
  return {
    type: "prometheus",
    metadata: {
      serverAddress: prometheusAddress ?? "",
      query: totalQuery(mdep, t, "1m"),
      threshold: String(t.averageValue),
    },
  };
}
