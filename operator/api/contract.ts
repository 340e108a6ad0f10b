// The names other programs and people rely on, defined once: the API's group
// and version, the labels and annotations on owned objects, the action
// annotation SREs and the drift controller write, the field managers that
// managedFields show, the names of the objects a ModelDeployment owns, and
// the response header that names the revision which answered. Changing one
// is a breaking change for users' selectors, dashboards, GitOps ignore rules,
// scripts or load generators. The metric names the proxy exports and the
// operator queries are the other half of the contract: metric-names.ts.

export const GROUP = "modelops.io";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Labels on every owned revision Deployment and its pods. */
export const LABEL_DEPLOYMENT = `${GROUP}/deployment`;
export const LABEL_REVISION = `${GROUP}/revision`;
export const LABEL_VERSION = `${GROUP}/version`;
/** Label on a retraining Job: the DriftMonitor that created it. */
export const LABEL_DRIFT_MONITOR = `${GROUP}/drift-monitor`;

/**
 * Manual actions, invoked without editing the spec so GitOps tools see no
 * drift: `kubectl annotate mdep NAME modelops.io/action=<verb>[@<anything>] --overwrite`.
 * The operator acts once per distinct value and records it in
 * status.lastHandledAction; the suffix makes a repeated verb a new request.
 */
export const ACTION_ANNOTATION = `${GROUP}/action`;
export const ACTION_VERBS = ["promote", "promote-full", "abort", "retry", "undo"] as const;
export type ActionVerb = (typeof ACTION_VERBS)[number];

/**
 * Annotation on a ModelDeployment choosing which of the platform's
 * notification channels hear about it: "none", or channel names
 * (comma-separated). Absent: every channel. Drift notifications follow the
 * target ModelDeployment's.
 */
export const NOTIFY_ANNOTATION = `${GROUP}/notify`;

/** Annotation on a retraining Job: the drift verdict that triggered it. */
export const DRIFT_VERDICT_ANNOTATION = `${GROUP}/drift-verdict`;
/** Annotation with a hash of the last applied desired object (runtime/apply.ts explains why). */
export const APPLIED_HASH_ANNOTATION = `${GROUP}/applied-hash`;

/**
 * Response header the modelops-proxy sidecar sets on every answer to a
 * client: the revision (the LABEL_REVISION value) that answered, so a client
 * or a load generator can tell which revision served a request during a
 * rollout, errors and the proxy's own 502/504 included.
 */
export const REVISION_HEADER = "x-modelops-revision";

/** Field manager of the operator's own writes (owned objects and status). */
export const FIELD_MANAGER = "modelops-operator";
/** Field manager of router writes, distinct so managedFields say who set the weights on a user's route. */
export const ROUTER_FIELD_MANAGER = "modelops-operator-router";
/** reportingController of every Event the operator records. */
export const EVENT_REPORTING_CONTROLLER = `${GROUP}/operator`;

/** Port of every Service a ModelDeployment owns. */
export const SERVICE_PORT = 80;

// Names of the objects a ModelDeployment owns.

/** The Service clients call: the ModelDeployment's own name. */
export function clientServiceName(mdepName: string): string {
  return mdepName;
}

/**
 * The DNS domain of Services inside the cluster. Kubernetes' default; a
 * cluster with another one still resolves the short <service>.<namespace>.svc.
 */
export const CLUSTER_DOMAIN = "cluster.local";

/** The in-cluster address clients call (status.url): the client Service's name, no port when it is 80. */
export function clientServiceUrl(mdepName: string, namespace: string): string {
  const host = `${clientServiceName(mdepName)}.${namespace}.svc.${CLUSTER_DOMAIN}`;
  return new URL(`http://${host}:${SERVICE_PORT}`).href.replace(/\/$/, "");
}

/** Selects the stable revision, for mesh and gateway routers. */
export function stableServiceName(mdepName: string): string {
  return `${mdepName}-stable`;
}

/** Selects the canary (or shadow) revision, for mesh and gateway routers and the proxies' mirror. */
export function canaryServiceName(mdepName: string): string {
  return `${mdepName}-canary`;
}

/** Selects a blue-green rollout's preview revision. */
export function previewServiceName(mdepName: string): string {
  return `${mdepName}-preview`;
}

/** One Deployment per live revision. */
export function revisionDeploymentName(mdepName: string, revision: string): string {
  return `${mdepName}-${revision}`;
}

/**
 * The artifact fetcher (operator/fetcher/), the init container that
 * downloads a remote artifact into the model volume, reads its job from
 * these variables; the workload builder (core/workload.ts) sets them. The
 * credentials Secret a ModelVersion names is passed whole as environment
 * (envFrom), so its keys use the names the tools already know:
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN for S3;
 * MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and
 * MLFLOW_TRACKING_PASSWORD, for MLflow.
 */
export const FETCHER_ENV = {
  /** s3://bucket/prefix, https://host/path, http://… (only with ALLOW_HTTP), models:/name/version. */
  uri: "MODELOPS_ARTIFACT_URI",
  /** Directory the artifact is written into (the shared volume's mount path). */
  dest: "MODELOPS_ARTIFACT_DEST",
  /** Optional lowercase hex SHA-256, of a single file or of a directory's canonical listing. */
  sha256: "MODELOPS_ARTIFACT_SHA256",
  /** "true" lets http:// artifacts (and an http:// S3 endpoint or MLflow server) through. */
  allowHttp: "MODELOPS_ARTIFACT_ALLOW_HTTP",
  /** Most bytes the download (and an archive's unpacked contents) may take. */
  maxBytes: "MODELOPS_ARTIFACT_MAX_BYTES",
  /** S3-compatible endpoint URL; unset means AWS's regional endpoint. */
  s3Endpoint: "MODELOPS_S3_ENDPOINT",
  /** "true": bucket in the path (most S3-compatible servers), not in the host name. */
  s3PathStyle: "MODELOPS_S3_PATH_STYLE",
  /** S3 region; AWS_REGION is the standard fallback. */
  s3Region: "MODELOPS_S3_REGION",
  /** MLflow tracking server for models:/ URIs (MLflow's own variable name). */
  mlflowTrackingUri: "MLFLOW_TRACKING_URI",
} as const;

/** Name of the init container that fetches a remote artifact; its termination message is the failure reason. */
export const FETCHER_CONTAINER = "fetch-model";

/**
 * The inference pod's model volume (a PVC artifact's claim, or the fetcher's
 * emptyDir) and where the model server finds it: spec.template may use
 * neither, so a user's volume cannot shadow the model.
 */
export const MODEL_VOLUME = "model";
export const MODEL_MOUNT_PATH = "/mnt/models";
