// A tiny world for the engine's unit tests: Deployments become ready on the
// next tick, analyses report what the test says, and status goes through JSON
// between ticks as it does through the apiserver.
import type { ModelDeployment } from "../api/index.ts";
import { stepRollout } from "../rollout/engine.ts";
import type { ManualAction, RevisionState, RolloutDecision, RouterKind, Status } from "../rollout/types.ts";

export type World = {
  mdep: ModelDeployment;
  revisions: Map<string, RevisionState>;
  /** Phase the shell's measurement gives each analysis run, by run name. */
  analysis: Record<string, "Running" | "Successful" | "Failed" | "Inconclusive">;
  /** Revisions whose pods never become ready. */
  stuck: Set<string>;
  router: RouterKind;
  /** The router's last failure, as the shell passes it in. */
  routerError?: string;
  now: number;
  last?: RolloutDecision;
};

export function world(mdep: ModelDeployment, router: RouterKind = "replicas"): World {
  return {
    mdep,
    revisions: new Map(),
    analysis: {},
    stuck: new Set(),
    router,
    now: Date.parse("2026-01-01T00:00:00Z"),
  };
}

export function setVersion(w: World, version: string): void {
  w.mdep = { ...w.mdep, spec: { ...w.mdep.spec, modelVersion: version } };
}

/** One reconcile: measure, step the engine, let the cluster follow. */
export function tick(w: World, opts: { advanceMs?: number; action?: ManualAction } = {}): RolloutDecision {
  w.now += opts.advanceMs ?? 0;
  const status = measure(w, w.mdep.status ?? {});
  const mdep = { ...w.mdep, status };
  const input = {
    mdep,
    target: { revision: `rev-${mdep.spec.modelVersion}`, version: mdep.spec.modelVersion },
    revisions: w.revisions,
    router: w.router,
    routerError: w.routerError,
    action: opts.action,
    now: new Date(w.now),
  };
  const decision = stepRollout(input);
  w.mdep = { ...mdep, status: JSON.parse(JSON.stringify(decision.status)) as Status };
  follow(w, decision);
  w.last = decision;
  return decision;
}

function measure(w: World, status: Status): Status {
  const runs = status.analysisRuns?.map((r) => {
    const phase = w.analysis[r.name];
    return phase && r.phase === "Running" ? { ...r, phase, message: `${r.name} ${phase}` } : r;
  });
  return runs ? { ...status, analysisRuns: runs } : status;
}

function follow(w: World, d: RolloutDecision): void {
  for (const rev of d.deleteRevisions) w.revisions.delete(rev);
  for (const rev of d.render) {
    if (!w.revisions.has(rev.revision)) {
      w.revisions.set(rev.revision, { ...rev, replicas: 0, readyReplicas: 0, deadlineExceeded: false });
    }
  }
  for (const [revision, replicas] of d.replicas) {
    const r = w.revisions.get(revision);
    if (!r) continue;
    const ready = w.stuck.has(revision) ? 0 : Math.min(replicas, r.replicas);
    w.revisions.set(revision, { ...r, replicas, readyReplicas: ready });
  }
}

/** Ticks until `done` or the limit, advancing the clock by `stepMs`; `action` goes with the first tick. */
export function runUntil(
  w: World,
  done: (d: RolloutDecision) => boolean,
  stepMs = 1000,
  limit = 500,
  action?: ManualAction,
): RolloutDecision {
  for (let i = 0; i < limit; i++) {
    const d = tick(w, { advanceMs: stepMs, ...(i === 0 && action ? { action } : {}) });
    if (done(d)) return d;
  }
  throw new Error(`not reached in ${limit} ticks; phase ${w.mdep.status?.phase}: ${w.mdep.status?.message}`);
}
