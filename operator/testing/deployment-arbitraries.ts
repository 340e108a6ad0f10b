// fast-check arbitrary of ModelDeployments the apiserver admits: every
// strategy, router and autoscaling provider, analyses at their list limits,
// and the CEL rules zod does not mirror (autoscaling targets, min <= max).
import fc from "fast-check";
import { dnsName, duration, envList, finite, optional, resources, text } from "./arbitrary-values.ts";
import { podTemplateFields, proxySettings } from "./pod-template-arbitraries.ts";

const ANALYSIS_INTERVALS = ["1s", "1000ms", "24h", "1m", "90s", "1h30m", "0.5m", "86400s"];

const analysisMetric = fc
  .record({
    name: fc.stringMatching(/^[a-zA-Z][-a-zA-Z0-9_]{0,62}$/),
    source: fc.oneof(
      fc
        .constantFrom("errorRate", "latencyP50", "latencyP95", "latencyP99", "requestRate")
        .map((builtin) => ({
          builtin,
        })),
      text(4096, 1).map((query) => ({ query })),
    ),
    min: optional(finite),
    max: optional(finite),
    maxRatioToStable: optional(fc.double({ min: Number.MIN_VALUE, max: 1e308, noNaN: true })),
    noData: optional(fc.constantFrom("Inconclusive", "Fail", "Pass")),
  })
  .map(({ source, min, max, ...m }) => ({
    ...m,
    ...source,
    ...(min !== undefined ? { min: Math.min(min, max ?? min) } : {}),
    ...(max !== undefined ? { max: Math.max(max, min ?? max) } : {}),
    ...(min === undefined && max === undefined && m.maxRatioToStable === undefined ? { max: 0 } : {}),
  }));

const analysis = fc.record(
  {
    interval: duration(ANALYSIS_INTERVALS),
    count: fc.oneof(fc.constantFrom(1, 1000), fc.integer({ min: 1, max: 1000 })),
    failureLimit: fc.constantFrom(0, 1, 1000),
    inconclusiveLimit: fc.constantFrom(0, 1, 1000),
    metrics: fc.uniqueArray(analysisMetric, { minLength: 1, maxLength: 16, selector: (m) => m.name }),
  },
  { requiredKeys: ["metrics"] },
);

const delays = {
  scaleDownDelaySeconds: fc.constantFrom(0, 30, 86400),
  abortScaleDownDelaySeconds: fc.constantFrom(0, 600, 86400),
};

const canaryStep = fc.oneof(
  fc.constantFrom(0, 1, 50, 99, 100).map((setWeight) => ({ setWeight })),
  fc.integer({ min: 0, max: 100 }).map((setWeight) => ({ setWeight })),
  fc
    .oneof(
      fc.constant({}),
      duration(["0s", "168h", "1ms", "30s"]).map((d) => ({ duration: d })),
    )
    .map((pause) => ({ pause })),
  analysis.map((a) => ({ analysis: a })),
);

const strategy = fc.oneof(
  fc.record({
    canary: fc.record(
      {
        steps: fc.array(canaryStep, { minLength: 1, maxLength: 64 }),
        analysis,
        postPromotionAnalysis: analysis,
        ...delays,
      },
      { requiredKeys: ["steps"] },
    ),
  }),
  fc.record({
    blueGreen: fc.record(
      {
        autoPromotionSeconds: fc.constantFrom(0, 1, 86400),
        autoPromotionEnabled: fc.boolean(),
        prePromotionAnalysis: analysis,
        postPromotionAnalysis: analysis,
        ...delays,
      },
      { requiredKeys: [] },
    ),
  }),
  fc.record({
    shadow: fc
      .record(
        {
          mirrorPercent: fc.constantFrom(0, 1, 100),
          duration: duration(["1s", "168h", "30m"]),
          analysis,
          ...delays,
        },
        { requiredKeys: [] },
      )
      .map((s) => (s.duration || s.analysis?.count ? s : { ...s, duration: "1s" })),
  }),
);

const trafficRouting = fc.oneof(
  fc.constant({ replicas: {} }),
  dnsName(253).map((httpRoute) => ({ gatewayAPI: { httpRoute } })),
  dnsName(253).map((virtualService) => ({ istio: { virtualService } })),
);

/** A target as the CEL rules require: cpu/memory with averageUtilization, others with averageValue. */
const autoscalingTarget = fc.oneof(
  fc
    .tuple(fc.constantFrom("cpu", "memory"), fc.constantFrom(1, 70, 1000))
    .map(([type, averageUtilization]) => ({ type, averageUtilization })),
  fc
    .tuple(
      fc.constantFrom("rps", "concurrency"),
      fc.double({ min: Number.MIN_VALUE, max: 1e308, noNaN: true }),
    )
    .map(([type, averageValue]) => ({ type, averageValue })),
  fc
    .tuple(text(4096, 1), fc.constantFrom(Number.MIN_VALUE, 0.5, 1e308))
    .map(([query, averageValue]) => ({ type: "query", query, averageValue })),
);
const direction = fc.record(
  { stabilizationWindowSeconds: fc.constantFrom(0, 3600), maxPodsPerStep: fc.constantFrom(1, 1000) },
  { requiredKeys: [] },
);
const autoscaling = fc
  .record(
    {
      provider: fc.constantFrom("hpa", "keda", "builtin"),
      minReplicas: fc.constantFrom(0, 1, 10000),
      maxReplicas: fc.constantFrom(1, 3, 10000),
      targets: fc.array(autoscalingTarget, { minLength: 1, maxLength: 8 }),
      scaleUp: direction,
      scaleDown: direction,
      panicWindow: duration(["1s", "6s", "1h"]),
      stableWindow: duration(["6s", "60s", "1h"]),
    },
    { requiredKeys: ["maxReplicas", "targets"] },
  )
  .map((a) => ({ ...a, minReplicas: Math.min(a.minReplicas ?? 1, a.maxReplicas) }));

// The operator's own label keys included: a template must not move its pods into another selector.
const labelKey = fc.oneof(
  text(63, 1),
  fc.constantFrom(
    "modelops.io/deployment",
    "modelops.io/revision",
    "modelops.io/version",
    "app.kubernetes.io/name",
  ),
);
const labelMap = fc.dictionary(labelKey, text(63), { maxKeys: 64 });

// Tolerations the apiserver admits: a key unless operator is Exists, no value
// with Exists, tolerationSeconds only with NoExecute; a control-plane taint too.
const toleration = fc
  .record(
    {
      key: fc.constantFrom("", "nvidia.com/gpu", "dedicated", "node-role.kubernetes.io/control-plane"),
      operator: fc.constantFrom("Exists", "Equal"),
      value: fc.constantFrom("", "true", "gpu-a100"),
      effect: fc.constantFrom("NoSchedule", "PreferNoSchedule", "NoExecute"),
      tolerationSeconds: fc.oneof(fc.constantFrom(0, 300), fc.integer()),
    },
    { requiredKeys: [] },
  )
  .map(({ value, tolerationSeconds, ...t }) => ({
    ...t,
    ...(t.key ? {} : { operator: "Exists" }),
    ...(value !== undefined && (t.key ? t.operator : "Exists") !== "Exists" ? { value } : {}),
    ...(tolerationSeconds !== undefined && t.effect === "NoExecute" ? { tolerationSeconds } : {}),
  }));

export const modelDeploymentArb: fc.Arbitrary<unknown> = fc.record({
  apiVersion: fc.constant("modelops.io/v1alpha1"),
  kind: fc.constant("ModelDeployment"),
  metadata: fc.record({
    name: dnsName(55, true),
    namespace: dnsName(63),
    uid: fc.uuid(),
    generation: fc.nat(),
  }),
  spec: fc.record(
    {
      modelVersion: dnsName(253),
      replicas: fc.oneof(fc.constantFrom(0, 1, 10000), fc.integer({ min: 0, max: 10000 })),
      paused: fc.boolean(),
      progressDeadlineSeconds: fc.constantFrom(1, 600, 86400),
      template: fc.record(
        {
          labels: labelMap,
          annotations: labelMap,
          resources,
          nodeSelector: labelMap,
          tolerations: fc.array(toleration, { maxLength: 32 }),
          env: envList,
          ...podTemplateFields,
        },
        { requiredKeys: [] },
      ),
      strategy,
      trafficRouting,
      autoscaling,
      proxy: proxySettings,
      gates: fc.record(
        {
          stages: fc.subarray(["None", "Staging", "Production", "Archived"], { minLength: 1 }),
          metrics: fc.array(
            fc.constantFrom(
              "accuracy >= 0.9",
              "accuracy >= stable - 0.01",
              "log_loss <= stable * 1.05",
              "f1>stable",
            ),
            { maxLength: 16 },
          ),
        },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: ["modelVersion"] },
  ),
});
