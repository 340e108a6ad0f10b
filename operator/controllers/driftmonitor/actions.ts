// What a DriftMonitor does on Critical drift, once per episode: roll the
// ModelDeployment back through the SRE's undo action, start a retraining Job
// with the drift report, call a webhook. Each action reports what it did as
// one clause; a failing action never stops the others. The reconciler marks
// the episode acted on before they run; the undo value and the Job's name are
// derived from the episode too, so that running them again for the same
// episode would change nothing.
import type { V1Job, V1JobSpec, V1JobTemplateSpec, V1PodSpec, V1Secret } from "@kubernetes/client-node";
import {
  ACTION_ANNOTATION,
  API_VERSION,
  DRIFT_VERDICT_ANNOTATION,
  type DriftMonitor,
  FIELD_MANAGER,
  LABEL_DRIFT_MONITOR,
  type ModelDeployment,
} from "../../api/index.ts";
import type { Owned } from "../../core/workload.ts";
import { KubeApiError } from "../../runtime/kube.ts";
import { outboundPolicy, send } from "../../runtime/outbound.ts";
import type { KubeObject } from "../../runtime/types.ts";
import { asKubeObject, type ReconcileDeps } from "../context.ts";
import type { DriftDeps } from "./deps.ts";
import { retrainJobProblems } from "./retrain-policy.ts";

export type ActionOutcome = { action: "rollback" | "retrainJob" | "webhook"; ok: boolean; message: string };

/** The report passed to the retraining Job (DRIFT_REPORT) and the webhook. */
export type DriftReport = {
  kind: "DriftReport";
  apiVersion: typeof API_VERSION;
  driftMonitor: { namespace: string; name: string };
  modelDeployment: string;
  modelVersion: string;
  verdict: string;
  evaluatedAt: string;
  /** Start of the drift episode: the same in every report of one episode, so a receiver can deduplicate. */
  criticalSince: string;
  window: string;
  sampleSize: number;
  features: unknown[];
};

export async function runActions(
  deps: DriftDeps,
  dm: DriftMonitor,
  mdep: ModelDeployment,
  report: DriftReport,
): Promise<ActionOutcome[]> {
  const actions = dm.spec.actions;
  const outcomes: ActionOutcome[] = [];
  const attempt = async (action: ActionOutcome["action"], run: () => Promise<ActionOutcome>) => {
    try {
      outcomes.push(await run());
    } catch (err) {
      outcomes.push({ action, ok: false, message: `${action} failed: ${(err as Error).message}` });
    }
  };
  if (actions?.rollback) await attempt("rollback", () => rollback(deps, dm, mdep, report));
  if (actions?.retrainJob) await attempt("retrainJob", () => startRetraining(deps, dm, report));
  if (actions?.webhook) await attempt("webhook", () => callWebhook(deps, dm, report));
  return outcomes;
}

/** The SRE's undo: a fresh value of modelops.io/action, which the ModelDeployment controller acts on once. */
async function rollback(
  deps: ReconcileDeps,
  dm: DriftMonitor,
  mdep: ModelDeployment,
  report: DriftReport,
): Promise<ActionOutcome> {
  const previous = mdep.status?.previousVersion;
  if (!previous) {
    return {
      action: "rollback",
      ok: false,
      message: `rollback skipped: ModelDeployment ${mdep.metadata.name} has no previous version to return to`,
    };
  }
  const token = `drift-${dm.metadata.name}-${episodeStartSeconds(report)}`;
  await deps.kube.mergePatch(
    {
      apiVersion: API_VERSION,
      kind: "ModelDeployment",
      namespace: dm.metadata.namespace,
      name: mdep.metadata.name,
    },
    { metadata: { annotations: { [ACTION_ANNOTATION]: `undo@${token}` } } },
    { fieldManager: FIELD_MANAGER },
  );
  return {
    action: "rollback",
    ok: true,
    message: `rollback: asked ModelDeployment ${mdep.metadata.name} to undo from ${report.modelVersion} to ${previous}`,
  };
}

async function startRetraining(
  deps: ReconcileDeps,
  dm: DriftMonitor,
  report: DriftReport,
): Promise<ActionOutcome> {
  const problems = retrainJobProblems(dm.spec.actions?.retrainJob?.template);
  if (problems.length > 0) {
    return { action: "retrainJob", ok: false, message: `retraining Job refused: ${problems.join("; ")}` };
  }
  const namespace = dm.metadata.namespace ?? "";
  const jobs = await deps.kube.list(
    { apiVersion: "batch/v1", kind: "Job", namespace },
    {
      labelSelector: `${LABEL_DRIFT_MONITOR}=${dm.metadata.name}`,
    },
  );
  const running = jobs.items.find((j) => !isFinished(j));
  if (running) {
    return {
      action: "retrainJob",
      ok: true,
      message: `retraining Job ${running.metadata?.name} is still running; no new one started`,
    };
  }
  const job = retrainingJob(dm, report);
  try {
    await deps.kube.create(asKubeObject(job), { fieldManager: FIELD_MANAGER });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    return { action: "retrainJob", ok: true, message: `retraining Job ${job.metadata.name} already exists` };
  }
  return { action: "retrainJob", ok: true, message: `retraining Job ${job.metadata.name} created` };
}

function episodeStartSeconds(report: DriftReport): number {
  return Math.floor(Date.parse(report.criticalSince) / 1000);
}

function isAlreadyExists(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 409 && err.reason === "AlreadyExists";
}

function isFinished(job: KubeObject): boolean {
  const conditions = (job as V1Job).status?.conditions ?? [];
  return conditions.some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
}

/** The Job from the template, owned by the DriftMonitor, every container given DRIFT_REPORT. */
export function retrainingJob(dm: DriftMonitor, report: DriftReport): Owned<V1Job> {
  // The template is the user's JSON as written (the CRD preserves unknown
  // fields), so any level of it may be missing; the apiserver validates the Job.
  const template = (dm.spec.actions?.retrainJob?.template ?? {}) as V1JobTemplateSpec;
  const spec = structuredClone(template.spec ?? {}) as V1JobSpec;
  const podSpec: Partial<V1PodSpec> = spec.template?.spec ?? {};
  const value = JSON.stringify(report);
  for (const c of [...(podSpec.containers ?? []), ...(podSpec.initContainers ?? [])]) {
    c.env = [...(c.env ?? []).filter((e) => e.name !== "DRIFT_REPORT"), { name: "DRIFT_REPORT", value }];
  }
  // Job names become a label value (job-name): at most 63 characters.
  const name = `${dm.metadata.name.slice(0, 40).replace(/[-.]+$/, "")}-retrain-${episodeStartSeconds(report).toString(36)}`;
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name,
      namespace: dm.metadata.namespace,
      labels: { ...template.metadata?.labels, [LABEL_DRIFT_MONITOR]: dm.metadata.name },
      annotations: { ...template.metadata?.annotations, [DRIFT_VERDICT_ANNOTATION]: report.verdict },
      ownerReferences: [
        {
          apiVersion: API_VERSION,
          kind: "DriftMonitor",
          name: dm.metadata.name,
          uid: dm.metadata.uid ?? "",
          controller: true,
        },
      ],
    },
    spec,
  };
}

async function callWebhook(deps: DriftDeps, dm: DriftMonitor, report: DriftReport): Promise<ActionOutcome> {
  const webhook = dm.spec.actions?.webhook;
  if (!webhook) return { action: "webhook", ok: true, message: "no webhook" };
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (webhook.secretRef) {
    const secret = await deps.kube.get({
      apiVersion: "v1",
      kind: "Secret",
      namespace: dm.metadata.namespace,
      name: webhook.secretRef.name,
    });
    const encoded = (secret as V1Secret).data?.[webhook.secretRef.key];
    if (!encoded) throw new Error(`Secret ${webhook.secretRef.name} has no key ${webhook.secretRef.key}`);
    headers.authorization = `Bearer ${Buffer.from(encoded, "base64").toString("utf8").trim()}`;
  }
  // The URL is the DriftMonitor author's: fenced, no redirects, bounded in time and size.
  const response = await send(
    webhook.url,
    { method: "POST", headers, body: JSON.stringify(report) },
    { policy: deps.outbound ?? outboundPolicy() },
  );
  const host = new URL(webhook.url).host;
  if (response.status < 200 || response.status >= 300)
    return { action: "webhook", ok: false, message: `webhook to ${host} answered HTTP ${response.status}` };
  return { action: "webhook", ok: true, message: `webhook to ${host} notified (HTTP ${response.status})` };
}
