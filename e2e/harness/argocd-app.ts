// Argo CD Applications for the GitOps tests: their manifest, their status as
// the controller writes it, a recorder of every sync/health state it passes
// through, and resource actions run by Argo CD's own Lua engine.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import yaml from "js-yaml";
import { waitFor } from "../../hack/localcluster/kubectl.ts";
import type { KubeClient } from "../../operator/runtime/kube.ts";
import type { KubeObject } from "../../operator/runtime/types.ts";
import { ARGOCD_NAMESPACE } from "./argocd.ts";

const run = promisify(execFile);

export interface AppResource {
  group?: string;
  kind: string;
  name: string;
  status?: string;
  health?: { status?: string; message?: string };
}

export interface AppStatus {
  sync?: { status?: string; revision?: string };
  health?: { status?: string };
  resources?: AppResource[];
  history?: Array<{ id: number; revision?: string }>;
  operationState?: {
    phase?: string;
    message?: string;
    startedAt?: string;
    operation?: { sync?: { revision?: string } };
    syncResult?: { revision?: string };
  };
  conditions?: Array<{ type: string; message?: string }>;
}

type Application = KubeObject & { status?: AppStatus };

export interface AppSpec {
  name: string;
  repoURL: string;
  path: string;
  namespace: string;
  /** The destination cluster's URL (ArgoCd.server). */
  server: string;
  /** Automated sync with prune; selfHeal re-syncs live drift too. */
  selfHeal: boolean;
  /** YAML of spec.ignoreDifferences (a list), as a user would write it. */
  ignoreDifferences?: string;
  syncOptions?: string[];
}

export function applicationManifest(a: AppSpec): string {
  const ignore = a.ignoreDifferences ? `  ignoreDifferences:\n${indent(a.ignoreDifferences, "  ")}\n` : "";
  return `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: ${a.name}, namespace: ${ARGOCD_NAMESPACE}}
spec:
  project: default
  source: {repoURL: "${a.repoURL}", targetRevision: main, path: ${a.path}}
  destination: {server: "${a.server}", namespace: ${a.namespace}}
${ignore}  syncPolicy:
    automated: {prune: true, selfHeal: ${a.selfHeal}}
    syncOptions: ${JSON.stringify(a.syncOptions ?? [])}
`;
}

function indent(text: string, by: string): string {
  return text
    .trim()
    .split("\n")
    .map((l) => `${by}${l}`)
    .join("\n");
}

const appRef = (name: string) => ({
  apiVersion: "argoproj.io/v1alpha1",
  kind: "Application",
  namespace: ARGOCD_NAMESPACE,
  name,
});

export async function appStatus(admin: KubeClient, name: string): Promise<AppStatus> {
  return (await admin.get<Application>(appRef(name))).status ?? {};
}

export function appResource(s: AppStatus, kind: string, name: string): AppResource | undefined {
  return s.resources?.find((r) => r.kind === kind && r.name === name);
}

/** Waits until `ok` holds; on timeout the error shows the Application's last status. */
export async function waitApp(
  admin: KubeClient,
  name: string,
  ok: (s: AppStatus) => boolean,
  description: string,
  timeoutMs = 90_000,
): Promise<AppStatus> {
  let last: AppStatus | undefined;
  try {
    return await waitFor(
      async () => {
        last = await appStatus(admin, name);
        return ok(last) ? last : undefined;
      },
      { timeoutMs, intervalMs: 250, description: `Application ${name}: ${description}` },
    );
  } catch (err) {
    const { sync, health, operationState, conditions, resources } = last ?? {};
    const brief = { sync, health, operationState, conditions, resources };
    throw new Error(`${(err as Error).message}\nlast status: ${JSON.stringify(brief, null, 1)}`);
  }
}

/** Synced at `revision` by a finished sync operation. */
export const syncedAt = (revision: string) => (s: AppStatus) =>
  s.sync?.status === "Synced" &&
  s.sync.revision === revision &&
  s.operationState?.phase === "Succeeded" &&
  s.operationState.syncResult?.revision === revision;

export interface AppState {
  sync: string;
  health: string;
  revision: string;
  /** When the watch delivered it (ms). */
  at: number;
}

/** One sync operation: full (a commit) or partial (self-heal of OutOfSync resources). */
export interface SyncOperation {
  startedAt: string;
  revision: string;
}

export interface AppRecorder {
  /** Every distinct state the watch delivered, in order. */
  states: AppState[];
  /**
   * Every sync operation seen. `.status.history` lists only full syncs; a
   * self-heal sync of some resources shows only in operationState.
   */
  operations: SyncOperation[];
  stop(): void;
}

/** Records every change of sync status and health, and every sync operation, through a watch. */
export function recordApp(admin: KubeClient, name: string): AppRecorder {
  const states: AppState[] = [];
  const operations: SyncOperation[] = [];
  const abort = new AbortController();
  const key = (s: AppState) => `${s.sync}/${s.health}/${s.revision}`;
  const onEvent = (obj: Application) => {
    const st = obj.status ?? {};
    const s: AppState = {
      sync: st.sync?.status ?? "",
      health: st.health?.status ?? "",
      revision: st.sync?.revision ?? "",
      at: Date.now(),
    };
    const op = st.operationState;
    if (op?.startedAt && !operations.some((o) => o.startedAt === op.startedAt)) {
      operations.push({ startedAt: op.startedAt, revision: op.operation?.sync?.revision ?? "" });
    }
    const last = states.at(-1);
    if (!last || key(last) !== key(s)) states.push(s);
  };
  const loop = async () => {
    while (!abort.signal.aborted) {
      await admin
        .watch<Application>(
          { apiVersion: "argoproj.io/v1alpha1", kind: "Application", namespace: ARGOCD_NAMESPACE },
          { fieldSelector: `metadata.name=${name}`, timeoutSeconds: 300 },
          (e) => {
            if (e.type === "ADDED" || e.type === "MODIFIED") onEvent(e.object);
          },
          abort.signal,
        )
        .catch(() => {});
    }
  };
  void loop();
  return { states, operations, stop: () => abort.abort() };
}

/**
 * Runs a resource action as Argo CD's API server would: Argo CD's Lua engine
 * (`argocd admin settings resource-overrides`) evaluates the action configured
 * in the cluster's argocd-cm against the live object; the change is then
 * applied as a JSON merge patch of live to result, as the server does for
 * actions that patch. Throws if discovery offers the action disabled.
 */
export async function runResourceAction(opts: {
  argocd: string;
  kubeconfig: string;
  admin: KubeClient;
  object: KubeObject;
  action: string;
}): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), "argocd-action-"));
  try {
    const file = join(dir, "object.json");
    writeFileSync(file, JSON.stringify(opts.object));
    const admin = (...args: string[]) =>
      run(
        opts.argocd,
        [
          "admin",
          "settings",
          "resource-overrides",
          ...args,
          "--load-cluster-settings",
          `--kubeconfig=${opts.kubeconfig}`,
          `--namespace=${ARGOCD_NAMESPACE}`,
        ],
        // The command prints the changed object as a diff; this "diff" prints the result whole.
        {
          env: { ...process.env, ARGOCD_BINARY_NAME: "argocd", KUBECTL_EXTERNAL_DIFF: `sh -c 'cat "$2"' sh` },
        },
      );
    const listed = (await admin("list-actions", file)).stdout;
    const row = listed.split("\n").find((l) => l.split(/\s+/)[0] === opts.action);
    if (row?.split(/\s+/)[1] !== "false") throw new Error(`action ${opts.action} is not offered:\n${listed}`);
    const out = (await admin("run-action", file, opts.action)).stdout;
    const result = yaml.load(out.slice(out.indexOf("\n\n") + 2)) as KubeObject;
    const patch = mergePatch(opts.object, result);
    await opts.admin.mergePatch(
      {
        apiVersion: opts.object.apiVersion ?? "",
        kind: opts.object.kind,
        namespace: opts.object.metadata?.namespace,
        name: opts.object.metadata?.name,
      },
      patch,
      { fieldManager: "argocd-server" },
    );
    return patch as Record<string, unknown>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** RFC 7386 merge patch taking `from` to `to` (what jsonpatch.CreateMergePatch computes). */
export function mergePatch(from: unknown, to: unknown): unknown {
  const isObj = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isObj(from) || !isObj(to)) return to;
  const patch: Record<string, unknown> = {};
  for (const k of Object.keys(from)) if (!(k in to)) patch[k] = null;
  for (const [k, v] of Object.entries(to)) {
    if (JSON.stringify(from[k]) === JSON.stringify(v)) continue;
    patch[k] = isObj(from[k]) && isObj(v) ? mergePatch(from[k], v) : v;
  }
  return patch;
}
