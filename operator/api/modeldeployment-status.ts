// ModelDeployment status: every rollout fact the operator needs after a
// restart (step, weight, pause start, analysis counters, history) lives here,
// so a killed operator resumes exactly where it stopped.
import { z } from "zod";
import { autoscalingStatusSchema } from "./autoscaling.ts";
import { conditionsSchema, listMap, observedGenerationSchema } from "./common.ts";

const time = (what: string) => z.string().meta({ format: "date-time" }).optional().describe(what);
const count = (what: string) => z.number().int().min(0).optional().describe(what);
const text = (what: string) => z.string().max(32768).optional().describe(what);

/** List limits of status, which the operator keeps to by construction (the apiserver refuses more). */
export const STATUS_LIMITS = {
  /** Measurements kept per analysis run, oldest dropped. */
  measurements: 10,
  /** Finished rollouts kept, oldest dropped. */
  history: 20,
  /** Revisions kept warm or for debugging at once; beyond it the one due first goes. */
  retiringRevisions: 8,
} as const;

export const MODEL_DEPLOYMENT_PHASES = [
  "Pending",
  "Progressing",
  "Available",
  "Paused",
  "Degraded",
  "RolledBack",
] as const;
export type ModelDeploymentPhase = (typeof MODEL_DEPLOYMENT_PHASES)[number];

/**
 * Where a rollout is. Canary: Steps (currentStepIndex says which), then
 * Promoting. Blue-green: Preview (the new revision starts at full size behind
 * the preview Service), PrePromotionAnalysis, AwaitingPromotion, Promoting.
 * Shadow: Starting, Mirroring, Promoting. No strategy: Promoting.
 * PromotingOnRequest is Promoting after an SRE's promote-full: analyses are
 * skipped, readiness is not.
 */
export const ROLLOUT_STAGES = [
  "Steps",
  "Preview",
  "PrePromotionAnalysis",
  "AwaitingPromotion",
  "Starting",
  "Mirroring",
  "Promoting",
  "PromotingOnRequest",
] as const;
export type RolloutStage = (typeof ROLLOUT_STAGES)[number];

export const measurementPhaseSchema = z
  .enum(["Successful", "Failed", "Inconclusive", "Error"])
  .describe("Result of one measurement: Successful, Failed, Inconclusive (no data) or Error (query failed).");

const measurementSchema = z
  .object({
    time: time("RFC 3339 time of the measurement."),
    phase: measurementPhaseSchema,
    metrics: z
      .array(
        z
          .object({
            name: z.string().describe("Name of the analysis metric."),
            phase: measurementPhaseSchema,
            value: z.number().optional().describe("Value for the new revision."),
            stableValue: z.number().optional().describe("Value for the stable revision."),
          })
          .describe("One metric's result in this measurement."),
      )
      .max(16)
      .optional()
      .describe("Result per metric."),
  })
  .describe("One measurement of an analysis.");

export const metricResultSchema = z
  .object({
    name: z.string().describe("Name of the analysis metric."),
    phase: measurementPhaseSchema,
    value: z.number().optional().describe("Last measured value for the new revision, if there was data."),
    stableValue: z
      .number()
      .optional()
      .describe("Last measured value for the stable revision (maxRatioToStable)."),
    message: text("Why the metric failed or was inconclusive."),
  })
  .describe("Last measurement of one metric.");

export const analysisRunStatusSchema = z
  .object({
    name: z
      .string()
      .describe("Which analysis: step-<index>, background, prePromotion, postPromotion or shadow."),
    revision: z.string().optional().describe("Revision under analysis."),
    phase: z
      .enum(["Running", "Successful", "Failed", "Inconclusive"])
      .describe("Running, Successful, Failed (rolls back) or Inconclusive (pauses)."),
    startTime: time("RFC 3339 time the analysis started."),
    lastMeasurementTime: time("RFC 3339 time of the last measurement; the next is due one interval later."),
    successful: count("Successful measurements so far."),
    failed: count("Failed measurements so far."),
    inconclusive: count("Inconclusive measurements so far."),
    errors: count("Measurements that could not be taken (query errors) so far."),
    consecutiveErrors: count(
      "Query errors in a row; at the limit the analysis fails (Prometheus unreachable).",
    ),
    measurements: z
      .array(measurementSchema)
      .max(STATUS_LIMITS.measurements)
      .optional()
      .describe(`The last measurements, oldest first (at most ${STATUS_LIMITS.measurements}).`),
    metrics: listMap(z.array(metricResultSchema).max(16).describe("Last result per metric."), [
      "name",
    ]).optional(),
    message: text("Summary of the analysis result."),
  })
  .describe("Progress of one analysis of the current rollout.");
export type AnalysisRunStatus = z.infer<typeof analysisRunStatusSchema>;

export const gateResultSchema = z
  .object({
    gate: z.string().describe("The gate, as written in spec.gates (a metric condition, or stage in [...])."),
    passed: z.boolean().describe("Whether the candidate met it."),
    value: z.number().optional().describe("The candidate's metric value."),
    stableValue: z.number().optional().describe("The serving version's value, for a relative gate."),
    threshold: z.number().optional().describe("The bound the candidate's value was compared with."),
    message: text("What was compared, in words."),
  })
  .describe("One promotion gate's verdict.");
export type GateResult = z.infer<typeof gateResultSchema>;

export const setBySchema = z
  .object({
    manager: z
      .string()
      .describe("Field manager that last set spec.modelVersion: kubectl, argocd-controller, …"),
    operation: z.string().optional().describe("Apply (server-side apply) or Update."),
    time: time("RFC 3339 time of that write."),
  })
  .describe("Who set spec.modelVersion, from metadata.managedFields.");

const analysisSummarySchema = z
  .object({
    name: z.string().describe("Which analysis: step-<index>, background, prePromotion, …"),
    phase: z.string().describe("Its result."),
    metrics: z
      .array(metricResultSchema.omit({ message: true }))
      .max(16)
      .optional()
      .describe("Each metric's last values."),
  })
  .describe("An analysis of the rollout and its final values.");

/** What a rollout's history entry keeps as evidence. */
export const EVIDENCE_LIMITS = { gates: 18, analyses: 8 } as const;

const evidenceFields = {
  setBy: setBySchema.optional(),
  gates: z
    .array(gateResultSchema)
    .max(EVIDENCE_LIMITS.gates)
    .optional()
    .describe("The promotion gates the version passed, with their values."),
  analyses: z
    .array(analysisSummarySchema)
    .max(EVIDENCE_LIMITS.analyses)
    .optional()
    .describe(`The rollout's analyses with their final values (the last ${EVIDENCE_LIMITS.analyses}).`),
};

export const rolloutEvidenceSchema = z
  .object(evidenceFields)
  .describe("Evidence gathered by the rollout in progress, copied into its history entry when it ends.");

export const rolloutRecordSchema = z
  .object({
    version: z.string().describe("ModelVersion that was rolled out."),
    revision: z.string().optional().describe("Revision hash of the rollout."),
    result: z
      .enum(["Promoted", "RolledBack", "Aborted"])
      .describe(
        "Promoted: it serves; RolledBack: traffic went back to the stable version; Aborted: superseded.",
      ),
    startTime: time("RFC 3339 time the rollout started."),
    time: time("RFC 3339 time the rollout ended."),
    message: text("Why the rollout ended this way."),
    ...evidenceFields,
  })
  .describe("One finished rollout: who started it, on what evidence, and how it ended.");
export type RolloutRecord = z.infer<typeof rolloutRecordSchema>;

export const modelDeploymentStatusSchema = z
  .object({
    phase: z
      .enum(MODEL_DEPLOYMENT_PHASES)
      .optional()
      .describe(
        "Pending (waiting for its ModelVersion or pods), Progressing (rollout under way), Available (serving, " +
          "no rollout), Paused (spec.paused, a pause step or an inconclusive analysis), Degraded (serving " +
          "revision not fully ready), RolledBack (the last rollout was reverted), Failed (nothing can serve).",
      ),
    observedGeneration: observedGenerationSchema,
    replicas: count("Inference pods of the serving (stable) revision (scale subresource)."),
    readyReplicas: count("Ready inference pods, all revisions."),
    updatedReplicas: count("Inference pods running the desired revision."),
    selector: z
      .string()
      .optional()
      .describe(
        "Label selector of the inference pods, in string form (scale subresource; used by HPA/KEDA).",
      ),
    url: z
      .string()
      .optional()
      .describe(
        "In-cluster address clients call: the <name> Service, http://<name>.<namespace>.svc.cluster.local. " +
          "Set once a revision serves.",
      ),
    stableVersion: z.string().optional().describe("ModelVersion serving the bulk of traffic."),
    stableRevision: z.string().optional().describe("Revision hash of the stable version."),
    canaryVersion: z
      .string()
      .optional()
      .describe("ModelVersion being rolled out (canary, blue-green preview or shadow); empty when none."),
    canaryRevision: z.string().optional().describe("Revision hash of the version being rolled out."),
    canaryWeight: z
      .number()
      .int()
      .min(0)
      .max(100)
      .optional()
      .describe("Percentage (0..100) of traffic sent to the new revision (mirrored share for shadow)."),
    stage: z
      .enum(ROLLOUT_STAGES)
      .optional()
      .describe(
        "Where the rollout is. Canary: Steps, then Promoting. Blue-green: Preview, PrePromotionAnalysis, " +
          "AwaitingPromotion, Promoting. Shadow: Starting, Mirroring, Promoting. No strategy: Promoting. " +
          "Promoting: the new revision grows to full size and takes all traffic once its pods are ready and " +
          "every analysis passed; PromotingOnRequest: the same after promote-full, without the analyses.",
      ),
    currentStepIndex: count("Canary only: index of the step being run (stage Steps)."),
    currentStepStartTime: time(
      "RFC 3339 time the current step or stage started; its progress deadline counts from here.",
    ),
    restoring: z
      .object({
        revision: z.string().describe("Revision hash being restored."),
        version: z.string().describe("Its ModelVersion."),
        startTime: time("RFC 3339 time the undo was requested; its progress deadline counts from here."),
        message: text("Why traffic returns to it: an SRE's undo, a DriftMonitor, or a failed guard."),
      })
      .optional()
      .describe(
        "An undo in progress: the previous version starts again at full size; traffic returns to it only " +
          "once its pods are ready.",
      ),
    pauseStartTime: time("RFC 3339 time the current pause started; empty when not paused."),
    analysisRuns: listMap(
      z.array(analysisRunStatusSchema).max(16).describe("Analyses of the current rollout."),
      ["name"],
    ).optional(),
    history: z
      .array(rolloutRecordSchema)
      .max(STATUS_LIMITS.history)
      .optional()
      .describe(`The last finished rollouts, newest first (at most ${STATUS_LIMITS.history}).`),
    rolloutStartTime: time("RFC 3339 time the current rollout started."),
    rolloutEvidence: rolloutEvidenceSchema.optional(),
    pauseReason: text("Why the rollout is paused: a pause step, an inconclusive analysis, or spec.paused."),
    trafficMessage: text("How the router realised the weight, e.g. the replica ratio and its rounding."),
    previousVersion: z
      .string()
      .optional()
      .describe("ModelVersion that served before the last promotion; undo and guard rollbacks return to it."),
    previousRevision: z.string().optional().describe("Revision hash of previousVersion."),
    retiringRevisions: listMap(
      z
        .array(
          z
            .object({
              revision: z.string().describe("Revision hash."),
              version: z.string().optional().describe("Its ModelVersion."),
              deleteAfter: time("RFC 3339 time after which its Deployment is deleted."),
              reason: text("Why it is kept for now: warm for a rollback, or for debugging a failure."),
            })
            .describe("A revision that no longer serves and is deleted after a delay."),
        )
        .max(STATUS_LIMITS.retiringRevisions)
        .describe("Revisions kept running for a while after they stopped serving."),
      ["revision"],
    ).optional(),
    autoscaling: autoscalingStatusSchema.optional(),
    lastHandledAction: z
      .string()
      .optional()
      .describe("Value of the modelops.io/action annotation the operator last acted on."),
    conditions: conditionsSchema.optional(),
    message: text("Human-readable summary of the phase and what to do about it."),
  })
  .describe("Observed state of the ModelDeployment, written by the operator.");
