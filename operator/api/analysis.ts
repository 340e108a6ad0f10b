// Analysis: metrics measured against Prometheus during a rollout, deciding
// whether it goes on, pauses for a human, or rolls back.

import { z } from "zod";
import { type CelRule, describePlaceholders, durationSchema, listMap, withCel } from "./common.ts";
import { ANALYSIS_COUNT } from "./defaults.ts";

/** CEL: exactly one of the optional fields is set. Cheap: no list walking. */
export function celExactlyOne(fields: string[], what: string, fix: string): CelRule {
  const terms = fields.map((f) => `(has(self.${f}) ? 1 : 0)`).join(" + ");
  return { rule: `${terms} == 1`, message: `${what} must set exactly one of ${fields.join(", ")}: ${fix}` };
}

/** zod mirror of celExactlyOne, so parsing in the operator agrees with the apiserver. */
export function exactlyOne(value: Record<string, unknown>, fields: string[]): boolean {
  return fields.filter((f) => value[f] !== undefined).length === 1;
}

/** What an analysis query may name; operator/analysis/queries.ts fills them in. */
export const ANALYSIS_QUERY_PLACEHOLDERS = {
  namespace: "the ModelDeployment's namespace",
  name: "the ModelDeployment",
  revision: "the revision measured: the new one, or the stable one for maxRatioToStable",
  stableRevision: "the stable revision",
  version: "the ModelVersion of the revision measured",
  interval: "the analysis interval, a PromQL duration",
} as const;

export const BUILTIN_METRICS = [
  "errorRate",
  "latencyP50",
  "latencyP95",
  "latencyP99",
  "requestRate",
] as const;

export const analysisMetricSchema = withCel(
  z
    .object({
      name: z
        .string()
        .min(1)
        .max(63)
        .regex(/^[a-zA-Z][-a-zA-Z0-9_]*$/)
        .describe("Name of the metric, unique within the analysis; shown in status and Events."),
      builtin: z
        .enum(BUILTIN_METRICS)
        .optional()
        .describe(
          "A metric measured by the modelops proxy for the new revision over one interval: errorRate (share " +
            "of requests that failed, 0..1), latencyP50/P95/P99 (seconds), requestRate (requests per second). " +
            "Set exactly one of builtin or query.",
        ),
      query: z
        .string()
        .min(1)
        .max(4096)
        .optional()
        .describe(
          `A PromQL query returning one number. Placeholders replaced before it runs: ${describePlaceholders(
            ANALYSIS_QUERY_PLACEHOLDERS,
          )}. Set exactly one of builtin or query.`,
        ),
      min: z.number().optional().describe("The measurement fails when the value is below min."),
      max: z.number().optional().describe("The measurement fails when the value is above max."),
      maxRatioToStable: z
        .number()
        .positive()
        .optional()
        .describe(
          "The measurement fails when value(new revision) / value(stable revision) is above this, e.g. 1.2 " +
            "allows 20% worse than stable. Needs a stable revision with data.",
        ),
      noData: z
        .enum(["Inconclusive", "Fail", "Pass"])
        .default("Inconclusive")
        .describe("Result of a measurement when the query returns no data. Default Inconclusive."),
    })
    .refine((m) => exactlyOne(m, ["builtin", "query"]), { message: "set exactly one of builtin or query" })
    .refine((m) => m.min !== undefined || m.max !== undefined || m.maxRatioToStable !== undefined, {
      message: "an analysis metric needs a threshold: set min, max or maxRatioToStable",
    })
    .refine((m) => m.min === undefined || m.max === undefined || m.min <= m.max, {
      message: "min must not be greater than max",
    })
    .describe("One metric of an analysis and its pass/fail thresholds."),
  [
    {
      rule: "has(self.builtin) != has(self.query)",
      message: "an analysis metric must set exactly one of builtin or query: remove one of them",
    },
    {
      rule: "has(self.min) || has(self.max) || has(self.maxRatioToStable)",
      message: "an analysis metric needs a threshold: set min, max or maxRatioToStable",
    },
    {
      rule: "!has(self.min) || !has(self.max) || self.min <= self.max",
      message: "min must not be greater than max",
      fieldPath: ".min",
    },
  ],
);
export type AnalysisMetric = z.infer<typeof analysisMetricSchema>;

export const analysisSchema = z
  .object({
    // At least 1s, so a typo never turns the analysis into a Prometheus query loop.
    interval: durationSchema(
      { min: "1s", max: "24h" },
      'Time between measurements, e.g. "1m". Default "1m".',
    ).default("1m"),
    count: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe(
        "Number of measurements after which the analysis succeeds. Omitted: an analysis step or a " +
          `blue-green pre/post-promotion analysis takes ${ANALYSIS_COUNT}; a background analysis (canary.analysis, ` +
          "shadow.analysis) measures until the rollout ends, and the rollout promotes only while its latest " +
          "measurement passed.",
      ),
    failureLimit: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(0)
      .describe("Failed measurements tolerated; one more fails the analysis and rolls back. Default 0."),
    inconclusiveLimit: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(0)
      .describe(
        "Inconclusive measurements tolerated; one more pauses the rollout (phase Paused) for a human. Default 0.",
      ),
    metrics: listMap(
      z
        .array(analysisMetricSchema)
        .min(1)
        .max(16)
        .describe(
          "Metrics measured at each interval (1..16). A measurement fails if any metric fails, else is " +
            "inconclusive if any metric is inconclusive, else succeeds.",
        ),
      ["name"],
    ),
  })
  .describe("Metrics checked against Prometheus at a fixed interval; failures roll the rollout back.");
export type Analysis = z.infer<typeof analysisSchema>;
