// DriftMonitor: compares a ModelDeployment's live input and prediction
// distributions (from Prometheus) with its ModelVersion's reference.
import { z } from "zod";
import {
  conditionsSchema,
  describePlaceholders,
  durationSchema,
  keyRefSchema,
  kindSchema,
  labelValueNameSchema,
  listMap,
  objectMetaSchema,
  objectNameSchema,
  observedGenerationSchema,
  withCel,
} from "./common.ts";
import { LABEL_DRIFT_MONITOR } from "./contract.ts";

export const DRIFT_METHODS = ["psi", "jensenShannon", "ks", "wasserstein", "chiSquare"] as const;
export type DriftMethod = (typeof DRIFT_METHODS)[number];

/**
 * Thresholds used when a feature omits warning/critical. Distances (psi,
 * jensenShannon, wasserstein) drift when the score reaches the threshold;
 * tests (ks, chiSquare) drift when the corrected p-value falls below it.
 */
export const DEFAULT_THRESHOLDS: Record<DriftMethod, { warning: number; critical: number }> = {
  psi: { warning: 0.1, critical: 0.25 },
  jensenShannon: { warning: 0.1, critical: 0.2 },
  wasserstein: { warning: 0.1, critical: 0.2 },
  ks: { warning: 0.05, critical: 0.01 },
  chiSquare: { warning: 0.05, critical: 0.01 },
};

/** Methods that are hypothesis tests: thresholds are p-values. */
export function isTest(method: DriftMethod | undefined): boolean {
  return method === "ks" || method === "chiSquare";
}

/** What a custom live-distribution query may name; controllers/driftmonitor/query.ts fills them in. */
export const DRIFT_QUERY_PLACEHOLDERS = {
  namespace: "the ModelDeployment's namespace",
  name: "the ModelDeployment",
  version: "the ModelVersion serving",
  window: "spec.window, a PromQL duration",
} as const;

export const DRIFT_VERDICTS = ["NoDrift", "Warning", "Critical", "InsufficientData", "Unknown"] as const;
const verdictSchema = z.enum(DRIFT_VERDICTS);

const THRESHOLD_HELP =
  "For psi, jensenShannon and wasserstein (a distance; wasserstein is divided by the reference standard " +
  "deviation) the feature is flagged when score >= threshold; for ks and chiSquare (a test) when the corrected " +
  "p-value < threshold.";

export const driftFeatureSchema = withCel(
  z
    .object({
      name: z
        .string()
        .min(1)
        .max(128)
        .describe("Feature or prediction name, as in the ModelVersion's reference."),
      method: z
        .enum(DRIFT_METHODS)
        .optional()
        .describe(
          "Drift measure: psi, jensenShannon, ks, wasserstein (numeric only) or chiSquare. Omitted: chosen " +
            "per evaluation by feature type and sample size, as Evidently does: up to 1000 values ks " +
            "(numeric) or chiSquare (categorical), a test that tells noise from drift in small samples; " +
            "above, wasserstein (numeric) or jensenShannon (categorical), a distance whose threshold says " +
            "whether the difference matters, since with many values every difference is significant.",
        ),
      query: z
        .string()
        .max(4096)
        .optional()
        .describe(
          "PromQL for the live distribution instead of the modelops-proxy's series: an instant vector by " +
            "`le` (cumulative histogram buckets; every inner reference edge and +Inf must be a bound) for a " +
            `numeric feature, or by \`category\` for a categorical one. Filled in: ${describePlaceholders(
              DRIFT_QUERY_PLACEHOLDERS,
            )}; e.g. 'sum by (le) (increase(my_feature_bucket{app="{{name}}"}[{{window}}]))'.`,
        ),
      warning: z
        .number()
        .min(0)
        .optional()
        .describe(
          `Threshold for Warning. ${THRESHOLD_HELP} Defaults: psi 0.1, jensenShannon 0.1, wasserstein 0.1, ks 0.05, chiSquare 0.05.`,
        ),
      critical: z
        .number()
        .min(0)
        .optional()
        .describe(
          `Threshold for Critical. ${THRESHOLD_HELP} Defaults: psi 0.25, jensenShannon 0.2, wasserstein 0.2, ks 0.01, chiSquare 0.01.`,
        ),
    })
    .refine(
      (f) =>
        f.warning === undefined ||
        f.critical === undefined ||
        (isTest(f.method) ? f.warning >= f.critical : f.warning <= f.critical),
      { message: "critical must be stricter than warning" },
    )
    .refine((f) => !isTest(f.method) || ((f.warning ?? 0) <= 1 && (f.critical ?? 0) <= 1), {
      message: "ks and chiSquare thresholds are p-values between 0 and 1",
    })
    .refine((f) => f.method !== undefined || (f.warning === undefined && f.critical === undefined), {
      message: "thresholds need a method: set method, since a p-value and a distance read differently",
    })
    .describe("Drift settings for one feature."),
  [
    {
      rule:
        "!has(self.warning) || !has(self.critical) || " +
        "(has(self.method) && self.method in ['ks', 'chiSquare'] ? self.warning >= self.critical : self.warning <= self.critical)",
      message:
        "critical must be stricter than warning: for psi, jensenShannon and wasserstein critical >= warning; " +
        "for ks and chiSquare (p-values) critical <= warning",
    },
    {
      rule: "!has(self.method) || !(self.method in ['ks', 'chiSquare']) || ((!has(self.warning) || self.warning <= 1.0) && (!has(self.critical) || self.critical <= 1.0))",
      message:
        "ks and chiSquare thresholds are p-values: use values between 0 and 1, e.g. warning 0.05, critical 0.01",
    },
    {
      rule: "has(self.method) || (!has(self.warning) && !has(self.critical))",
      message:
        "warning and critical need a method: set method (e.g. psi), since the default method changes with the sample size",
    },
  ],
);
export type DriftFeature = z.infer<typeof driftFeatureSchema>;

const SERVICE_ACCOUNT_REQUIRED =
  "retrainJob.template.spec.template.spec.serviceAccountName is required: name the ServiceAccount the " +
  "retraining pods run as, with only the rights training needs";

/** An object whose fields beyond those named are kept as written (a Kubernetes type the CRD does not spell out). */
function preserved<T extends z.ZodRawShape>(shape: T) {
  return z.object(shape).loose().meta({ "x-kubernetes-preserve-unknown-fields": true });
}

export const driftActionsSchema = z
  .object({
    rollback: z
      .boolean()
      .default(false)
      .describe(
        "On Critical, roll the ModelDeployment back to its previous version, once per drift episode, " +
          "through the undo action (annotation modelops.io/action). Default false.",
      ),
    retrainJob: z
      .object({
        template: withCel(
          preserved({
            spec: preserved({
              template: preserved({
                spec: preserved({
                  serviceAccountName: z
                    .string()
                    .max(253)
                    .optional()
                    .describe("ServiceAccount the retraining pods run as; required."),
                })
                  .optional()
                  .describe("The PodSpec of the retraining pods."),
              })
                .optional()
                .describe("The PodTemplateSpec of the retraining pods."),
            })
              .optional()
              .describe("The JobSpec."),
          })
            .refine((t) => !!t.spec?.template?.spec?.serviceAccountName, {
              message: SERVICE_ACCOUNT_REQUIRED,
              path: ["spec", "template", "spec", "serviceAccountName"],
            })
            .describe(
              "A batch/v1 JobTemplateSpec ({metadata, spec}); a Job is created from it on Critical. Every " +
                "container gets the drift report as JSON in the environment variable DRIFT_REPORT. The pod " +
                "template must name its serviceAccountName, and may not be privileged, escalate privileges, add " +
                "capabilities beyond the Pod Security Standards' baseline, use the host's network, PID or IPC " +
                "namespaces, hostPath volumes or hostPorts, or switch off seccomp, AppArmor or /proc masking (the " +
                "condition RetrainJobAllowed says why otherwise).",
            ),
          [
            {
              // The operator creates the Job with its own rights: the pods must
              // run under a ServiceAccount the author chose, never a silent default.
              rule:
                "has(self.spec) && has(self.spec.template) && has(self.spec.template.spec) && " +
                "has(self.spec.template.spec.serviceAccountName) && self.spec.template.spec.serviceAccountName != ''",
              message: SERVICE_ACCOUNT_REQUIRED,
            },
          ],
        ),
      })
      .optional()
      .describe("Start a retraining Job on Critical, once per drift episode, unless one is still running."),
    webhook: z
      .object({
        url: z
          .string()
          .max(2048)
          .regex(/^https?:\/\/.+$/)
          .describe(
            "http(s) URL that receives the drift report (verdict, per-feature scores) as a JSON POST.",
          ),
        secretRef: keyRefSchema("Secret")
          .optional()
          .describe("Secret key whose value is sent as `Authorization: Bearer <value>`."),
      })
      .optional()
      .describe("Notify an HTTP endpoint on Critical, once per drift episode."),
  })
  .describe(
    "What to do on Critical drift. An Event and the modelops_drift_status metric always; these are extra. " +
      "A drift episode starts when the verdict becomes Critical and ends when it is NoDrift again; actions " +
      "run once per episode, never while Prometheus cannot be read.",
  );

export const driftMonitorSpecSchema = z
  .object({
    targetRef: z
      .object({ name: objectNameSchema("Name of the ModelDeployment in the same namespace.") })
      .describe("The ModelDeployment to watch; its stable ModelVersion's reference is the baseline."),
    interval: durationSchema(
      { min: "1s", max: "24h" },
      'How often to evaluate drift, e.g. "5m". Default "5m".',
    ).default("5m"),
    // At least a minute, so a few scrapes fall in it; at most 30 days, about what Prometheus keeps.
    window: durationSchema(
      { min: "1m", max: "720h" },
      'Span of live traffic compared with the reference. Default "1h".',
    ).default("1h"),
    minSampleSize: z
      .number()
      .int()
      .min(1)
      .max(100_000_000)
      .default(100)
      .describe("Fewest requests in the window for a verdict; fewer gives InsufficientData. Default 100."),
    correction: z
      .enum(["none", "bonferroni", "benjaminiHochberg"])
      .default("benjaminiHochberg")
      .describe(
        "Multiple-testing correction of the ks/chiSquare p-values across features: none, bonferroni or " +
          "benjaminiHochberg (false discovery rate). Default benjaminiHochberg.",
      ),
    features: listMap(
      z
        .array(driftFeatureSchema)
        .max(256)
        .describe(
          "Per-feature settings (at most 256); only these are compared. Omitted: every reference feature " +
            "(and prediction, see predictions) with the default method and thresholds.",
        ),
      ["name"],
    ).optional(),
    predictions: z
      .boolean()
      .default(true)
      .describe("Also compare the prediction distribution (reference.predictions). Default true."),
    prometheus: z
      .object({
        address: z
          .string()
          .max(2048)
          .regex(/^https?:\/\/.+$/)
          .optional()
          .describe("Prometheus base URL, e.g. http://prometheus.monitoring:9090. Default: the operator's."),
      })
      .optional()
      .describe("Where the live distributions are read from."),
    actions: driftActionsSchema.optional(),
  })
  .describe("Desired state of the DriftMonitor.");
export type DriftMonitorSpec = z.infer<typeof driftMonitorSpecSchema>;

export const featureDriftStatusSchema = z
  .object({
    name: z.string().describe("Feature or prediction name."),
    kind: z
      .enum(["Feature", "Prediction"])
      .optional()
      .describe("Whether this is an input feature or a prediction."),
    method: z.enum(DRIFT_METHODS).describe("Drift measure used."),
    score: z.number().describe("Distance or test statistic of live vs reference."),
    pValue: z.number().min(0).max(1).optional().describe("Corrected p-value (ks, chiSquare only)."),
    sampleSize: z.number().int().min(0).optional().describe("Live values of this feature in the window."),
    status: verdictSchema.describe("Verdict for this feature."),
    message: z.string().max(1024).optional().describe("Why the feature could not be evaluated (Unknown)."),
  })
  .describe("Drift of one feature at the last evaluation.");
export type FeatureDriftStatus = z.infer<typeof featureDriftStatusSchema>;

export const driftMonitorStatusSchema = z
  .object({
    verdict: verdictSchema
      .optional()
      .describe(
        "Worst feature verdict: NoDrift, Warning, Critical, InsufficientData (fewer than minSampleSize " +
          "requests) or Unknown (could not evaluate; see conditions).",
      ),
    lastEvaluationTime: z
      .string()
      .meta({ format: "date-time" })
      .optional()
      .describe("RFC 3339 time of the last evaluation."),
    sampleSize: z.number().int().min(0).optional().describe("Requests in the window at the last evaluation."),
    features: listMap(z.array(featureDriftStatusSchema).max(512).describe("Per-feature results."), [
      "name",
    ]).optional(),
    lastActionTime: z
      .string()
      .meta({ format: "date-time" })
      .optional()
      .describe("RFC 3339 time actions last ran; they run once per episode of Critical drift."),
    criticalSince: z
      .string()
      .meta({ format: "date-time" })
      .optional()
      .describe("Start of the current drift episode (first Critical verdict); cleared at NoDrift."),
    lastActionResult: z.string().max(4096).optional().describe("What the last actions did, one clause each."),
    observedGeneration: observedGenerationSchema,
    conditions: conditionsSchema.optional(),
    message: z.string().max(32768).optional().describe("Human-readable summary of the verdict."),
  })
  .describe("Observed state of the DriftMonitor, written by the operator.");
export type DriftMonitorStatus = z.infer<typeof driftMonitorStatusSchema>;

export const driftMonitorNameSchema = labelValueNameSchema(
  "DriftMonitor",
  `its retraining Jobs carry it in the ${LABEL_DRIFT_MONITOR} label`,
);

export const driftMonitorSchema = kindSchema(
  "DriftMonitor",
  driftMonitorSpecSchema,
  driftMonitorStatusSchema,
).extend({ metadata: objectMetaSchema.extend({ name: driftMonitorNameSchema }) });
export type DriftMonitor = z.infer<typeof driftMonitorSchema>;
export type DriftMonitorInput = z.input<typeof driftMonitorSchema>;

export const DRIFT_MONITOR_DESCRIPTION =
  "DriftMonitor compares a ModelDeployment's live input and prediction distributions with its ModelVersion's " +
  "training-time reference, reports drift per feature and acts (Event, webhook, rollback, retraining Job).";
