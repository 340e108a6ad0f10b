// `kubectl modelops version`: the plugin's own version and the operator's.
// The operator reports no version through the API; the chart (and the
// kustomize manifests generated from it) label its Deployment with
// app.kubernetes.io/version, so that label is the operator's version.
import pkg from "../../package.json" with { type: "json" };
import { KubeApiError, type KubeClient } from "../runtime/kube.ts";
import type { KubeObject } from "../runtime/types.ts";

export const CLIENT_VERSION: string = pkg.version;

/** The labels the chart puts on the operator's Deployment (modelops.labels in _helpers.tpl). */
export const OPERATOR_SELECTOR = "app.kubernetes.io/name=modelops-operator";
const VERSION_LABEL = "app.kubernetes.io/version";

type Deployment = KubeObject & {
  spec?: { template?: { spec?: { containers?: { name: string; image?: string }[] } } };
};

export interface OperatorVersion {
  /** The label's value, or undefined when no operator Deployment was found. */
  version?: string;
  deployment?: string;
  image?: string;
  /** Why nothing was found, when it was not simply absent. */
  reason?: string;
}

/** Operator Deployments across namespaces; a user who may not list them all gets the reason. */
export async function findOperator(kube: KubeClient, signal?: AbortSignal): Promise<OperatorVersion[]> {
  try {
    const { items } = await kube.listAll<Deployment>(
      { apiVersion: "apps/v1", kind: "Deployment" },
      { labelSelector: OPERATOR_SELECTOR },
      signal,
    );
    return items.map((d) => ({
      version: d.metadata?.labels?.[VERSION_LABEL],
      deployment: `${d.metadata?.namespace}/${d.metadata?.name}`,
      image: d.spec?.template?.spec?.containers?.[0]?.image,
    }));
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 403)
      return [{ reason: "not allowed to list Deployments in all namespaces" }];
    throw err;
  }
}

export function renderVersion(operators: OperatorVersion[] | undefined): string {
  const lines = [`client: ${CLIENT_VERSION}`];
  if (operators === undefined) return lines.join("\n");
  if (operators.length === 0) lines.push(`operator: not found (no Deployment labelled ${OPERATOR_SELECTOR})`);
  for (const o of operators) {
    if (o.reason) lines.push(`operator: not found (${o.reason})`);
    else
      lines.push(
        `operator: ${o.version ?? "unknown (no app.kubernetes.io/version label)"} (deployment ${o.deployment}${o.image ? `, image ${o.image}` : ""})`,
      );
  }
  return lines.join("\n");
}
