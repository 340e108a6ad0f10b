// Autoscaling of a ModelDeployment's inference pods. The ModelDeployment owns
// the total (spec.replicas, its scale subresource); an autoscaler changes
// that total and the operator splits it between revisions, so nothing ever
// scales a revision's Deployment behind a rollout's back.
import { z } from "zod";
import { durationSchema, withCel } from "./common.ts";

export const AUTOSCALING_PROVIDERS = ["hpa", "keda", "builtin"] as const;
export const AUTOSCALING_TARGET_TYPES = ["cpu", "memory", "rps", "concurrency", "query"] as const;

export const autoscalingTargetSchema = withCel(
  z
    .object({
      type: z
        .enum(AUTOSCALING_TARGET_TYPES)
        .describe(
          "cpu or memory: average utilisation of the requests, in percent (averageUtilization). rps: requests " +
            "per second per pod; concurrency: requests in flight per pod (both from the modelops-proxy); query: a " +
            "PromQL value per pod (averageValue).",
        ),
      averageUtilization: z
        .number()
        .int()
        .min(1)
        .max(1000)
        .optional()
        .describe("Target utilisation in percent of the pods' requests, for cpu and memory."),
      averageValue: z
        .number()
        .positive()
        .optional()
        .describe("Target value per pod, for rps, concurrency and query."),
      query: z
        .string()
        .min(1)
        .max(4096)
        .optional()
        .describe(
          "For type query: PromQL returning the total over all pods; {{namespace}} and {{name}} are filled in.",
        ),
    })
    .describe("One metric the autoscaler keeps at its target."),
  [
    {
      rule: "(self.type == 'cpu' || self.type == 'memory') == has(self.averageUtilization)",
      message:
        "cpu and memory targets set averageUtilization (percent); rps, concurrency and query set averageValue",
    },
    {
      rule: "(self.type == 'cpu' || self.type == 'memory') != has(self.averageValue)",
      message: "rps, concurrency and query targets set averageValue; cpu and memory set averageUtilization",
    },
    {
      rule: "(self.type == 'query') == has(self.query)",
      message: "a query target needs query, and only it may set one",
    },
  ],
);
export type AutoscalingTarget = z.infer<typeof autoscalingTargetSchema>;

const directionSchema = z
  .object({
    stabilizationWindowSeconds: z
      .number()
      .int()
      .min(0)
      .max(3600)
      .optional()
      .describe("Use the highest (scale down) or lowest (scale up) recommendation of this many seconds."),
    maxPodsPerStep: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe("At most this many pods per decision."),
  })
  .describe("Limits of one scaling direction.");

export const autoscalingSchema = withCel(
  z
    .object({
      provider: z
        .enum(AUTOSCALING_PROVIDERS)
        .default("hpa")
        .describe(
          "hpa (default): an autoscaling/v2 HorizontalPodAutoscaler owned by the operator; keda: a KEDA " +
            "ScaledObject with a Prometheus trigger; builtin: the operator scales from Prometheus itself, for " +
            "clusters without a metrics adapter. All of them scale the ModelDeployment, never a revision.",
        ),
      minReplicas: z.number().int().min(0).max(10000).default(1).describe("Fewest pods. Default 1."),
      maxReplicas: z.number().int().min(1).max(10000).describe("Most pods."),
      targets: z.array(autoscalingTargetSchema).min(1).max(8).describe("Metrics to keep at their targets."),
      scaleUp: directionSchema.optional(),
      scaleDown: directionSchema.optional(),
      // The stable window within Knative's bounds (6s..1h); the panic window at most as long.
      panicWindow: durationSchema(
        { min: "1s", max: "1h" },
        'builtin: the short window that detects bursts. Default "6s".',
      ).default("6s"),
      stableWindow: durationSchema(
        { min: "6s", max: "1h" },
        'builtin: the window that decides in steady load. Default "60s".',
      ).default("60s"),
    })
    .describe("Autoscaling of the inference pods."),
  [{ rule: "self.minReplicas <= self.maxReplicas", message: "minReplicas must not exceed maxReplicas" }],
);
export type Autoscaling = z.infer<typeof autoscalingSchema>;

export const autoscalingStatusSchema = z
  .object({
    provider: z.enum(AUTOSCALING_PROVIDERS).optional().describe("The provider in charge."),
    desiredReplicas: z.number().int().min(0).optional().describe("Pods the autoscaler last asked for."),
    currentReplicas: z.number().int().min(0).optional().describe("Pods running, all revisions."),
    lastScaleTime: z
      .string()
      .meta({ format: "date-time" })
      .optional()
      .describe("When it last changed the total."),
    panicUntil: z
      .string()
      .meta({ format: "date-time" })
      .optional()
      .describe("builtin: scaling down is held until then after a burst."),
    metrics: z
      .array(
        z
          .object({
            type: z.enum(AUTOSCALING_TARGET_TYPES).describe("Target type."),
            value: z.number().optional().describe("Measured total (or utilisation)."),
            target: z.number().optional().describe("Target per pod."),
          })
          .describe("A metric that drove the last decision."),
      )
      .max(8)
      .optional()
      .describe("The metric values that drove the last decision."),
    message: z.string().max(4096).optional().describe("Why the autoscaler chose desiredReplicas."),
  })
  .describe("What the autoscaler did last.");
