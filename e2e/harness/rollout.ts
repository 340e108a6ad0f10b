// Helpers for rollout stories: a ModelDeployment manifest with a strategy,
// reading its status, and driving the fixture exporter's traffic for the
// revisions the operator creates.

import type { FixtureExporter, Traffic, TrafficProfile } from "../../hack/localcluster/exporter.ts";
import { waitFor } from "../../hack/localcluster/kubectl.ts";
import type { ModelDeploymentStatus } from "../../operator/api/index.ts";
import type { KubeObject } from "../../operator/runtime/types.ts";
import type { TestNamespace } from "./namespace.ts";

/** What tests read of a ModelDeployment: its status as the API defines it. */
export type RolloutStatus = ModelDeploymentStatus;

export function mdepManifest(
  name: string,
  version: string,
  strategy: string,
  replicas = 2,
  /** More of spec, e.g. a pod template (YAML at spec's level). */
  extraSpec = "",
): string {
  const indent = (yaml: string, by: string) =>
    yaml
      .trim()
      .split("\n")
      .map((l) => `${by}${l}`)
      .join("\n");
  return `
apiVersion: modelops.io/v1alpha1
kind: ModelDeployment
metadata: {name: ${name}}
spec:
  modelVersion: ${version}
  replicas: ${replicas}
  progressDeadlineSeconds: 120
${extraSpec.trim() ? `${indent(extraSpec, "  ")}\n` : ""}${strategy.trim() ? `  strategy:\n${indent(strategy, "    ")}` : ""}
`;
}

export async function rolloutStatus(ns: TestNamespace, name: string): Promise<RolloutStatus> {
  return (await ns.getJson<KubeObject>("mdep", name))?.status as RolloutStatus;
}

export function waitStatus(
  ns: TestNamespace,
  name: string,
  ok: (s: RolloutStatus) => boolean,
  description: string,
  timeoutMs = 90_000,
): Promise<RolloutStatus> {
  return waitFor(
    async () => {
      const s = await rolloutStatus(ns, name);
      return s && ok(s) ? s : undefined;
    },
    { timeoutMs, intervalMs: 250, description: `${name}: ${description}` },
  );
}

/** Simulated proxy traffic for one revision of a ModelDeployment. */
export function revisionTraffic(
  exporter: FixtureExporter,
  ns: TestNamespace,
  mdep: string,
  revision: string,
  version: string,
  profile: TrafficProfile,
): Traffic {
  return exporter.traffic({ namespace: ns.name, deployment: mdep, revision, version }, profile);
}

/** The revision the main Service selects, or "all" when it selects every revision. */
export async function serviceRevision(ns: TestNamespace, name: string): Promise<string> {
  const svc = await ns.getJson<{ spec: { selector: Record<string, string> } }>("service", name);
  return svc?.spec.selector["modelops.io/revision"] ?? "all";
}
