// The plugin's commands: reads go straight to the apiserver with the user's
// own kubeconfig; actions only set the modelops.io/action annotation, the same
// request `kubectl annotate` makes, so RBAC for users stays "patch mdep".
import { randomBytes } from "node:crypto";
import {
  ACTION_ANNOTATION,
  type ActionVerb,
  API_VERSION,
  LABEL_DEPLOYMENT,
  LABEL_REVISION,
  LABEL_VERSION,
} from "../api/contract.ts";
import type { KubeClient } from "../runtime/kube.ts";
import type { KubeObject } from "../runtime/types.ts";
import { type DriftMonitorView, renderDrift, renderExplain } from "./explain.ts";
import { type Mdep, type PodsByRevision, renderHistory, renderList, renderStatus } from "./render.ts";

export interface CommandContext {
  kube: KubeClient;
  namespace: string;
  out: (text: string) => void;
  signal?: AbortSignal;
}

const mdepRef = (ns: string, name?: string) => ({
  apiVersion: API_VERSION,
  kind: "ModelDeployment",
  namespace: ns,
  ...(name ? { name } : {}),
});

export async function getMdep(ctx: CommandContext, name: string): Promise<Mdep> {
  return (await ctx.kube.get(mdepRef(ctx.namespace, name))) as unknown as Mdep;
}

export async function cmdGet(ctx: CommandContext, name?: string): Promise<void> {
  const items = name
    ? [await getMdep(ctx, name)]
    : ((await ctx.kube.listAll(mdepRef(ctx.namespace))).items as unknown as Mdep[]);
  ctx.out(renderList(items));
}

type Pod = KubeObject & {
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
};

export async function podsByRevision(ctx: CommandContext, name: string): Promise<PodsByRevision> {
  const { items: pods } = await ctx.kube.listAll<Pod>(
    { apiVersion: "v1", kind: "Pod", namespace: ctx.namespace },
    { labelSelector: `${LABEL_DEPLOYMENT}=${name}` },
  );
  const byRevision: PodsByRevision = new Map();
  for (const pod of pods) {
    const labels = pod.metadata?.labels ?? {};
    const revision = labels[LABEL_REVISION] ?? "-";
    const entry = byRevision.get(revision) ?? { ready: 0, total: 0, version: labels[LABEL_VERSION] };
    entry.total++;
    if (pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")) entry.ready++;
    byRevision.set(revision, entry);
  }
  return byRevision;
}

export async function cmdStatus(
  ctx: CommandContext,
  name: string,
  opts: { watch?: boolean; intervalMs?: number },
): Promise<void> {
  let last = "";
  do {
    const view = renderStatus(await getMdep(ctx, name), await podsByRevision(ctx, name));
    // A watch prints a new view only when something changed, so piped
    // output stays a readable log of the rollout's progress.
    if (view !== last) ctx.out(opts.watch ? `${view}\n---` : view);
    last = view;
    if (!opts.watch) return;
    await sleep(opts.intervalMs ?? 2000, ctx.signal);
  } while (!ctx.signal?.aborted);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Sets the action annotation; with `wait`, returns once the operator has handled it. */
export async function cmdAction(
  ctx: CommandContext,
  name: string,
  verb: ActionVerb,
  opts: { wait?: boolean; timeoutMs?: number } = {},
): Promise<void> {
  // The suffix makes a repeated verb a new request (the operator acts once per value).
  const value = `${verb}@${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
  await ctx.kube.mergePatch(mdepRef(ctx.namespace, name), {
    metadata: { annotations: { [ACTION_ANNOTATION]: value } },
  });
  ctx.out(`modeldeployment/${name}: ${verb} requested (${ACTION_ANNOTATION}=${value})`);
  if (!opts.wait) return;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  while (Date.now() < deadline && !ctx.signal?.aborted) {
    const m = await getMdep(ctx, name);
    if (m.status?.lastHandledAction === value) {
      ctx.out(
        `modeldeployment/${name}: handled; phase ${m.status.phase ?? "-"}, stable ${m.status.stableVersion ?? "-"}`,
      );
      return;
    }
    await sleep(500, ctx.signal);
  }
  throw new Error(`the operator did not handle ${value} in time; is it running?`);
}

export async function cmdHistory(ctx: CommandContext, name: string): Promise<void> {
  ctx.out(renderHistory(await getMdep(ctx, name)));
}

export async function cmdExplain(ctx: CommandContext, name: string): Promise<void> {
  ctx.out(renderExplain(await getMdep(ctx, name)));
}

export async function cmdDrift(ctx: CommandContext, name: string): Promise<void> {
  const ref = { apiVersion: API_VERSION, kind: "DriftMonitor", namespace: ctx.namespace, name };
  ctx.out(renderDrift((await ctx.kube.get(ref)) as unknown as DriftMonitorView));
}
