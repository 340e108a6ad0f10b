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
import { UsageError } from "./errors.ts";
import { type DriftMonitorView, renderDrift, renderExplain } from "./explain.ts";
import { asList, type OutputFormat, serialize } from "./output.ts";
import { type Mdep, type PodsByRevision, renderHistory, renderList, renderStatus } from "./render.ts";

export interface CommandContext {
  kube: KubeClient;
  namespace: string;
  /** The namespace commands use without -n (the kubeconfig context's): suggested commands name any other. */
  defaultNamespace?: string;
  out: (text: string) => void;
  /** Diagnostics (stderr), apart from the output a script may parse. */
  err: (text: string) => void;
  signal?: AbortSignal;
}

/** managedFields name the plugin as the writer of spec.paused and the action annotation. */
export const PLUGIN_FIELD_MANAGER = "kubectl-modelops";

const mdepRef = (ns: string, name?: string) => ({
  apiVersion: API_VERSION,
  kind: "ModelDeployment",
  namespace: ns,
  ...(name ? { name } : {}),
});

export async function getMdep(ctx: CommandContext, name: string): Promise<Mdep> {
  return (await ctx.kube.get(mdepRef(ctx.namespace, name))) as unknown as Mdep;
}

export async function cmdGet(
  ctx: CommandContext,
  name: string | undefined,
  opts: { allNamespaces?: boolean; output?: OutputFormat } = {},
): Promise<void> {
  if (name && opts.allNamespaces)
    throw new UsageError("a ModelDeployment cannot be read by name across all namespaces; drop -A or NAME");
  const ref = mdepRef(opts.allNamespaces ? "" : ctx.namespace);
  const items = name
    ? [await getMdep(ctx, name)]
    : ((await ctx.kube.listAll(ref)).items as unknown as Mdep[]);
  if (name && opts.output !== "wide") return ctx.out(serialize(items[0], opts.output) ?? renderList(items));
  if (!name) for (const m of items) Object.assign(m, { apiVersion: API_VERSION, kind: "ModelDeployment" });
  ctx.out(
    serialize(asList(items), opts.output) ??
      renderList(items, { allNamespaces: opts.allNamespaces, wide: opts.output === "wide" }),
  );
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

/** Phases a rollout rests in: `status --watch` ends on one unless --keep-watching. */
export const TERMINAL_PHASES: readonly string[] = ["Available", "RolledBack", "Degraded"];
/** Terminal phases that mean the rollout did not end well: `status --watch` exits 1 on them. */
const FAILED_PHASES: readonly string[] = ["RolledBack", "Degraded"];

/** Rests in a terminal phase for the current spec: an older generation's phase says nothing yet. */
export function restingPhase(m: Mdep): string | undefined {
  const s = m.status;
  if (!s?.phase || !TERMINAL_PHASES.includes(s.phase)) return undefined;
  const generation = m.metadata.generation;
  if (generation !== undefined && (s.observedGeneration ?? 0) < generation) return undefined;
  return s.phase;
}

export interface StatusOptions {
  watch?: boolean;
  keepWatching?: boolean;
  intervalMs?: number;
  timeoutMs?: number;
  output?: OutputFormat;
}

/** Prints the status; with `watch`, each change until a terminal phase. Returns the exit code. */
export async function cmdStatus(ctx: CommandContext, name: string, opts: StatusOptions): Promise<number> {
  const deadline = Date.now() + (opts.timeoutMs ?? Number.POSITIVE_INFINITY);
  let last = "";
  for (;;) {
    const m = await getMdep(ctx, name);
    const view = serialize(m, opts.output) ?? renderStatus(m, await podsByRevision(ctx, name));
    // A watch prints a new view only when something changed, so piped
    // output stays a readable log of the rollout's progress.
    // JSON documents follow one another as `kubectl get -w -o json` prints them; text and YAML get a separator.
    if (view !== last) ctx.out(opts.watch && opts.output !== "json" ? `${view}\n---` : view);
    last = view;
    if (!opts.watch || ctx.signal?.aborted) return 0;
    const phase = restingPhase(m);
    if (phase && !opts.keepWatching) {
      if (!FAILED_PHASES.includes(phase)) return 0;
      ctx.err(`modeldeployment/${name} ended ${phase}`);
      return 1;
    }
    if (Date.now() >= deadline) {
      ctx.err(`error: timed out waiting for modeldeployment/${name} to reach ${TERMINAL_PHASES.join(", ")}`);
      return 1;
    }
    await sleep(Math.min(opts.intervalMs ?? 2000, Math.max(0, deadline - Date.now())), ctx.signal);
  }
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

export interface WaitOptions {
  wait?: boolean;
  timeoutMs?: number;
}

/** Sets the action annotation; with `wait`, returns once the operator has handled it. */
export async function cmdAction(
  ctx: CommandContext,
  name: string,
  verb: ActionVerb,
  opts: WaitOptions = {},
): Promise<void> {
  // The suffix makes a repeated verb a new request (the operator acts once per value).
  const value = `${verb}@${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
  await ctx.kube.mergePatch(
    mdepRef(ctx.namespace, name),
    {
      metadata: { annotations: { [ACTION_ANNOTATION]: value } },
    },
    { fieldManager: PLUGIN_FIELD_MANAGER },
  );
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
  throw new Error(
    `the operator did not handle ${value} within ${seconds(opts.timeoutMs ?? 60_000)}; is it running? (kubectl modelops explain ${name})`,
  );
}

const seconds = (ms: number) => `${Number((ms / 1000).toFixed(1))}s`;

/**
 * pause/resume set spec.paused, the field a GitOps source may also carry (a
 * sync may undo it): unlike the actions it is a state, not a one-shot request.
 * With `wait`, returns once the operator has seen the new generation.
 */
export async function cmdPause(
  ctx: CommandContext,
  name: string,
  paused: boolean,
  opts: WaitOptions = {},
): Promise<void> {
  const m = (await ctx.kube.mergePatch(
    mdepRef(ctx.namespace, name),
    { spec: { paused } },
    {
      fieldManager: PLUGIN_FIELD_MANAGER,
    },
  )) as unknown as Mdep;
  ctx.out(`modeldeployment/${name} ${paused ? "paused" : "resumed"} (spec.paused=${paused})`);
  if (!opts.wait) return;
  const generation = m.metadata.generation ?? 0;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  while (Date.now() < deadline && !ctx.signal?.aborted) {
    const now = await getMdep(ctx, name);
    if ((now.status?.observedGeneration ?? 0) >= generation) {
      ctx.out(`modeldeployment/${name}: handled; phase ${now.status?.phase ?? "-"}`);
      return;
    }
    await sleep(500, ctx.signal);
  }
  throw new Error(
    `the operator did not observe generation ${generation} of ${name} within ${seconds(opts.timeoutMs ?? 60_000)}; is it running?`,
  );
}

export async function cmdHistory(ctx: CommandContext, name: string, output?: OutputFormat): Promise<void> {
  const m = await getMdep(ctx, name);
  ctx.out(serialize(m.status?.history ?? [], output) ?? renderHistory(m));
}

export async function cmdExplain(ctx: CommandContext, name: string): Promise<void> {
  ctx.out(renderExplain(await getMdep(ctx, name), ctx.defaultNamespace));
}

export async function cmdDrift(ctx: CommandContext, name: string, output?: OutputFormat): Promise<void> {
  const ref = { apiVersion: API_VERSION, kind: "DriftMonitor", namespace: ctx.namespace, name };
  const dm = (await ctx.kube.get(ref)) as unknown as DriftMonitorView;
  ctx.out(serialize(dm, output) ?? renderDrift(dm));
}
