// ModelDeployment: "this model serves here". Changing spec.modelVersion
// starts a progressive rollout (canary, blue-green or shadow).
import { z } from "zod";
import { analysisSchema, celExactlyOne, exactlyOne } from "./analysis.ts";
import { autoscalingSchema } from "./autoscaling.ts";
import {
  durationSchema,
  kindSchema,
  objectMetaSchema,
  objectNameSchema,
  resourceRequirementsSchema,
  withCel,
} from "./common.ts";
import { canaryServiceName, clientServiceName, previewServiceName, stableServiceName } from "./contract.ts";
import {
  ABORT_SCALE_DOWN_DELAY_SECONDS,
  MIRROR_PERCENT,
  PROGRESS_DEADLINE_SECONDS,
  SCALE_DOWN_DELAY_SECONDS,
} from "./defaults.ts";
import { gatesSchema } from "./gates.ts";
import { HEADER_ROUTE_ROUTER_RULE, headerRouteHasRouter, setHeaderRouteSchema } from "./header-route.ts";
import { modelDeploymentStatusSchema } from "./modeldeployment-status.ts";
import { podTemplateOverridesSchema } from "./pod-template.ts";

const STEP_FIELDS = ["setWeight", "pause", "analysis", "setHeaderRoute"];

const delaySeconds = (defaultSeconds: number, what: string) =>
  z.number().int().min(0).max(86400).default(defaultSeconds).describe(`${what} Default ${defaultSeconds}.`);

/** Seconds a rolled-back revision keeps running, so its pods and logs can be inspected. */
const abortScaleDownDelay = () =>
  delaySeconds(
    ABORT_SCALE_DOWN_DELAY_SECONDS,
    "Seconds the new revision keeps running after a rollback (it serves no traffic), for debugging; then it is deleted.",
  );
/** Seconds the previous revision stays warm after promotion, so a rollback needs no cold start. */
const scaleDownDelay = () =>
  delaySeconds(
    SCALE_DOWN_DELAY_SECONDS,
    "Seconds the previous revision keeps running after promotion (and after postPromotionAnalysis), for a " +
      "fast switch back.",
  );
const STRATEGY_FIELDS = ["canary", "blueGreen", "shadow"];
const ROUTER_FIELDS = ["replicas", "gatewayAPI", "istio"];

export const canaryStepSchema = withCel(
  z
    .object({
      setWeight: z
        .number()
        .int()
        .min(0)
        .max(100)
        .optional()
        .describe("Send this percentage (0..100) of traffic to the new revision."),
      pause: z
        .object({
          // A week at most: a longer wait is a manual gate (omit duration), not a timer.
          duration: durationSchema(
            { min: "0s", max: "168h" },
            'How long to wait, e.g. "30s". Omitted: wait until the rollout is promoted by hand.',
          ).optional(),
        })
        .optional()
        .describe("Wait before the next step."),
      analysis: analysisSchema.optional().describe("Run an analysis; the next step starts when it succeeds."),
      setHeaderRoute: setHeaderRouteSchema.optional(),
    })
    .refine((s) => exactlyOne(s, STEP_FIELDS), {
      message: "set exactly one of setWeight, pause, analysis or setHeaderRoute",
    })
    .describe("One canary step: exactly one of setWeight, pause, analysis or setHeaderRoute."),
  [celExactlyOne(STEP_FIELDS, "a canary step", "split it into one step per action")],
);
export type CanaryStep = z.infer<typeof canaryStepSchema>;

export const canaryStrategySchema = z
  .object({
    steps: z
      .array(canaryStepSchema)
      .min(1)
      .max(64)
      .describe("Steps run in order (1..64). After the last step the new revision takes all traffic."),
    analysis: analysisSchema
      .optional()
      .describe("Background analysis running from the first step until promotion; a failure rolls back."),
    postPromotionAnalysis: analysisSchema
      .optional()
      .describe(
        "Guard analysis after promotion, while the previous revision is still warm; a failure rolls back to it.",
      ),
    scaleDownDelaySeconds: scaleDownDelay(),
    abortScaleDownDelaySeconds: abortScaleDownDelay(),
  })
  .describe("Shift traffic to the new revision step by step.");

export const blueGreenStrategySchema = z
  .object({
    autoPromotionSeconds: z
      .number()
      .int()
      .min(0)
      .max(86400)
      .optional()
      .describe(
        "Seconds to wait, once the preview revision is ready and prePromotionAnalysis passed, before switching " +
          "traffic. Omitted: switch at once (unless autoPromotionEnabled is false).",
      ),
    autoPromotionEnabled: z
      .boolean()
      .default(true)
      .describe(
        "false: hold the ready preview until an SRE promotes it (annotation modelops.io/action=promote). " +
          "Default true.",
      ),
    prePromotionAnalysis: analysisSchema
      .optional()
      .describe("Analysis of the preview revision (served on the <name>-preview Service) before the switch."),
    postPromotionAnalysis: analysisSchema
      .optional()
      .describe("Analysis after the switch; a failure switches traffic back to the previous revision."),
    scaleDownDelaySeconds: scaleDownDelay(),
    abortScaleDownDelaySeconds: abortScaleDownDelay(),
  })
  .describe("Start the new revision beside the old one and switch all traffic at once.");

export const shadowStrategySchema = withCel(
  z
    .object({
      mirrorPercent: z
        .number()
        .int()
        .min(0)
        .max(100)
        .default(MIRROR_PERCENT)
        .describe(
          `Percentage (0..100) of requests copied to the new revision; its answers are discarded. Default ${MIRROR_PERCENT}.`,
        ),
      duration: durationSchema(
        { min: "1s", max: "168h" },
        'How long to shadow before promoting, e.g. "30m". Set duration or analysis.count.',
      ).optional(),
      analysis: analysisSchema
        .optional()
        .describe("Analysis of the shadow revision while it receives mirrored traffic; a failure aborts."),
      scaleDownDelaySeconds: scaleDownDelay(),
      abortScaleDownDelaySeconds: abortScaleDownDelay(),
    })
    .refine((s) => s.duration !== undefined || s.analysis?.count !== undefined, {
      message: 'shadow needs an end: set duration (e.g. "30m") or analysis.count',
    })
    .describe("Mirror live requests to the new revision, compare, then promote it."),
  [
    {
      rule: "has(self.duration) || (has(self.analysis) && has(self.analysis.count))",
      message: 'shadow needs an end: set duration (e.g. "30m") or analysis.count',
    },
  ],
);

export const strategySchema = withCel(
  z
    .object({
      canary: canaryStrategySchema.optional(),
      blueGreen: blueGreenStrategySchema.optional(),
      shadow: shadowStrategySchema.optional(),
    })
    .refine((s) => exactlyOne(s, STRATEGY_FIELDS), {
      message: "set exactly one of canary, blueGreen or shadow",
    })
    .describe(
      "How a new modelVersion is rolled out: exactly one of canary, blueGreen or shadow. Omitted: the new " +
        "revision replaces the old one once all its replicas are ready.",
    ),
  [celExactlyOne(STRATEGY_FIELDS, "strategy", "remove the others")],
);
export type Strategy = z.infer<typeof strategySchema>;

export const trafficRoutingSchema = withCel(
  z
    .object({
      replicas: z
        .object({})
        .optional()
        .describe("Split traffic by replica counts behind the <name> Service (weights are approximate)."),
      gatewayAPI: z
        .object({
          httpRoute: objectNameSchema(
            "Name of an HTTPRoute in the same namespace whose backendRefs the operator sets.",
          ),
        })
        .optional()
        .describe("Split and mirror traffic with a Gateway API HTTPRoute you own."),
      istio: z
        .object({
          virtualService: objectNameSchema("Name of an Istio VirtualService in the same namespace."),
        })
        .optional()
        .describe("Split and mirror traffic with an Istio VirtualService you own."),
    })
    .refine((r) => exactlyOne(r, ROUTER_FIELDS), {
      message: "set exactly one of replicas, gatewayAPI or istio",
    })
    .describe("How traffic weights are applied: exactly one router. Omitted: replicas."),
  [celExactlyOne(ROUTER_FIELDS, "trafficRouting", "choose one router")],
);
export type TrafficRouting = z.infer<typeof trafficRoutingSchema>;

export const proxySettingsSchema = z
  .object({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        "Inject the modelops-proxy sidecar in front of the model server (default true). It exports the " +
          "request, latency, feature and prediction metrics that built-in analysis and drift read, and mirrors " +
          "shadow traffic on the replicas router. Without it those metrics must come from elsewhere.",
      ),
    resources: resourceRequirementsSchema
      .optional()
      .describe(
        "Resources of the modelops-proxy sidecar. Default requests cpu 50m and memory 64Mi, limit memory " +
          "256Mi; set, they replace the default. Changing them rolls out a new revision.",
      ),
  })
  .describe("The modelops-proxy data-plane sidecar of the inference pods.");

const modelDeploymentSpecFields = z
  .object({
    modelVersion: objectNameSchema(
      "Name of the ModelVersion (same namespace) that should serve. Changing it starts a rollout.",
    ),
    replicas: z
      .number()
      .int()
      .min(0)
      .max(10000)
      .default(1)
      .describe(
        "Number of inference pods of the serving revision. Default 1. Scalable by HPA/KEDA (scale subresource).",
      ),
    paused: z
      .boolean()
      .default(false)
      .describe("Freeze the rollout where it is: no step advances and no traffic moves. Default false."),
    progressDeadlineSeconds: z
      .number()
      .int()
      .min(1)
      .max(86400)
      .default(PROGRESS_DEADLINE_SECONDS)
      .describe(
        `Seconds a new revision may take to become ready before the rollout fails and rolls back. Default ${PROGRESS_DEADLINE_SECONDS}.`,
      ),
    template: podTemplateOverridesSchema.optional(),
    strategy: strategySchema.optional(),
    trafficRouting: trafficRoutingSchema.optional(),
    autoscaling: autoscalingSchema.optional(),
    proxy: proxySettingsSchema.optional(),
    gates: gatesSchema.optional(),
  })
  .describe("Desired state of the ModelDeployment.");
export const modelDeploymentSpecSchema = withCel(
  modelDeploymentSpecFields.refine(headerRouteHasRouter, {
    message: HEADER_ROUTE_ROUTER_RULE.message,
    path: ["trafficRouting"],
  }),
  [HEADER_ROUTE_ROUTER_RULE],
);
export type ModelDeploymentSpec = z.infer<typeof modelDeploymentSpecSchema>;

export { modelDeploymentStatusSchema };
export type ModelDeploymentStatus = z.infer<typeof modelDeploymentStatusSchema>;

/** A Service name is a DNS-1035 label: at most 63 characters, a letter first, no dots. */
const SERVICE_NAME_MAX_LENGTH = 63;
const SERVICE_NAMES = [clientServiceName, stableServiceName, canaryServiceName, previewServiceName];
/** The longest ModelDeployment name whose Services' names (<name>-preview the longest) are valid. */
export const MODEL_DEPLOYMENT_NAME_MAX_LENGTH =
  SERVICE_NAME_MAX_LENGTH - Math.max(...SERVICE_NAMES.map((serviceName) => serviceName("").length));

const NAME_TOO_LONG =
  `must be at most ${MODEL_DEPLOYMENT_NAME_MAX_LENGTH} characters: the operator names the ModelDeployment's ` +
  `Services ${SERVICE_NAMES.map((serviceName) => serviceName("<name>")).join(", ")}, and a Service name is ` +
  `at most ${SERVICE_NAME_MAX_LENGTH} characters`;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const NAME_NOT_DNS_1035 =
  "must start with a lowercase letter and contain only lowercase letters, digits and '-' (no '.'): " +
  "the ModelDeployment's Services are named after it, and a Service name must be a DNS-1035 label";

// metadata.name: the apiserver accepts any DNS-1123 subdomain (253
// characters, dots), but the Services are named after it. CEL rules rather
// than maxLength and pattern, so a rejection says why; on the name rather
// than the object's root, so that the apiserver ratchets them: an object
// created before they existed can still be updated, and its status written.
export const modelDeploymentNameSchema = withCel(
  z
    .string()
    .refine((name) => name.length <= MODEL_DEPLOYMENT_NAME_MAX_LENGTH, { message: NAME_TOO_LONG })
    .refine((name) => DNS_1035_LABEL.test(name), { message: NAME_NOT_DNS_1035 })
    .describe("Name of the ModelDeployment; its Services and revision Deployments are named after it."),
  [
    { rule: `self.size() <= ${MODEL_DEPLOYMENT_NAME_MAX_LENGTH}`, message: NAME_TOO_LONG },
    { rule: `self.matches('${DNS_1035_LABEL.source}')`, message: NAME_NOT_DNS_1035 },
  ],
);

export const modelDeploymentSchema = kindSchema(
  "ModelDeployment",
  modelDeploymentSpecSchema,
  modelDeploymentStatusSchema,
).extend({ metadata: objectMetaSchema.extend({ name: modelDeploymentNameSchema }) });
export type ModelDeployment = z.infer<typeof modelDeploymentSchema>;
export type ModelDeploymentInput = z.input<typeof modelDeploymentSchema>;

export const MODEL_DEPLOYMENT_DESCRIPTION =
  "ModelDeployment serves a ModelVersion. Changing spec.modelVersion starts a progressive rollout (canary, " +
  "blue-green or shadow), analysed against Prometheus metrics and rolled back automatically on regression.";
