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
import {
  dnsName,
  duration,
  edgeValue,
  envList,
  finite,
  labelValue,
  resources,
  text,
} from "./arbitrary-values.ts";
import { modelDeploymentArb } from "./deployment-arbitraries.ts";

/** N fractions that sum to 1 (as written by a tool), or arbitrary ones (hand-written, maybe wrong). */
function fractions(n: number): fc.Arbitrary<number[]> {
  const share = fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0, 1, 1e-300));
  return fc.array(share, { minLength: n, maxLength: n }).chain((raw) => {
    const sum = raw.reduce((a, b) => a + b, 0);
    const normal = sum > 0 ? raw.map((x) => Math.min(1, x / sum)) : raw.map((_, i) => (i === 0 ? 1 : 0));
    // Mostly a distribution, so most versions get as far as their Deployment.
    return fc.oneof(
      { weight: 4, arbitrary: fc.constant(normal) },
      { weight: 1, arbitrary: fc.constant(raw) },
    );
  });
}

const numericReference = (name: fc.Arbitrary<string>) =>
  fc
    .tuple(
      name,
      fc.oneof(
        // Mostly distinct edges (as tools write them); sometimes repeated ones, which validation reports.
        {
          weight: 4,
          arbitrary: fc.uniqueArray(edgeValue, { minLength: 2, maxLength: 65, comparator: "SameValueZero" }),
        },
        { weight: 1, arbitrary: fc.array(edgeValue, { minLength: 2, maxLength: 65 }) },
      ),
    )
    .chain(([n, values]) => {
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

const artifactUri = fc.oneof(
  fc.tuple(fc.constantFrom(...ARTIFACT_SCHEMES), text(60, 1)).map(([s, rest]) => `${s}://${rest}`),
  fc.constantFrom("pvc://models/iris/v1", "pvc://c", "pvc:///x", "file:///m", "file://relative", "s3://b/k"),
  // Downloaded by the fetcher: the pod gets an init container and an emptyDir.
  fc.constantFrom("s3://models/iris/v2", "https://h/iris.tar.gz", "http://h/m.joblib", "models:/iris/3"),
  // Built-in runtimes serve only these two schemes; a version must reach its Deployment often.
  fc.tuple(fc.constantFrom("pvc://", "file:///"), text(60, 1)).map(([s, rest]) => `${s}${rest}`),
  fc.tuple(fc.constantFrom("pvc://", "file:///"), text(60, 1)).map(([s, rest]) => `${s}${rest}`),
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
          secretRef: fc.record({ name: dnsName(253) }),
          s3: fc.record(
            {
              endpoint: fc.constantFrom("https://s3.local:9000", "http://10.0.0.1:8333"),
              region: text(64, 1),
              pathStyle: fc.boolean(),
            },
            { requiredKeys: [] },
          ),
          mlflow: fc.record(
            { trackingUri: fc.constantFrom("https://mlflow", "http://mlflow.mlops:5000") },
            {
              requiredKeys: [],
            },
          ),
          allowHttp: fc.boolean(),
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
          retrainJob: fc.constant({
            template: { spec: { template: { spec: { serviceAccountName: "trainer", containers: [] } } } },
          }),
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
