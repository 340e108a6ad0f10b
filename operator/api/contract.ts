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
