// The modelops.io/v1alpha1 API: zod schemas (the source of truth), their
// types, and the kind metadata the CRD generator needs.
import type { KindDefinition } from "./crd.ts";
import {
  DRIFT_MONITOR_DESCRIPTION,
  driftMonitorNameSchema,
  driftMonitorSpecSchema,
  driftMonitorStatusSchema,
} from "./driftmonitor.ts";
import {
  MODEL_DEPLOYMENT_DESCRIPTION,
  modelDeploymentNameSchema,
  modelDeploymentSpecSchema,
  modelDeploymentStatusSchema,
} from "./modeldeployment.ts";
import {
  MODEL_VERSION_DESCRIPTION,
  modelVersionNameSchema,
  modelVersionSpecSchema,
  modelVersionStatusSchema,
} from "./modelversion.ts";

export * from "./analysis.ts";
export * from "./autoscaling.ts";
export * from "./common.ts";
export * from "./contract.ts";
export * from "./crd.ts";
export * from "./defaults.ts";
export * from "./driftmonitor.ts";
export * from "./gates.ts";
export * from "./header-route.ts";
export * from "./modeldeployment.ts";
export * from "./modeldeployment-status.ts";
export * from "./modelversion.ts";
export * from "./pod-spec.ts";
export * from "./pod-template.ts";
export * from "./security-context.ts";

const AGE = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" } as const;

export const modelVersionDefinition: KindDefinition = {
  kind: "ModelVersion",
  plural: "modelversions",
  singular: "modelversion",
  shortNames: ["mv"],
  categories: ["modelops"],
  description: MODEL_VERSION_DESCRIPTION,
  specSchema: modelVersionSpecSchema,
  statusSchema: modelVersionStatusSchema,
  nameSchema: modelVersionNameSchema,
  printerColumns: [
    { name: "Model", type: "string", jsonPath: ".spec.modelName" },
    { name: "Version", type: "string", jsonPath: ".spec.version" },
    { name: "Stage", type: "string", jsonPath: ".spec.stage" },
    { name: "Phase", type: "string", jsonPath: ".status.phase" },
    AGE,
  ],
};

export const modelDeploymentDefinition: KindDefinition = {
  kind: "ModelDeployment",
  plural: "modeldeployments",
  singular: "modeldeployment",
  shortNames: ["mdep"],
  categories: ["modelops"],
  description: MODEL_DEPLOYMENT_DESCRIPTION,
  specSchema: modelDeploymentSpecSchema,
  statusSchema: modelDeploymentStatusSchema,
  nameSchema: modelDeploymentNameSchema,
  printerColumns: [
    { name: "Phase", type: "string", jsonPath: ".status.phase" },
    { name: "Stable", type: "string", jsonPath: ".status.stableVersion" },
    { name: "Canary", type: "string", jsonPath: ".status.canaryVersion" },
    { name: "Weight", type: "integer", jsonPath: ".status.canaryWeight" },
    { name: "Ready", type: "integer", jsonPath: ".status.readyReplicas" },
    { name: "Desired", type: "integer", jsonPath: ".spec.replicas" },
    AGE,
    // Long, so only in -o wide.
    { name: "URL", type: "string", jsonPath: ".status.url", priority: 1 },
  ],
  scale: {
    specReplicasPath: ".spec.replicas",
    statusReplicasPath: ".status.replicas",
    labelSelectorPath: ".status.selector",
  },
};

export const driftMonitorDefinition: KindDefinition = {
  kind: "DriftMonitor",
  plural: "driftmonitors",
  singular: "driftmonitor",
  shortNames: ["dm"],
  categories: ["modelops"],
  description: DRIFT_MONITOR_DESCRIPTION,
  specSchema: driftMonitorSpecSchema,
  statusSchema: driftMonitorStatusSchema,
  nameSchema: driftMonitorNameSchema,
  printerColumns: [
    { name: "Target", type: "string", jsonPath: ".spec.targetRef.name" },
    { name: "Verdict", type: "string", jsonPath: ".status.verdict" },
    { name: "Last Evaluated", type: "date", jsonPath: ".status.lastEvaluationTime" },
    AGE,
  ],
};

/** One entry per kind, in the order the CRDs are written and installed. */
export const crdDefinitions: KindDefinition[] = [
  modelVersionDefinition,
  modelDeploymentDefinition,
  driftMonitorDefinition,
];
