// `kubectl modelops import mlflow`: prints a ModelVersion manifest, ready for
// git, for one version of an MLflow registered model. Everything comes from
// the tracking server (operator/mlflow/client.ts), read-only:
//   artifact   models:/<name>/<number>: always the number, an alias is
//              resolved now and said so (a ModelVersion is immutable, an
//              alias moves); artifact.mlflow.trackingUri (and allowHttp for
//              an http:// server) so the fetcher finds the server.
//   format,    from the MLmodel flavors: sklearn, xgboost, lightgbm when
//   runtime    MLServer's own runtime for it loads the saved file (MLServer
//              1.7's sklearn runtime loads model.pkl from the downloaded
//              directory: checked against a model logged by MLflow 3.17);
//              otherwise python_function as format mlflow (MLServer's MLflow
//              runtime); runtime mlserver with DEFAULT_IMAGE or --image.
//   signature  from the MLmodel column signature (names, numeric or
//              categorical, Open Inference Protocol datatypes).
//   lineage    run id, dataset name@digest, mlflow.source.git.commit,
//              framework and version from the flavor, mlflow.user.
//   metrics    the run's latest metrics (finite numbers, at most 64).
//   reference  the run artifact REFERENCE_ARTIFACT, when logged.
import yaml from "js-yaml";
import { API_VERSION } from "../api/contract.ts";
import { MODEL_STAGES } from "../api/gates.ts";
import { referenceSchema } from "../api/modelversion.ts";
import {
  MlflowClient,
  MlflowError,
  type ModelVersion,
  proxiedArtifactPath,
  type Run,
} from "../mlflow/client.ts";

/**
 * The run artifact holding a ModelVersion's spec.reference, as JSON:
 * {sampleSize?, features: [...], predictions: [...]}, the shape
 * `npm run drift:reference` (hack/drift/reference.ts) computes from a
 * training table. Log it from training with
 * `mlflow.log_dict(reference, "modelops-reference.json")` (hack/mlflow/register.py
 * computes it by the same rules).
 */
export const REFERENCE_ARTIFACT = "modelops-reference.json";

/** The model server image when --image is not given; the CLI runs apart from the repo, so it is written here. */
export const DEFAULT_IMAGE = "seldonio/mlserver:1.7.1";

const MAX_METRICS = 64;

export interface ImportOptions {
  trackingUri?: string;
  model: string;
  version?: string;
  alias?: string;
  /** metadata.name; default <model>-v<version>. */
  name?: string;
  namespace?: string;
  stage?: string;
  image?: string;
}

type Flavors = Record<string, Record<string, unknown> | undefined>;
export interface MLmodel {
  flavors?: Flavors;
  signature?: { inputs?: string | null; outputs?: string | null };
  run_id?: string;
}

type Field = { name: string; type: "numeric" | "categorical"; datatype?: string };
type FeatureRef = { name: string; type: "numeric" | "categorical" };

/** MLflow column types to (type, Open Inference Protocol datatype). */
const COLUMN_TYPES: Record<string, { type: Field["type"]; datatype?: string }> = {
  double: { type: "numeric", datatype: "FP64" },
  float: { type: "numeric", datatype: "FP32" },
  long: { type: "numeric", datatype: "INT64" },
  integer: { type: "numeric", datatype: "INT32" },
  boolean: { type: "categorical", datatype: "BOOL" },
  string: { type: "categorical", datatype: "BYTES" },
  binary: { type: "categorical", datatype: "BYTES" },
};

/** NumPy dtypes of tensor signatures. */
const TENSOR_TYPES: Record<string, { type: Field["type"]; datatype?: string }> = {
  float64: { type: "numeric", datatype: "FP64" },
  float32: { type: "numeric", datatype: "FP32" },
  float16: { type: "numeric", datatype: "FP16" },
  int64: { type: "numeric", datatype: "INT64" },
  int32: { type: "numeric", datatype: "INT32" },
  int16: { type: "numeric", datatype: "INT16" },
  int8: { type: "numeric", datatype: "INT8" },
  uint64: { type: "numeric", datatype: "UINT64" },
  uint32: { type: "numeric", datatype: "UINT32" },
  uint16: { type: "numeric", datatype: "UINT16" },
  uint8: { type: "numeric", datatype: "UINT8" },
  bool: { type: "categorical", datatype: "BOOL" },
  object: { type: "categorical", datatype: "BYTES" },
  str: { type: "categorical", datatype: "BYTES" },
};

/**
 * One side of an MLmodel signature (a JSON string) as signature fields, or a
 * note on why not. `categorical` names fields the reference calls
 * categorical (a classifier's integer label), which wins over the type.
 */
export function signatureFields(
  spec: string | null | undefined,
  categorical: Set<string>,
): { fields?: Field[]; note?: string } {
  if (!spec) return {};
  let cols: { name?: string; type?: string; "tensor-spec"?: { dtype?: string } }[];
  try {
    cols = JSON.parse(spec);
  } catch {
    return { note: "the MLmodel signature is not JSON" };
  }
  if (!Array.isArray(cols)) return { note: "the MLmodel signature is not a list" };
  const fields: Field[] = [];
  for (const c of cols) {
    if (!c.name) return { note: "the MLmodel signature has unnamed tensors: write signature by hand" };
    const mapped =
      c.type === "tensor" ? TENSOR_TYPES[c["tensor-spec"]?.dtype ?? ""] : COLUMN_TYPES[String(c.type)];
    const f: Field = { name: c.name.slice(0, 128), type: mapped?.type ?? "numeric" };
    if (categorical.has(f.name)) f.type = "categorical";
    if (mapped?.datatype) f.datatype = mapped.datatype;
    fields.push(f);
  }
  return { fields: fields.slice(0, 256) };
}

/**
 * The artifact format and the framework line from the MLmodel flavors. A
 * native flavor is used only when MLServer's runtime for it can load the file
 * MLflow wrote; anything else is served by MLServer's MLflow runtime.
 */
export function formatFromFlavors(flavors: Flavors): { format: string; framework?: string; note?: string } {
  const sk = flavors.sklearn;
  if (sk) {
    const framework = sk.sklearn_version ? `scikit-learn ${sk.sklearn_version}` : "scikit-learn";
    // MLServer's sklearn runtime joblib-loads a .pkl/.joblib file; skops files need MLflow's loader.
    const serialization = String(sk.serialization_format ?? "cloudpickle");
    if (
      ["cloudpickle", "pickle"].includes(serialization) &&
      /\.(pkl|pickle|joblib)$/.test(String(sk.pickled_model))
    )
      return { format: "sklearn", framework };
    return {
      format: "mlflow",
      framework,
      note: `sklearn model saved as ${serialization}: served through MLflow's loader`,
    };
  }
  const xgb = flavors.xgboost;
  if (xgb) {
    const framework = xgb.xgb_version ? `xgboost ${xgb.xgb_version}` : "xgboost";
    // MLServer's xgboost runtime loads .json, .ubj and .bst; MLflow's default .xgb it does not.
    if (/\.(json|ubj|bst)$/.test(String(xgb.data))) return { format: "xgboost", framework };
    return {
      format: "mlflow",
      framework,
      note: `xgboost model file ${String(xgb.data)}: served through MLflow's loader`,
    };
  }
  const lgb = flavors.lightgbm;
  if (lgb) {
    const framework = lgb.lgb_version ? `lightgbm ${lgb.lgb_version}` : "lightgbm";
    if (/\.(bst|txt)$/.test(String(lgb.data))) return { format: "lightgbm", framework };
    return {
      format: "mlflow",
      framework,
      note: `lightgbm model file ${String(lgb.data)}: served through MLflow's loader`,
    };
  }
  if (flavors.python_function) {
    const loader = String(flavors.python_function.loader_module ?? "");
    const other = Object.keys(flavors).find((f) => f !== "python_function");
    return { format: "mlflow", ...(other ? { framework: other } : loader ? { framework: loader } : {}) };
  }
  throw new Error(
    `the model has no flavor MLServer can serve (flavors: ${Object.keys(flavors).join(", ") || "none"}); it needs python_function`,
  );
}

/** A Kubernetes object name (DNS label, at most 63) from free text. */
export function k8sName(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .replace(/-{2,}/g, "-")
    .slice(0, 63)
    .replace(/-+$/, "");
}

/** A label value (spec.modelName, spec.version) from free text. */
function labelValue(text: string): string {
  return text
    .replace(/[^-A-Za-z0-9_.]+/g, "-")
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "")
    .slice(0, 63)
    .replace(/[^A-Za-z0-9]+$/, "");
}

export interface ImportInput {
  trackingUri: string;
  version: ModelVersion;
  /** The alias the version was resolved from, if any. */
  alias?: string;
  mlmodel: MLmodel;
  run?: Run;
  reference?: unknown;
  opts: Pick<ImportOptions, "name" | "namespace" | "stage" | "image">;
}

/** The manifest and the comment lines to print above it. Pure. */
export function buildModelVersion(input: ImportInput): {
  manifest: Record<string, unknown>;
  comments: string[];
} {
  const { version: mv, run, opts } = input;
  const comments: string[] = [];
  const address = new URL(input.trackingUri);
  address.username = "";
  address.password = "";
  const trackingUri = address.href.replace(/\/$/, "");
  comments.push(
    `ModelVersion for MLflow registered model "${mv.name}" version ${mv.version}` +
      `${mv.run_id ? ` (run ${mv.run_id})` : ""}, from ${trackingUri}, by kubectl modelops import mlflow.`,
  );
  if (input.alias)
    comments.push(
      `The alias "${input.alias}" pointed at version ${mv.version} at import; the artifact pins the number, ` +
        "as a ModelVersion is immutable and an alias moves.",
    );
  if (/[/@]/.test(mv.name))
    throw new Error(
      `MLflow model name ${JSON.stringify(mv.name)} has "/" or "@", which models:/ URIs cannot carry`,
    );

  const { format, framework, note } = formatFromFlavors(input.mlmodel.flavors ?? {});
  if (note) comments.push(note);

  const reference = parseReference(input.reference, comments);
  const categorical = new Set(
    [...(reference?.features ?? []), ...(reference?.predictions ?? [])]
      .filter((f: FeatureRef) => f.type === "categorical")
      .map((f: FeatureRef) => f.name),
  );
  const inputs = signatureFields(input.mlmodel.signature?.inputs, categorical);
  const outputs = signatureFields(input.mlmodel.signature?.outputs, categorical);
  for (const n of [inputs.note, outputs.note]) if (n) comments.push(n);
  if (!input.mlmodel.signature?.inputs)
    comments.push("no signature in the MLmodel: log the model with one (mlflow.models.infer_signature)");

  const tags = Object.fromEntries((run?.data.tags ?? []).map((t) => [t.key, t.value]));
  const datasets = run?.inputs?.dataset_inputs ?? [];
  const training =
    datasets.find((d) => d.tags?.some((t) => t.key === "mlflow.data.context" && t.value === "training")) ??
    datasets[0];
  const lineage = compact({
    trainingRun: mv.run_id ?? run?.info.run_id,
    dataset: training ? `${training.dataset.name}@${training.dataset.digest}` : undefined,
    gitCommit: tags["mlflow.source.git.commit"],
    framework,
    createdBy: tags["mlflow.user"] ?? run?.info.user_id,
  });

  const metrics = latestMetrics(run, comments);

  const modelName = labelValue(mv.name);
  if (!modelName)
    throw new Error(`cannot make a Kubernetes label value of the model name ${JSON.stringify(mv.name)}`);
  const name = opts.name ?? k8sName(`${mv.name}-v${mv.version}`);
  if (opts.stage !== undefined && !(MODEL_STAGES as readonly string[]).includes(opts.stage))
    throw new Error(`--stage must be one of ${MODEL_STAGES.join(", ")}`);

  const spec: Record<string, unknown> = {
    modelName,
    version: mv.version,
    ...(opts.stage ? { stage: opts.stage } : {}),
    artifact: {
      uri: `models:/${mv.name}/${mv.version}`,
      format,
      mlflow: { trackingUri },
      ...(address.protocol === "http:" ? { allowHttp: true } : {}),
    },
    runtime: { name: "mlserver", image: opts.image ?? DEFAULT_IMAGE },
    ...(inputs.fields || outputs.fields
      ? {
          signature: compact({ inputs: inputs.fields, outputs: outputs.fields }),
        }
      : {}),
    ...(Object.keys(lineage).length > 0 ? { lineage } : {}),
    ...(metrics ? { metrics } : {}),
    ...(reference ? { reference } : {}),
  };
  if (address.protocol === "http:")
    comments.push(
      "The tracking server is plain http: allowHttp is set; prefer https outside a test cluster.",
    );
  comments.push(
    "If the server needs credentials, add artifact.secretRef naming a Secret with MLFLOW_TRACKING_TOKEN " +
      "(or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD).",
  );
  const manifest = {
    apiVersion: API_VERSION,
    kind: "ModelVersion",
    metadata: {
      name,
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
      labels: { "app.kubernetes.io/name": k8sName(mv.name) || modelName.toLowerCase() },
    },
    spec,
  };
  return { manifest, comments };
}

function compact<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== "")) as Partial<T>;
}

function latestMetrics(run: Run | undefined, comments: string[]): Record<string, number> | undefined {
  const latest = new Map<string, { value: number; at: number; step: number }>();
  for (const m of run?.data.metrics ?? []) {
    if (typeof m.value !== "number" || !Number.isFinite(m.value) || m.key.length > 128) continue;
    const seen = latest.get(m.key);
    const at = m.timestamp ?? 0;
    const step = m.step ?? 0;
    if (!seen || step > seen.step || (step === seen.step && at >= seen.at))
      latest.set(m.key, { value: m.value, at, step });
  }
  if (latest.size === 0) return undefined;
  const keys = [...latest.keys()].sort();
  if (keys.length > MAX_METRICS)
    comments.push(
      `The run has ${keys.length} metrics; the first ${MAX_METRICS} by name are kept (the schema's limit).`,
    );
  return Object.fromEntries(keys.slice(0, MAX_METRICS).map((k) => [k, latest.get(k)?.value as number]));
}

function parseReference(raw: unknown, comments: string[]) {
  if (raw === undefined) return undefined;
  const parsed = referenceSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    comments.push(
      `${REFERENCE_ARTIFACT} left out: ${issue ? `${issue.path.join(".")}: ${issue.message}` : "not a reference"}`,
    );
    return undefined;
  }
  const { sampleSize, features, predictions } = parsed.data;
  return compact({ sampleSize, features, predictions });
}

/** The manifest as YAML with the comments above it. */
export function renderManifest(built: { manifest: Record<string, unknown>; comments: string[] }): string {
  const header = built.comments.map((c) => `# ${c}`).join("\n");
  return `${header}\n${yaml.dump(built.manifest, { flowLevel: 4, lineWidth: 120, noRefs: true })}`;
}

/** Reads everything from the tracking server and returns the YAML. */
export async function importMlflow(
  opts: ImportOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  if (!opts.model) throw new Error("--model is required");
  if (!opts.version === !opts.alias) throw new Error("give exactly one of --version and --alias");
  if (opts.version && !/^[0-9]+$/.test(opts.version)) throw new Error("--version must be a version number");
  const client = MlflowClient.fromEnv(env, opts.trackingUri ? { trackingUri: opts.trackingUri } : {});
  const version = opts.version
    ? await client.getModelVersion(opts.model, opts.version)
    : await client.getModelVersionByAlias(opts.model, opts.alias as string);
  const root = proxiedArtifactPath(await client.getDownloadUri(version.name, version.version));
  const mlmodel = (yaml.load(await client.artifactText(`${root}/MLmodel`)) ?? {}) as MLmodel;
  const runId = version.run_id || mlmodel.run_id;
  const run = runId ? await client.getRun(runId) : undefined;
  let reference: unknown;
  if (run?.info.artifact_uri) {
    try {
      const runRoot = proxiedArtifactPath(run.info.artifact_uri);
      reference = JSON.parse(await client.artifactText(`${runRoot}/${REFERENCE_ARTIFACT}`));
    } catch (err) {
      // No reference logged is normal; anything else is worth a failure.
      if (!(err instanceof MlflowError && err.status === 404)) throw err;
    }
  }
  return renderManifest(
    buildModelVersion({
      trackingUri: client.address,
      version,
      ...(opts.alias ? { alias: opts.alias } : {}),
      mlmodel,
      ...(run ? { run } : {}),
      reference,
      opts,
    }),
  );
}
