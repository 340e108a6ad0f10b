// fast-check arbitraries of what the apiserver admits: ModelVersion,
// ModelDeployment and DriftMonitor objects that pass the zod schemas and the
// CEL rules zod does not mirror (autoscaling targets, min <= max replicas).
// Edges are weighted in on purpose (0, maximum values, empty and full lists,
// names at their length limit, unicode text, extreme bucket edges), since
// that is where a builder that trusts its input breaks.
import fc from "fast-check";
import {
  ARTIFACT_SCHEMES,
  type DriftMonitor,
  driftMonitorSchema,
  type ModelDeployment,
  type ModelVersion,
  modelDeploymentSchema,
  modelVersionSchema,
} from "../api/index.ts";

const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 3 });

/** Unicode text up to `max` characters (code points from the whole range), empty and full included. */
export function text(max: number, min = 0): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: "binary", minLength: min, maxLength: Math.min(max, 40) }),
    fc.string({ unit: "grapheme-ascii", minLength: Math.max(min, max), maxLength: max }),
    fc.constant("ü".repeat(max)).filter((s) => s.length >= min),
  );
}

/** A DNS-1123 label (or subdomain without dots) of 1..max characters, max itself often. */
export function dnsName(max: number, firstLetter = false): fc.Arbitrary<string> {
  const first = firstLetter ? "[a-z]" : "[a-z0-9]";
  const random = fc.stringMatching(new RegExp(`^${first}([-a-z0-9]{0,10}[a-z0-9])?$`));
  const full = fc
    .tuple(random, fc.constantFrom("a", "0", "z9"))
    .map(([s, end]) => `${s}${"x".repeat(max)}`.slice(0, max - end.length) + end)
    .filter((s) => !firstLetter || /^[a-z]/.test(s));
  return fc.oneof(random, full, fc.constant(firstLetter ? "a" : "0"));
}

/** A label value (max 63), used for modelName and version. */
const labelValue = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?$/),
  fc.constant(`A${"._-".repeat(20)}Z`),
);

const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
/** Bucket edges and values where arithmetic overflows or loses precision. */
const extreme = fc.constantFrom(
  0,
  -0,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MIN_VALUE,
  -Number.MIN_VALUE,
  Number.MAX_SAFE_INTEGER,
  1e-300,
  1e300,
);
const edgeValue = fc.oneof(finite, extreme, fc.integer({ min: -1000, max: 1000 }));

/** N fractions that sum to 1 (as written by a tool), or arbitrary ones (hand-written, maybe wrong). */
function fractions(n: number): fc.Arbitrary<number[]> {
  const share = fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0, 1, 1e-300));
  return fc.array(share, { minLength: n, maxLength: n }).chain((raw) => {
    const sum = raw.reduce((a, b) => a + b, 0);
    const normal = sum > 0 ? raw.map((x) => Math.min(1, x / sum)) : raw.map((_, i) => (i === 0 ? 1 : 0));
    return fc.constantFrom(normal, raw);
  });
}

const numericReference = (name: fc.Arbitrary<string>) =>
  fc.tuple(name, fc.array(edgeValue, { minLength: 2, maxLength: 65 })).chain(([n, values]) => {
    const edges = values.sort((a, b) => a - b);
    return fractions(edges.length - 1).map((f) => ({ name: n, type: "numeric", edges, fractions: f }));
  });

const categoricalReference = (name: fc.Arbitrary<string>) =>
  fc.tuple(name, fc.uniqueArray(text(256), { minLength: 1, maxLength: 256 })).chain(([n, keys]) =>
    fractions(keys.length).map((f) => ({
      name: n,
      type: "categorical",
      categories: Object.fromEntries(keys.map((k, i) => [k, f[i] as number])),
    })),
  );

/** Feature names shared by the ModelVersion's reference and the DriftMonitor's feature list. */
export const featureName = fc.oneof(fc.constantFrom("f0", "f1", "p0", "__other__"), text(128, 1));

function referenceList(maxLength: number) {
  return fc.uniqueArray(fc.oneof(numericReference(featureName), categoricalReference(featureName)), {
    maxLength,
    selector: (r) => r.name,
  });
}

const signatureField = fc.record(
  {
    name: text(128, 1),
    type: fc.constantFrom("numeric", "categorical"),
    datatype: fc.constantFrom("FP32", "INT64", "BYTES", "BOOL"),
  },
  { requiredKeys: ["name", "type"] },
);

/** A resource quantity as the schema's pattern admits it, with large exponents and precision. */
const quantity = fc.oneof(
  fc.integer({ min: 0, max: 1_000_000 }),
  fc.constantFrom("0", "500m", "1Gi", "1.5", ".5", "1e3", "1E", "999999Ei", "1n", "0.0000000001", "1e-12"),
  fc
    .tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: -400, max: 400 }))
    .map(([m, e]) => `${m}e${e}`),
  // Short strings with exponents whose exact value is enormous: the pattern has no bound on them.
  fc.constantFrom(
    "1e99999999",
    "1e-99999999",
    `1${"0".repeat(300)}`,
    `0.${"0".repeat(300)}1`,
    "7e+999999999999",
  ),
);
const resources = fc.record(
  {
    requests: fc.dictionary(fc.constantFrom("cpu", "memory", "nvidia.com/gpu"), quantity, { maxKeys: 3 }),
    limits: fc.dictionary(fc.constantFrom("cpu", "memory", "ephemeral-storage"), quantity, { maxKeys: 3 }),
  },
  { requiredKeys: [] },
);
const envList = fc.uniqueArray(
  fc.record({ name: fc.stringMatching(/^[-._a-zA-Z][-._a-zA-Z0-9]{0,30}$/), value: text(64) }),
  { maxLength: 128, selector: (e) => e.name },
);

const artifactUri = fc.oneof(
  fc.tuple(fc.constantFrom(...ARTIFACT_SCHEMES), text(60, 1)).map(([s, rest]) => `${s}://${rest}`),
  fc.constantFrom("pvc://models/iris/v1", "pvc://c", "pvc:///x", "file:///m", "file://relative", "s3://b/k"),
  fc.constant(`pvc://${"c".repeat(253)}/${"p".repeat(1780)}`),
);

export const modelVersionArb: fc.Arbitrary<unknown> = fc.record({
  apiVersion: fc.constant("modelops.io/v1alpha1"),
  kind: fc.constant("ModelVersion"),
  metadata: fc.record({ name: dnsName(63), namespace: dnsName(63), uid: fc.uuid(), generation: fc.nat() }),
  spec: fc.record(
    {
      modelName: labelValue,
      version: labelValue,
      artifact: fc.record(
        {
          uri: artifactUri,
          format: fc.constantFrom(
            "sklearn",
            "xgboost",
            "lightgbm",
            "onnx",
            "pytorch",
            "tensorflow",
            "mlflow",
            "custom",
          ),
          sha256: fc.stringMatching(/^[a-f0-9]{64}$/),
        },
        { requiredKeys: ["uri", "format"] },
      ),
      runtime: fc.record(
        {
          name: fc.constantFrom("mlserver", "triton", "torchserve", "tfserving", "custom"),
          image: text(512, 1),
          protocol: fc.constantFrom("v2", "v1"),
          port: fc.oneof(
            fc.constantFrom(1, 8000, 8080, 9090, 9091, 65535),
            fc.integer({ min: 1, max: 65535 }),
          ),
          args: fc.array(text(64), { maxLength: 64 }),
          env: envList,
          resources,
        },
        { requiredKeys: ["name", "image"] },
      ),
      signature: fc.record(
        {
          inputs: fc.uniqueArray(signatureField, { maxLength: 256, selector: (f) => f.name }),
          outputs: fc.uniqueArray(signatureField, { maxLength: 4, selector: (f) => f.name }),
        },
        { requiredKeys: [] },
      ),
      lineage: fc.record({ trainingRun: text(1024), createdBy: text(1024) }, { requiredKeys: [] }),
      metrics: fc.dictionary(text(128), finite, { maxKeys: 64 }),
      reference: fc.record(
        {
          sampleSize: fc.oneof(fc.constantFrom(1, Number.MAX_SAFE_INTEGER), fc.integer({ min: 1 })),
          features: referenceList(8),
          predictions: referenceList(2),
        },
        { requiredKeys: [] },
      ),
      stage: fc.constantFrom("None", "Staging", "Production", "Archived"),
    },
    { requiredKeys: ["modelName", "version", "artifact", "runtime"] },
  ),
});

/** Durations the schema admits for a range, its ends included. */
const duration = (values: string[]) => fc.constantFrom(...values);
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

const labelMap = fc.dictionary(text(63, 1), text(63), { maxKeys: 64 });

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
        { labels: labelMap, annotations: labelMap, resources, nodeSelector: labelMap, env: envList },
        { requiredKeys: [] },
      ),
      strategy,
      trafficRouting,
      autoscaling,
      proxy: fc.record({ enabled: fc.boolean() }, { requiredKeys: [] }),
    },
    { requiredKeys: ["modelVersion"] },
  ),
});

const threshold = fc.oneof(fc.constantFrom(0, 1, 0.05, 1e308), fc.double({ min: 0, max: 2, noNaN: true }));
const driftFeature = fc
  .record(
    {
      name: featureName,
      method: fc.constantFrom("psi", "jensenShannon", "ks", "wasserstein", "chiSquare"),
      query: text(4096),
      warning: threshold,
      critical: threshold,
    },
    { requiredKeys: ["name"] },
  )
  .map((f) => {
    if (f.method === undefined) return { name: f.name, ...(f.query === undefined ? {} : { query: f.query }) };
    const test = f.method === "ks" || f.method === "chiSquare";
    const [w, c] = [f.warning, f.critical].map((t) => (t === undefined || !test ? t : Math.min(1, t)));
    if (w === undefined || c === undefined) return { ...f, warning: w, critical: c };
    return {
      ...f,
      warning: test ? Math.max(w, c) : Math.min(w, c),
      critical: test ? Math.min(w, c) : Math.max(w, c),
    };
  });

export const driftMonitorArb: fc.Arbitrary<unknown> = fc.record({
  apiVersion: fc.constant("modelops.io/v1alpha1"),
  kind: fc.constant("DriftMonitor"),
  metadata: fc.record({ name: dnsName(63), namespace: dnsName(63), uid: fc.uuid(), generation: fc.nat() }),
  spec: fc.record(
    {
      targetRef: dnsName(253).map((name) => ({ name })),
      interval: duration(["1s", "5m", "24h"]),
      window: duration(["1m", "1h", "720h"]),
      minSampleSize: fc.constantFrom(1, 100, 1000, 100_000_000),
      correction: fc.constantFrom("none", "bonferroni", "benjaminiHochberg"),
      features: fc.uniqueArray(driftFeature, { maxLength: 256, selector: (f) => f.name }),
      predictions: fc.boolean(),
      prometheus: fc.record({ address: fc.constantFrom("http://p:9090", `https://${"a".repeat(2000)}`) }),
      actions: fc.record(
        {
          rollback: fc.boolean(),
          retrainJob: fc.constant({ template: { spec: { template: { spec: { containers: [] } } } } }),
          webhook: fc.record(
            {
              url: fc.constantFrom("https://hooks.example/drift", "http://10.0.0.1/x"),
              secretRef: fc.record({ name: dnsName(253), key: fc.constantFrom("token", "a.b-c_d") }),
            },
            { requiredKeys: ["url"] },
          ),
        },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: ["targetRef"] },
  ),
});

/** Keeps what the schema admits, parsed (defaults applied) as the informer's objects are. */
function admitted<T>(
  arb: fc.Arbitrary<unknown>,
  schema: { safeParse(x: unknown): { success: boolean; data?: T } },
) {
  return arb
    .map((x) => schema.safeParse(x))
    .filter((r) => r.success)
    .map((r) => r.data as T);
}

export const admittedModelVersion = admitted<ModelVersion>(modelVersionArb, modelVersionSchema);
export const admittedModelDeployment = admitted<ModelDeployment>(modelDeploymentArb, modelDeploymentSchema);
export const admittedDriftMonitor = admitted<DriftMonitor>(driftMonitorArb, driftMonitorSchema);
