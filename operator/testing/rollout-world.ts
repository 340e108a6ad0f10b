// A simulated cluster for the rollout engine's safety properties: pods that
// take ticks to become ready, never do, or crash; analyses measured by the
// real run progression (analysis/run.ts) from what "Prometheus" answers
// (pass, fail, no data, error); SRE actions; an autoscaler changing the
// total; status through JSON between ticks, as through the apiserver. Pure
// and deterministic: the same events give the same world.
import { nextMeasurementAt, recordMeasurement } from "../analysis/run.ts";
import type { ModelDeployment } from "../api/index.ts";
import { runSpecs } from "../rollout/analyses.ts";
import { stepRollout } from "../rollout/engine.ts";
import type {
  ManualAction,
  RevisionState,
  RolloutDecision,
  RolloutInput,
  RouterKind,
  Status,
} from "../rollout/types.ts";

/** How a version's pods behave. */
export type PodLife =
  | { kind: "ready"; afterTicks: number }
  | { kind: "neverReady" }
  /** Ready at once, then every pod crashes after `afterTicks` and stays down. */
  | { kind: "crashes"; afterTicks: number };

/** What a measurement returns: data that passes or fails, no data, or a query error. */
export type PromAnswer = "pass" | "fail" | "noData" | "error";

type Pods = { revision: string; version: string; replicas: number; ready: number; age: number };

export type RolloutWorld = {
  mdep: ModelDeployment;
  versions: Map<string, PodLife>;
  pods: Map<string, Pods>;
  prometheus: PromAnswer;
  router: RouterKind;
  now: number;
};

export function rolloutWorld(
  mdep: ModelDeployment,
  router: RouterKind,
  versions: Map<string, PodLife>,
): RolloutWorld {
  return {
    mdep,
    versions,
    pods: new Map(),
    prometheus: "pass",
    router,
    now: Date.parse("2026-01-01T00:00:00Z"),
  };
}

export const revisionOf = (version: string) => `rev-${version}`;

export function revisionStates(w: RolloutWorld): Map<string, RevisionState> {
  const states = new Map<string, RevisionState>();
  for (const p of w.pods.values()) {
    states.set(p.revision, {
      revision: p.revision,
      version: p.version,
      replicas: p.replicas,
      readyReplicas: p.ready,
      deadlineExceeded: false,
    });
  }
  return states;
}

/** Takes every due measurement with the world's Prometheus answer, as the shell does before a step. */
export function measure(w: RolloutWorld, status: Status, now: Date): Status {
  if (!status.analysisRuns) return status;
  const specs = runSpecs(w.mdep);
  const runs = status.analysisRuns.map((run) => {
    const spec = specs.get(run.name);
    if (!spec) return run;
    const due = nextMeasurementAt(run, spec.analysis);
    if (!due || due.getTime() > now.getTime()) return run;
    const phase = { pass: "Successful", fail: "Failed", noData: "Inconclusive", error: "Error" } as const;
    const judgement = { metric: "m", phase: phase[w.prometheus], message: `m: ${w.prometheus}` };
    return recordMeasurement(run, spec.analysis, [judgement], now, { defaultCount: spec.defaultCount });
  });
  return { ...status, analysisRuns: runs };
}

/** The engine's input for one reconcile, after measuring due analyses. */
export function inputOf(w: RolloutWorld, action?: ManualAction): RolloutInput {
  const now = new Date(w.now);
  const status = measure(w, w.mdep.status ?? {}, now);
  const version = w.mdep.spec.modelVersion;
  const previous = status.previousVersion;
  return {
    mdep: { ...w.mdep, status },
    target: w.versions.has(version) ? { revision: revisionOf(version), version } : undefined,
    previousTarget: previous ? { revision: revisionOf(previous), version: previous } : undefined,
    revisions: revisionStates(w),
    action,
    router: w.router,
    now,
  };
}

/** Applies the decision as the shell and the cluster would: deletes, renders, scales; pods age. */
export function follow(w: RolloutWorld, input: RolloutInput, d: RolloutDecision): void {
  w.mdep = { ...input.mdep, status: JSON.parse(JSON.stringify(d.status)) as Status };
  for (const rev of d.deleteRevisions) w.pods.delete(rev);
  for (const rev of d.render) {
    if (!w.pods.has(rev.revision))
      w.pods.set(rev.revision, { ...rev, replicas: w.mdep.spec.replicas ?? 1, ready: 0, age: 0 });
  }
  for (const [revision, replicas] of d.replicas) {
    const p = w.pods.get(revision);
    if (p && p.replicas !== replicas) w.pods.set(revision, { ...p, replicas, age: 0 });
  }
}

/** Time passes: pods become ready, stay unready or crash, by their version's life. */
export function age(w: RolloutWorld, ms: number): void {
  w.now += ms;
  for (const [rev, p] of w.pods) {
    const life = w.versions.get(p.version) ?? { kind: "ready", afterTicks: 0 };
    const ageNow = p.age + 1;
    let ready = p.ready;
    if (life.kind === "neverReady") ready = 0;
    else if (life.kind === "ready")
      ready = ageNow > life.afterTicks ? p.replicas : Math.min(ready, p.replicas);
    else ready = ageNow > life.afterTicks ? 0 : p.replicas;
    w.pods.set(rev, { ...p, ready, age: ageNow });
  }
}

export function setSpec(w: RolloutWorld, spec: Partial<ModelDeployment["spec"]>): void {
  w.mdep = { ...w.mdep, spec: { ...w.mdep.spec, ...spec } };
}

/** One reconcile: input, decision, and the cluster following it. */
export function reconcile(
  w: RolloutWorld,
  action?: ManualAction,
): { input: RolloutInput; decision: RolloutDecision } {
  const input = inputOf(w, action);
  const decision = stepRollout(input);
  follow(w, input, decision);
  return { input, decision };
}
