// Checks the apiserver would make of what the operator writes, made without
// it: names, labels, ports, the proxy's config, and status against the CRD's
// schema after a JSON round trip. Shared by the schema fuzz and its cases.
import type { V1Deployment, V1Service } from "@kubernetes/client-node";
import { expect } from "vitest";
import {
  FETCHER_CONTAINER,
  LABEL_DEPLOYMENT,
  LABEL_REVISION,
  LABEL_VERSION,
  type ModelDeployment,
  type ModelVersion,
} from "../api/index.ts";
import { CONFIG_ENV, parseProxyConfig } from "../api/proxy-config.ts";
import { MODEL_MOUNT_PATH, parseArtifactUri } from "../core/artifact.ts";
import { FETCHER_COMMAND, MODEL_VOLUME } from "../core/fetcher-container.ts";
import { OPERATOR_IMAGE_SECURITY, PROXY_CONTAINER } from "../core/proxy-sidecar.ts";
import { validateModelVersion } from "../core/version-validation.ts";
import { setCondition } from "../runtime/conditions.ts";
import { withReconciled } from "../runtime/reconcile-errors.ts";

export const NOW = new Date("2026-01-01T00:00:00Z");

export const DNS_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
export const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;
export const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** A status survives the apiserver only as JSON: NaN and Infinity become null there. */
export function viaJson<T>(x: T): unknown {
  return JSON.parse(JSON.stringify(x));
}

export function expectParses(
  schema: { safeParse(x: unknown): { success: boolean; error?: unknown } },
  x: unknown,
) {
  const parsed = schema.safeParse(viaJson(x));
  expect(parsed.error, JSON.stringify(x).slice(0, 2000)).toBeUndefined();
}

/** The ModelVersion reconciler's status, as operator/controllers/modelversion.ts composes it. */
export function modelVersionStatus(mv: ModelVersion) {
  const problems = validateModelVersion(mv, { mlflowTrackingUri: "http://mlflow.mlops:5000" });
  const valid = problems.length === 0;
  const message = valid ? "usable" : problems.map((p) => p.message).join("; ");
  const reason = valid ? "Validated" : (problems[0]?.reason ?? "Invalid");
  const conditions = withReconciled(
    setCondition(undefined, { type: "Ready", status: valid ? "True" : "False", reason, message }, 1, NOW),
    1,
    NOW,
  );
  return {
    problems,
    status: { phase: valid ? "Ready" : "Invalid", message, observedGeneration: 1, conditions },
  };
}

/** What the apiserver checks of a Deployment that can be checked without it. */
export function expectValidDeployment(d: V1Deployment, mdep: ModelDeployment, mv: ModelVersion) {
  expect(d.metadata?.name).toMatch(DNS_1123_SUBDOMAIN);
  expect(d.metadata?.name?.length).toBeLessThanOrEqual(253);
  for (const v of Object.values(d.metadata?.labels ?? {})) {
    expect(v).toMatch(LABEL_VALUE);
    expect(v.length).toBeLessThanOrEqual(63);
  }
  const selector = d.spec?.selector.matchLabels ?? {};
  const podLabels = d.spec?.template.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(selector)) expect(podLabels[k]).toBe(v);
  const containers = d.spec?.template.spec?.containers ?? [];
  const ports = containers.flatMap((c) => c.ports ?? []);
  expect(new Set(ports.map((p) => p.containerPort)).size).toBe(ports.length);
  expect(new Set(ports.map((p) => p.name)).size).toBe(ports.length);
  for (const p of ports) expect(p.containerPort).toBeGreaterThanOrEqual(1);
  for (const c of containers) for (const e of c.env ?? []) expect(e.name).toMatch(ENV_NAME);
  expectNoMoreThanGiven(d, mdep, mv);
  const proxy = containers.find((c) => c.name === PROXY_CONTAINER);
  expect(proxy !== undefined).toBe(mdep.spec.proxy?.enabled !== false);
  if (proxy) {
    const config = parseProxyConfig(proxy.env?.find((e) => e.name === CONFIG_ENV)?.value);
    expect(config.upstream).toBe(`http://127.0.0.1:${mv.spec.runtime.port}`);
    expect(config.listenPort).not.toBe(mv.spec.runtime.port);
    expect(config.metricsPort).not.toBe(mv.spec.runtime.port);
  }
}

export function expectValidServices(services: V1Service[]) {
  const names = services.map((s) => s.metadata?.name ?? "");
  expect(new Set(names).size).toBe(names.length);
  for (const n of names) {
    expect(n.length).toBeLessThanOrEqual(63);
    expect(n).toMatch(DNS_1035);
  }
}

/** Pod spec fields the operator sets; anything else (hostNetwork, hostPID, ...) would be a grant. */
const POD_FIELDS = new Set(["containers", "initContainers", "securityContext", "volumes"]);
/** Pod spec fields copied from spec.template, as given: nothing the author did not write. */
const TEMPLATE_POD_FIELDS = [
  "nodeSelector",
  "tolerations",
  "affinity",
  "topologySpreadConstraints",
  "serviceAccountName",
  "imagePullSecrets",
  "priorityClassName",
] as const;

/**
 * Whatever the ModelVersion and ModelDeployment say, an inference pod gets no
 * more than its author wrote in spec.template (whose ServiceAccount and
 * Secrets the admission policy checks against the author's rights): no host
 * namespaces, no ServiceAccount, volume, mount or capability the template
 * did not name, never privileged, no Secret through env, the artifact's
 * volume read-only, and labels that keep it inside its own revision's
 * selector (SECURITY.md).
 */
export function expectNoMoreThanGiven(d: V1Deployment, mdep: ModelDeployment, mv: ModelVersion) {
  const pod = d.spec?.template.spec;
  const template = mdep.spec.template ?? {};
  const allowed = new Set([...POD_FIELDS, ...TEMPLATE_POD_FIELDS.filter((f) => template[f] !== undefined)]);
  expect(Object.keys(pod ?? {}).filter((k) => !allowed.has(k))).toEqual([]);
  for (const f of TEMPLATE_POD_FIELDS) if (pod?.[f] !== undefined) expect(pod[f]).toEqual(template[f]);
  expect(pod?.securityContext?.seccompProfile?.type).toBe(
    template.securityContext?.seccompProfile?.type ?? "RuntimeDefault",
  );
  const claim = /^pvc:\/\/([^/]+)/.exec(mv.spec.artifact.uri)?.[1];
  const location = parseArtifactUri(mv.spec.artifact.uri);
  const fetched = "kind" in location && location.kind === "fetched";
  const given = new Map((template.volumes ?? []).map((v) => [v.name, v]));
  for (const v of pod?.volumes ?? []) {
    if (v.name !== MODEL_VOLUME) {
      // The template's, by name, with its source: a hostPath or the like cannot come from anywhere.
      const source = Object.keys(v).filter((k) => k !== "name");
      expect(source).toEqual(Object.keys(given.get(v.name) ?? { missing: true }).filter((k) => k !== "name"));
    } else if (fetched) expect(v).toEqual({ name: MODEL_VOLUME, emptyDir: {} });
    else
      expect(v).toEqual({ name: MODEL_VOLUME, persistentVolumeClaim: { claimName: claim, readOnly: true } });
  }
  // Only a fetched artifact has an init container: the operator's fetcher, whose
  // one Secret is the ModelVersion's (its author may get it: the admission policy).
  expect(pod?.initContainers?.map((c) => c.name) ?? []).toEqual(fetched ? [FETCHER_CONTAINER] : []);
  for (const c of pod?.initContainers ?? []) {
    expect(c.command).toEqual(FETCHER_COMMAND);
    expect(c.securityContext).toEqual(OPERATOR_IMAGE_SECURITY);
    const secret = mv.spec.artifact.secretRef?.name;
    expect(c.envFrom ?? []).toEqual(secret ? [{ secretRef: { name: secret } }] : []);
    for (const e of c.env ?? []) expect(e.valueFrom).toBeUndefined();
    expect(c.volumeMounts).toEqual([{ name: MODEL_VOLUME, mountPath: MODEL_MOUNT_PATH }]);
  }
  const asked = template.containerSecurityContext;
  for (const c of pod?.containers ?? []) {
    for (const e of c.env ?? []) expect(e.valueFrom).toBeUndefined();
    expect(c.securityContext?.privileged).toBeUndefined();
    if (c.name === PROXY_CONTAINER) {
      expect(c.securityContext).toEqual(OPERATOR_IMAGE_SECURITY);
      expect(c.volumeMounts).toBeUndefined();
      continue;
    }
    expect(c.securityContext?.allowPrivilegeEscalation).toBe(asked?.allowPrivilegeEscalation ?? false);
    expect(c.securityContext?.capabilities?.add ?? []).toEqual(asked?.capabilities?.add ?? []);
    expect(c.securityContext?.capabilities?.drop).toEqual(asked?.capabilities?.drop ?? ["ALL"]);
    const [artifact, ...others] = c.volumeMounts ?? [];
    if (artifact?.name === MODEL_VOLUME) expect(artifact.readOnly).toBe(true);
    const mounts = artifact?.name === MODEL_VOLUME ? others : (c.volumeMounts ?? []);
    expect(mounts).toEqual(template.volumeMounts ?? []);
  }
  const labels = d.spec?.template.metadata?.labels ?? {};
  expect(labels[LABEL_DEPLOYMENT]).toBe(d.metadata?.labels?.[LABEL_DEPLOYMENT]);
  expect(labels[LABEL_REVISION]).toBe(d.metadata?.labels?.[LABEL_REVISION]);
  expect(labels[LABEL_VERSION]).toBe(mv.metadata.name);
}
