// The rollout engine's inputs and outputs. The engine is pure: the shell
// observes the cluster, measures due analyses, calls it, and applies what it
// decides.
import type { ActionVerb, HeaderRouteMatch, ModelDeployment, ModelDeploymentStatus } from "../api/index.ts";

export type Status = ModelDeploymentStatus;
export type AnalysisRun = NonNullable<Status["analysisRuns"]>[number];
export type RolloutEvidence = NonNullable<Status["rolloutEvidence"]>;

/** A revision of the model: its hash and the ModelVersion it runs. */
export type Revision = { revision: string; version: string };

export type RevisionState = {
  revision: string;
  version: string;
  replicas: number;
  readyReplicas: number;
  /** The Deployment reports ProgressDeadlineExceeded: its pods cannot become ready. */
  deadlineExceeded: boolean;
};

export type ManualAction = { verb: ActionVerb; value: string };

export type RouterKind = "replicas" | "gatewayAPI" | "istio";

export type RolloutInput = {
  mdep: ModelDeployment;
  /** What spec.modelVersion resolves to now; undefined when it is missing or invalid. */
  target: Revision | undefined;
  /** Why there is no target (the ModelVersion is missing or invalid), for the phase's message. */
  targetProblem?: string | undefined;
  /** Who set spec.modelVersion and the gates it passed: kept with the rollout it starts, for its history entry. */
  targetEvidence?: Pick<RolloutEvidence, "setBy" | "gates"> | undefined;
  /** previousVersion rendered with the current template, for undo after it was scaled down. */
  previousTarget?: Revision | undefined;
  /** Deployments of this ModelDeployment that exist, by revision. */
  revisions: Map<string, RevisionState>;
  action?: ManualAction | undefined;
  router: RouterKind;
  /** Set when the router failed to apply the last traffic split. */
  routerError?: string | undefined;
  now: Date;
};

/** How many pods each revision should run. Revisions not listed keep what they have. */
export type ReplicaPlan = Map<string, number>;

export type Traffic = {
  /** Revision the main Service and the stable route point at. */
  stableRevision: string | undefined;
  /** Revision receiving canaryWeight percent, or the mirror in shadow. */
  canaryRevision: string | undefined;
  canaryWeight: number;
  mirrorPercent: number;
  /** Blue-green: revision behind the <name>-preview Service. */
  previewRevision: string | undefined;
  /** Requests meeting all of these go to canaryRevision in full, whatever canaryWeight; empty: none. */
  headerRoute: HeaderRouteMatch[];
};

export type EngineEvent = { type: "Normal" | "Warning"; reason: string; message: string };

export type RolloutDecision = {
  status: Status;
  /** Revisions to render in full from their ModelVersion (the one being rolled out or restored). */
  render: Revision[];
  replicas: ReplicaPlan;
  traffic: Traffic;
  deleteRevisions: string[];
  events: EngineEvent[];
  /** Reconcile again after this long even if nothing changes (pauses, analysis, delays). */
  requeueAfterMs: number | undefined;
};
