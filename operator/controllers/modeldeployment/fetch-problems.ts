// Why a revision's pods cannot start their model: the artifact fetcher's
// failure, read from the pods' init container status (its termination
// message is the fetcher's one-line reason). Pods are listed only for live
// revisions that fetch their artifact and are not fully ready, so a
// ModelDeployment that serves costs no extra request.
import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import {
  FETCHER_CONTAINER,
  LABEL_DEPLOYMENT,
  LABEL_REVISION,
  type ModelDeployment,
  type ModelVersion,
} from "../../api/index.ts";
import { parseArtifactUri } from "../../core/artifact.ts";
import type { RevisionState } from "../../rollout/types.ts";
import type { ReconcileDeps } from "../context.ts";

export type FetchProblem = { revision: string; version: string; message: string };

/** Enough for the fetcher's one-line reason; many revisions' reasons must fit one condition message. */
const MAX_REASON_LENGTH = 1024;

/** The fetcher's failure in this pod, if it failed: its reason and how often it was retried. */
export function fetchFailure(pod: V1Pod): string | undefined {
  const s = pod.status?.initContainerStatuses?.find((c) => c.name === FETCHER_CONTAINER);
  if (!s) return undefined;
  const failed = failedRun(s);
  if (!failed) return undefined;
  const said = (failed.message ?? "").trim().slice(0, MAX_REASON_LENGTH);
  const reason = said || failed.reason || `exit code ${failed.exitCode}`;
  const restarts = s.restartCount > 0 ? ` (tried ${s.restartCount + 1} times)` : "";
  return `${reason}${restarts}`;
}

function failedRun(s: V1ContainerStatus) {
  const now = s.state?.terminated;
  if (now && now.exitCode !== 0) return now;
  const last = s.lastState?.terminated;
  // Restarting after a failure (CrashLoopBackOff, or running again): the last run says why.
  if (!s.state?.terminated && last && last.exitCode !== 0 && !s.ready) return last;
  return undefined;
}

/**
 * A failing init container changes no object the operator watches, so while
 * a revision that fetches is not ready its pods are looked at this often.
 */
export const FETCH_CHECK_INTERVAL_MS = 5_000;

/**
 * Fetch failures of the revisions that are live and not fully ready, and
 * whether any such revision fetches (then look again in FETCH_CHECK_INTERVAL_MS).
 */
export async function fetchProblems(
  deps: ReconcileDeps,
  mdep: ModelDeployment,
  revisions: Map<string, RevisionState>,
): Promise<{ problems: FetchProblem[]; watching: boolean }> {
  const problems: FetchProblem[] = [];
  let watching = false;
  for (const rev of revisions.values()) {
    if (rev.replicas === 0 || rev.readyReplicas >= rev.replicas || !fetches(deps, mdep, rev.version))
      continue;
    watching = true;
    const labelSelector = `${LABEL_DEPLOYMENT}=${mdep.metadata.name},${LABEL_REVISION}=${rev.revision}`;
    const { items } = await deps.kube.list(
      { apiVersion: "v1", kind: "Pod", namespace: mdep.metadata.namespace },
      { labelSelector },
    );
    const failure = (items as V1Pod[]).map(fetchFailure).find((f) => f !== undefined);
    if (failure) problems.push({ revision: rev.revision, version: rev.version, message: failure });
  }
  return { problems, watching };
}

function fetches(deps: ReconcileDeps, mdep: ModelDeployment, version: string): boolean {
  const mv = deps.stores.modelVersions.get(mdep.metadata.namespace, version) as ModelVersion | undefined;
  const location = mv ? parseArtifactUri(mv.spec.artifact.uri) : undefined;
  return location !== undefined && "kind" in location && location.kind === "fetched";
}

export function describeFetchProblems(problems: FetchProblem[]): string {
  return problems
    .map(
      (p) =>
        `revision ${p.revision} (${p.version}) cannot fetch its artifact: ${p.message.slice(0, MAX_REASON_LENGTH)}`,
    )
    .join("; ");
}
