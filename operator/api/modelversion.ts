// ModelVersion: one trained model artifact, how to serve it, where it came
// from and what its training data looked like.
//
// Immutability: a ModelVersion is immutable once created, except
// `spec.stage`. The apiserver enforces it with transition rules (`self ==
// oldSelf`): on spec.version ("version is immutable..."), spec.artifact
// ("artifact is immutable..."), spec.modelName and spec.runtime, and, on
// spec, for each optional field (signature, lineage, metrics, reference),
// a rule that it is neither added, removed nor changed.
import { z } from "zod";
import {
  conditionsSchema,
  envListSchema,
  keyRefSchema,
  kindSchema,
  LABEL_VALUE_PATTERN,
  labelValueNameSchema,
  listMap,
  maxProperties,
  objectMetaSchema,
  objectNameSchema,
  observedGenerationSchema,
  resourceRequirementsSchema,
  withCel,
} from "./common.ts";
import { LABEL_VERSION } from "./contract.ts";
import { MODEL_STAGES } from "./gates.ts";

const immutable = (field: string, fix: string) =>
  ({ rule: "self == oldSelf", message: `${field} is immutable: ${fix}` }) as const;

const NEW_VERSION = "create a new ModelVersion for a new model version";

export const ARTIFACT_SCHEMES = ["s3", "gs", "https", "http", "pvc", "oci", "file", "hf"] as const;
/** An MLflow Model Registry version, pinned by number: a ModelVersion is immutable, an alias is not. */
const MLFLOW_URI_REGEX = "models:/[^/@]+/[0-9]+";
const ARTIFACT_URI_REGEX = `^((${ARTIFACT_SCHEMES.join("|")})://.+|${MLFLOW_URI_REGEX})$`;
const ARTIFACT_URI_PATTERN = new RegExp(ARTIFACT_URI_REGEX);
const URI_HELP =
  `must be scheme://location with scheme one of ${ARTIFACT_SCHEMES.join(", ")}, e.g. pvc://models/iris/v1 or ` +
  "s3://bucket/model, or an MLflow registry version pinned by number, models:/<name>/<version> (resolve an " +
  "alias first: kubectl modelops import mlflow does)";
const HTTP_HELP =
  "plain http:// sends the model (and any token) unencrypted: use https://, or set artifact.allowHttp: true";

const S3_ONLY = "artifact.s3 applies to s3:// artifacts only: remove it, or use an s3:// uri";
const MLFLOW_ONLY =
  "artifact.mlflow applies to models:/ artifacts only: remove it, or use a models:/<name>/<version> uri";

/** Whether any address the download uses is plain http. */
function usesHttp(a: {
  uri: string;
  s3?: { endpoint?: string };
  mlflow?: { trackingUri?: string };
}): boolean {
  return [a.uri, a.s3?.endpoint, a.mlflow?.trackingUri].some((u) => u?.startsWith("http://"));
}

const artifactSourceUrl = (what: string) =>
  z
    .string()
    .max(2048)
    .regex(/^https?:\/\/[^\s/]+/)
    .describe(what);

export const artifactSchema = withCel(
  z
    .object({
      uri: withCel(
        z
          .string()
          .max(2048)
          .refine((u) => ARTIFACT_URI_PATTERN.test(u), { message: URI_HELP }),
        [
          {
            rule: `self.matches(r'${ARTIFACT_URI_REGEX}')`,
            message: URI_HELP,
            messageExpression: `'"' + self + '" ${URI_HELP}'`,
          },
        ],
      ).describe(
        "Where the model artifact is. pvc://<claim>/<path> is mounted read-only; file:///<path> is baked into " +
          "the image; s3://bucket/prefix, https://… (one file or a .tar.gz/.zip archive) and an MLflow registry " +
          "version models:/<name>/<version> are downloaded by an init container before the model server " +
          "starts. gs, oci and hf are passed to a custom runtime as they are.",
      ),
      format: z
        .enum(["sklearn", "xgboost", "lightgbm", "onnx", "pytorch", "tensorflow", "mlflow", "custom"])
        .describe(
          "Serialization format of the model; selects the runtime's loader (e.g. MLServer implementation).",
        ),
      sha256: z
        .string()
        .regex(/^[a-f0-9]{64}$/)
        .optional()
        .describe(
          "Lowercase hex SHA-256 a downloaded artifact must match: of the file, or for a directory (an S3 " +
            "prefix, an unpacked archive, an MLflow model) of its sha256sum listing sorted by path " +
            "(operator/fetcher/README.md). A mismatch stops the pod before the model server starts.",
        ),
      secretRef: z
        .object({ name: objectNameSchema("Name of the Secret in the same namespace.") })
        .optional()
        .describe(
          "Secret whose keys become the download's environment, and only the download's: AWS_ACCESS_KEY_ID, " +
            "AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) for S3; MLFLOW_TRACKING_TOKEN, or " +
            "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, for MLflow. Naming it requires get on it.",
        ),
      s3: z
        .object({
          endpoint: artifactSourceUrl(
            "S3-compatible endpoint, e.g. https://minio.storage:9000. Default: AWS's regional endpoint.",
          ).optional(),
          region: z.string().max(64).optional().describe("Region for request signing. Default us-east-1."),
          pathStyle: z
            .boolean()
            .optional()
            .describe(
              "Bucket in the URL path rather than the host name, as most S3-compatible servers want.",
            ),
        })
        .optional()
        .describe("Where and how to reach an s3:// artifact."),
      mlflow: z
        .object({
          trackingUri: artifactSourceUrl(
            "MLflow tracking server, e.g. https://mlflow.example.com. Default: the operator's --mlflow-tracking-uri.",
          ).optional(),
        })
        .optional()
        .describe("The MLflow tracking server of a models:/ artifact."),
      allowHttp: z
        .boolean()
        .optional()
        .describe("Allow plain http:// for the artifact, its S3 endpoint or MLflow server. Default false."),
    })
    .refine((a) => a.allowHttp === true || !usesHttp(a), { message: HTTP_HELP })
    .refine((a) => !a.s3 || a.uri.startsWith("s3://"), { message: S3_ONLY })
    .refine((a) => !a.mlflow || a.uri.startsWith("models:/"), { message: MLFLOW_ONLY })
    .describe(`The model artifact. Immutable: ${NEW_VERSION}.`),
  [
    immutable("artifact", NEW_VERSION),
    {
      rule: "!(self.uri.startsWith('http://') || (has(self.s3) && has(self.s3.endpoint) && self.s3.endpoint.startsWith('http://')) || (has(self.mlflow) && has(self.mlflow.trackingUri) && self.mlflow.trackingUri.startsWith('http://'))) || (has(self.allowHttp) && self.allowHttp)",
      message: HTTP_HELP,
    },
    {
      rule: "!has(self.s3) || self.uri.startsWith('s3://')",
      message: S3_ONLY,
    },
    {
      rule: "!has(self.mlflow) || self.uri.startsWith('models:/')",
      message: MLFLOW_ONLY,
    },
  ],
);

export const runtimeSchema = withCel(
  z
    .object({
      name: z
        .enum(["mlserver", "triton", "torchserve", "tfserving", "custom"])
        .describe("Model server. custom: your own image, which receives the artifact URI in MODEL_URI."),
      image: z
        .string()
        .min(1)
        .max(512)
        .describe("Container image of the model server, e.g. seldonio/mlserver:1.7.1."),
      protocol: z
        .enum(["v2", "v1"])
        .default("v2")
        .describe(
          "Inference protocol the server speaks: v2 (Open Inference Protocol) or v1 (KServe V1 JSON). Default v2.",
        ),
      port: z
        .number()
        .int()
        .min(1)
        .max(65535)
        .default(8080)
        .describe("HTTP port the server listens on. Default 8080."),
      grpcPort: z
        .number()
        .int()
        .min(1)
        .max(65535)
        .optional()
        .describe(
          "gRPC port the server listens on; unset: REST only. Set, clients may call the model over gRPC " +
            "(HTTP/2) on the Service's port too, and the modelops-proxy measures Open Inference Protocol " +
            "ModelInfer calls (mlserver, triton) as it does REST ones. A custom server receives it in GRPC_PORT. " +
            "Must differ from port; not with torchserve.",
        ),
      args: z
        .array(z.string().max(4096))
        .max(64)
        .optional()
        .describe("Extra arguments for the server container."),
      env: envListSchema.optional(),
      resources: resourceRequirementsSchema.optional(),
    })
    .describe("How to serve the model. Immutable: create a new ModelVersion to change it."),
  [
    immutable("runtime", "create a new ModelVersion to serve the model differently"),
    {
      rule: "!has(self.grpcPort) || self.grpcPort != self.port",
      message:
        "runtime.grpcPort equals runtime.port: the server needs one port for HTTP and another for gRPC; " +
        "choose a different grpcPort (e.g. port + 1) or remove it",
      fieldPath: ".grpcPort",
    },
    {
      rule: "!has(self.grpcPort) || self.name != 'torchserve'",
      message:
        "runtime.grpcPort is not supported with torchserve (its gRPC API is not the Open Inference Protocol); " +
        "remove grpcPort or serve the model with mlserver, triton or custom",
      fieldPath: ".grpcPort",
    },
  ],
);

const featureTypeSchema = z
  .enum(["numeric", "categorical"])
  .describe(
    "numeric: a number, compared with histograms; categorical: a label, compared by category shares.",
  );

const signatureFieldSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(128)
      .describe("Name of the input or output, as sent to / returned by the server."),
    type: featureTypeSchema,
    datatype: z
      .enum([
        "BOOL",
        "UINT8",
        "UINT16",
        "UINT32",
        "UINT64",
        "INT8",
        "INT16",
        "INT32",
        "INT64",
        "FP16",
        "FP32",
        "FP64",
        "BYTES",
      ])
      .optional()
      .describe("Open Inference Protocol tensor datatype, e.g. FP32. Optional."),
  })
  .describe("One named input or output of the model.");

const signatureListSchema = (what: string) =>
  listMap(z.array(signatureFieldSchema).max(256).describe(what), ["name"]);

export const signatureSchema = z
  .object({
    inputs: signatureListSchema("Inputs (features) of the model, in order.").optional(),
    outputs: signatureListSchema("Outputs (predictions) of the model.").optional(),
  })
  .describe(
    "The model's inputs and outputs; the proxy uses it to read features and predictions from requests.",
  );

const optionalText = (what: string) => z.string().max(1024).optional().describe(what);

export const lineageSchema = z
  .object({
    trainingRun: optionalText("Id or URL of the training run (e.g. an MLflow run)."),
    dataset: optionalText("Dataset (and its version) the model was trained on."),
    gitCommit: optionalText("Git commit of the training code."),
    parentVersion: optionalText("Name of the ModelVersion this one was derived from, if any."),
    framework: optionalText('Training framework and version, e.g. "scikit-learn 1.5.2".'),
    createdBy: optionalText("Person or pipeline that produced the model."),
  })
  .describe("Where the model came from. Informational; all fields optional.");

export const featureReferenceSchema = withCel(
  z
    .object({
      name: z
        .string()
        .min(1)
        .max(128)
        .describe("Feature or prediction name; matches a signature input/output."),
      type: featureTypeSchema,
      edges: z
        .array(z.number())
        .min(2)
        .max(65)
        .optional()
        .describe(
          "numeric only: the N+1 ascending bucket boundaries of N buckets (2..65 edges). Bucket i holds values " +
            "in (edges[i], edges[i+1]]; the first and last buckets also take live values below edges[0] and " +
            "above the last edge.",
        ),
      fractions: z
        .array(z.number().min(0).max(1))
        .min(1)
        .max(64)
        .optional()
        .describe(
          "numeric only: share of training values in each bucket, one per bucket (edges.size() - 1); sums to 1.",
        ),
      categories: maxProperties(z.record(z.string().max(256), z.number().min(0).max(1)), 256)
        .optional()
        .describe("categorical only: share of training values per category (at most 256); sums to 1."),
    })
    .refine((f) => f.type !== "numeric" || (f.edges?.length ?? 0) === (f.fractions?.length ?? -1) + 1, {
      message: "a numeric reference needs edges and fractions with edges.length == fractions.length + 1",
    })
    .refine((f) => f.type !== "categorical" || Object.keys(f.categories ?? {}).length > 0, {
      message: "a categorical reference needs categories",
    })
    .refine((f) => (f.edges ?? []).every((e, i, all) => i === 0 || (all[i - 1] as number) <= e), {
      message: "edges must be in ascending order",
    })
    .refine((f) => f.type !== "categorical" || (f.edges === undefined && f.fractions === undefined), {
      message: "a categorical reference uses categories, not edges/fractions",
    })
    .describe("Training-time distribution of one feature or prediction, the baseline for drift."),
  [
    {
      rule: "self.type != 'numeric' || (has(self.edges) && has(self.fractions) && size(self.edges) == size(self.fractions) + 1)",
      message:
        "a numeric reference needs edges and fractions with size(edges) == size(fractions) + 1 (N+1 bucket boundaries, one fraction per bucket)",
    },
    {
      rule: "!has(self.edges) || self.edges.isSorted()",
      message: "edges must be in ascending order",
      fieldPath: ".edges",
    },
    {
      rule: "self.type != 'categorical' || (has(self.categories) && size(self.categories) > 0)",
      message: "a categorical reference needs categories: a map of category -> fraction of training values",
    },
    {
      rule: "self.type != 'categorical' || (!has(self.edges) && !has(self.fractions))",
      message: "a categorical reference uses categories, not edges/fractions: remove edges and fractions",
    },
  ],
);

const referenceListSchema = (what: string) =>
  listMap(z.array(featureReferenceSchema).max(256).describe(what), ["name"]);

export const referenceSchema = z
  .object({
    sampleSize: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe("Number of training rows the distributions were computed from."),
    features: referenceListSchema("Reference distribution of each input feature (at most 256).").optional(),
    predictions: referenceListSchema("Reference distribution of each model output (at most 256).").optional(),
    configMapRef: keyRefSchema("ConfigMap")
      .optional()
      .describe(
        "A ConfigMap key holding the reference as JSON or YAML ({features: [...], predictions: [...]}), for " +
          "references too large for the object. Inline features/predictions win on a name clash.",
      ),
  })
  .describe("Training-time (reference) distributions that DriftMonitors compare live traffic against.");

/** Optional fields are covered by spec-level rules: a field-level rule would miss adding or removing them. */
const optionalImmutable = (field: string) => ({
  rule: `has(self.${field}) == has(oldSelf.${field}) && (!has(self.${field}) || self.${field} == oldSelf.${field})`,
  message: `${field} is immutable: ${NEW_VERSION}; only spec.stage may change`,
  fieldPath: `.${field}`,
});

export const modelVersionSpecSchema = withCel(
  z
    .object({
      modelName: withCel(
        z
          .string()
          .min(1)
          .max(63)
          .regex(LABEL_VALUE_PATTERN)
          .describe("Name of the model this is a version of, e.g. iris-classifier (a label value, max 63)."),
        [immutable("modelName", NEW_VERSION)],
      ),
      version: withCel(
        z
          .string()
          .min(1)
          .max(63)
          .regex(LABEL_VALUE_PATTERN)
          .describe('Version of the model, e.g. "1" or "2024-06-01.3" (a label value, max 63). Immutable.'),
        [immutable("version", NEW_VERSION)],
      ),
      artifact: artifactSchema,
      runtime: runtimeSchema,
      signature: signatureSchema.optional(),
      lineage: lineageSchema.optional(),
      metrics: maxProperties(z.record(z.string().max(128), z.number()), 64)
        .optional()
        .describe("Offline evaluation metrics, name -> value, e.g. {accuracy: 0.97, f1: 0.96}. At most 64."),
      reference: referenceSchema.optional(),
      stage: z
        .enum(MODEL_STAGES)
        .default("None")
        .describe(
          "Lifecycle stage: None, Staging, Production or Archived. Default None. The only field that may change.",
        ),
    })
    .describe("Desired state of the ModelVersion. Immutable except stage."),
  ["signature", "lineage", "metrics", "reference"].map(optionalImmutable),
);
export type ModelVersionSpec = z.infer<typeof modelVersionSpecSchema>;

export const modelVersionStatusSchema = z
  .object({
    phase: z
      .enum(["Ready", "Invalid"])
      .optional()
      .describe("Ready: can be deployed. Invalid: see message and the Ready condition for what to fix."),
    observedGeneration: observedGenerationSchema,
    conditions: conditionsSchema.optional(),
    message: z.string().max(32768).optional().describe("Human-readable summary of the phase."),
  })
  .describe("Observed state of the ModelVersion, written by the operator.");
export type ModelVersionStatus = z.infer<typeof modelVersionStatusSchema>;

export const modelVersionNameSchema = labelValueNameSchema(
  "ModelVersion",
  `the pods serving it carry it in the ${LABEL_VERSION} label`,
);

export const modelVersionSchema = kindSchema(
  "ModelVersion",
  modelVersionSpecSchema,
  modelVersionStatusSchema,
).extend({ metadata: objectMetaSchema.extend({ name: modelVersionNameSchema }) });
export type ModelVersion = z.infer<typeof modelVersionSchema>;
export type ModelVersionInput = z.input<typeof modelVersionSchema>;

export const MODEL_VERSION_DESCRIPTION =
  "ModelVersion is one trained model artifact: where it is, how to serve it, its lineage, offline metrics " +
  "and training-time feature distributions. Immutable once created, except spec.stage.";
