// What spec.template sets on a revision's pod, beside what the operator puts
// there. Pure. The schema (api/pod-template.ts) already refused names and
// paths the operator uses, so user volumes and mounts are appended as given.
import type {
  V1Container,
  V1PodSecurityContext,
  V1PodSpec,
  V1SecurityContext,
  V1Volume,
} from "@kubernetes/client-node";
import type { ContainerSecurityContext, PodSecurityContext, PodTemplateOverrides } from "../api/index.ts";
import { canonicalQuantity } from "./quantity.ts";

/** Every inference pod: the runtime's default seccomp filter. */
const POD_SECURITY: V1PodSecurityContext = { seccompProfile: { type: "RuntimeDefault" } };
/** The model server: no privilege escalation, no capabilities. */
const MODEL_SECURITY: V1SecurityContext = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
};

/** The pod's security context: the template's fields over the operator's. */
export function podSecurityContext(user: PodSecurityContext | undefined): V1PodSecurityContext {
  return { ...POD_SECURITY, ...user };
}

/**
 * The model server's security context: the template's fields over the
 * operator's. Capabilities merge by list, so adding one keeps the others
 * dropped unless the template says which to drop.
 */
export function modelSecurityContext(user: ContainerSecurityContext | undefined): V1SecurityContext {
  const { capabilities, ...rest } = user ?? {};
  const merged: V1SecurityContext = { ...MODEL_SECURITY, ...rest };
  if (capabilities) {
    merged.capabilities = {
      ...(capabilities.add?.length ? { add: capabilities.add } : {}),
      drop: capabilities.drop ?? ["ALL"],
    };
  }
  return merged;
}

/** Sets the template's scheduling, identity and volume fields on the pod and the model server container. */
export function applyTemplate(spec: V1PodSpec, model: V1Container, template: PodTemplateOverrides): void {
  if (template.nodeSelector) spec.nodeSelector = template.nodeSelector;
  if (template.tolerations?.length) spec.tolerations = template.tolerations;
  if (template.affinity) spec.affinity = template.affinity;
  if (template.topologySpreadConstraints?.length)
    spec.topologySpreadConstraints = template.topologySpreadConstraints;
  if (template.serviceAccountName) spec.serviceAccountName = template.serviceAccountName;
  if (template.imagePullSecrets?.length) spec.imagePullSecrets = template.imagePullSecrets;
  if (template.priorityClassName) spec.priorityClassName = template.priorityClassName;
  if (template.volumes?.length) spec.volumes = [...(spec.volumes ?? []), ...template.volumes.map(podVolume)];
  if (template.volumeMounts?.length)
    model.volumeMounts = [...(model.volumeMounts ?? []), ...template.volumeMounts];
  spec.securityContext = podSecurityContext(template.securityContext);
  model.securityContext = modelSecurityContext(template.containerSecurityContext);
}

/** A template volume as the apiserver stores it: quantities in canonical form. */
function podVolume(volume: NonNullable<PodTemplateOverrides["volumes"]>[number]): V1Volume {
  const { emptyDir, ...rest } = volume;
  if (!emptyDir) return rest;
  const { sizeLimit, ...dir } = emptyDir;
  return {
    ...rest,
    emptyDir: { ...dir, ...(sizeLimit !== undefined ? { sizeLimit: canonicalQuantity(sizeLimit) } : {}) },
  };
}

/**
 * Template fields added after revisions were first hashed. Unset or empty,
 * they change nothing on the pod, so they must not change the hash either:
 * otherwise upgrading the operator would roll out every ModelDeployment.
 */
const LATER_FIELDS = new Set([
  "tolerations",
  "affinity",
  "topologySpreadConstraints",
  "serviceAccountName",
  "imagePullSecrets",
  "volumes",
  "volumeMounts",
  "priorityClassName",
  "securityContext",
  "containerSecurityContext",
]);

const isEmpty = (v: unknown) =>
  v === undefined || v === "" || (typeof v === "object" && v !== null && Object.keys(v).length === 0);

/** The template as the revision hash sees it: later fields dropped when empty, the rest as given. */
export function hashedTemplate(template: PodTemplateOverrides | undefined): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(template ?? {}).filter(([key, value]) => !(LATER_FIELDS.has(key) && isEmpty(value))),
  );
}
