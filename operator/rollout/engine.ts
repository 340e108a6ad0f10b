// The rollout engine: one pure step from the ModelDeployment's status and
// what is observed to the next status and what the shell must do. Every fact
// it needs after a restart is in status, so a killed operator resumes where
// it stopped.
import { handleAction } from "./actions.ts";
import { tickBlueGreen } from "./bluegreen.ts";
import { headerRouteAt, tickCanary } from "./canary.ts";
import {
  cancelRollout,
  guardAfterPromotion,
  type StrategySettings,
  startRollout,
  strategySettings,
  tickRestoring,
} from "./moves.ts";
import { tickShadow } from "./shadow.ts";
import { beginTick, canary, isReady, runOf, setPhase, type Tick, totalReplicas, wakeAt } from "./tick.ts";
import { headerRouteFor } from "./traffic.ts";
import type { RolloutDecision, RolloutInput } from "./types.ts";

export function stepRollout(input: RolloutInput): RolloutDecision {
  const t = beginTick(input);
  const settings = strategySettings(input.mdep);
  if (input.action) handleAction(t, settings, input.action);
  const target = input.target;
  if (target) {
    const stableRunning = t.st.stableRevision !== undefined && input.revisions.has(t.st.stableRevision);
    if (!stableRunning && !canary(t)) serveFirst(t, target);
    if (t.st.stableRevision === target.revision) {
      if (canary(t)) cancelRollout(t, settings, target);
      if (!tickRestoring(t, settings)) steady(t, settings);
    } else if (t.st.phase === "RolledBack" && t.st.canaryRevision === target.revision) holdRolledBack(t);
    else progress(t, settings, target);
  } else waitForTarget(t);
  if (t.st.stableRevision && !t.replicas.has(t.st.stableRevision)) {
    t.replicas.set(t.st.stableRevision, totalReplicas(t));
  }
  retireDue(t);
  return finish(t);
}

/** Nothing serves yet: the first version serves at once, without a rollout. */
function serveFirst(t: Tick, target: { revision: string; version: string }): void {
  t.st.stableRevision = target.revision;
  t.st.stableVersion = target.version;
}

function steady(t: Tick, settings: StrategySettings): void {
  if (t.st.stableRevision !== t.input.target?.revision) return; // a guard or restore rolled back
  const stable = { revision: t.st.stableRevision as string, version: t.st.stableVersion as string };
  t.render.push(stable);
  const guard = guardAfterPromotion(t, settings);
  if (guard !== "done" && guard !== "running") return;
  const total = totalReplicas(t);
  const ready = isReady(t, stable.revision, total);
  const guarding = guard === "running" ? " (post-promotion analysis running)" : "";
  if (ready) setPhase(t, "Available", `Serving ${stable.version}${guarding}`);
  else setPhase(t, "Progressing", `Waiting for ${stable.version} to have ${total} ready pods${guarding}`);
}

/** spec.modelVersion cannot be served: what serves keeps serving, and the phase says why. */
function waitForTarget(t: Tick): void {
  const serving = isReady(t, t.st.stableRevision, totalReplicas(t));
  setPhase(
    t,
    serving ? "Degraded" : "Pending",
    t.input.targetProblem ?? "spec.modelVersion cannot be served",
  );
}

function holdRolledBack(t: Tick): void {
  t.st.canaryWeight = 0;
  t.st.message ??= `Rolled back; serving ${t.st.stableVersion}`;
}

function progress(t: Tick, settings: StrategySettings, target: { revision: string; version: string }): void {
  if (t.st.canaryRevision !== target.revision) startRollout(t, settings, target);
  t.render.push(target);
  if (t.input.mdep.spec.paused) {
    keepCurrentTraffic(t);
    setPhase(t, "Paused", "spec.paused is true: the rollout holds where it is", "SpecPaused");
    return;
  }
  const strategy = t.input.mdep.spec.strategy;
  if (settings.kind === "canary" && strategy?.canary) tickCanary(t, settings, strategy.canary);
  else if (settings.kind === "blueGreen" && strategy?.blueGreen)
    tickBlueGreen(t, settings, strategy.blueGreen);
  else if (settings.kind === "shadow" && strategy?.shadow) tickShadow(t, settings, strategy.shadow);
  else safeSwitch(t, settings);
  if (t.st.stableRevision === target.revision) steady(t, settings);
}

/** No strategy: a blue-green switch without analysis, once all new pods are ready. */
const SAFE_SWITCH = {
  autoPromotionEnabled: true,
  scaleDownDelaySeconds: 30,
  abortScaleDownDelaySeconds: 600,
};

function safeSwitch(t: Tick, settings: StrategySettings): void {
  tickBlueGreen(t, settings, SAFE_SWITCH);
}

function keepCurrentTraffic(t: Tick): void {
  const rev = canary(t);
  t.traffic.canaryRevision = rev?.revision;
  t.traffic.canaryWeight = t.st.canaryWeight ?? 0;
  const steps = t.input.mdep.spec.strategy?.canary?.steps;
  if (rev && steps)
    t.traffic.headerRoute = headerRouteFor(t, rev, headerRouteAt(steps, t.st.currentStepIndex ?? 0));
}

/** Retiring revisions keep running until their time, then their Deployments go. */
function retireDue(t: Tick): void {
  const keep = [];
  for (const r of t.st.retiringRevisions ?? []) {
    const due = r.deleteAfter ? Date.parse(r.deleteAfter) : 0;
    if (due <= t.now.getTime() && r.revision !== t.st.stableRevision) t.deleteRevisions.push(r.revision);
    else {
      keep.push(r);
      wakeAt(t, due);
    }
  }
  if (keep.length > 0) t.st.retiringRevisions = keep;
  else delete t.st.retiringRevisions;
}

/**
 * Every revision that runs is stable, canary, retiring, restoring or the
 * previous one under a post-promotion guard; any other goes. Nothing the
 * tick renders or keeps is deleted in the same tick.
 */
function sweep(t: Tick): string[] {
  const keep = new Set<string | undefined>([
    t.st.stableRevision,
    // A rolled-back canary stays in status for retry; its pods only while it is retiring.
    t.st.phase === "RolledBack" ? undefined : t.st.canaryRevision,
    t.st.restoring?.revision,
    ...(t.st.retiringRevisions ?? []).map((r) => r.revision),
    ...t.render.map((r) => r.revision),
  ]);
  if (runOf(t, { kind: "postPromotion" })) keep.add(t.st.previousRevision);
  const strays = [...t.input.revisions.keys()].filter((rev) => !keep.has(rev));
  return [...new Set([...t.deleteRevisions, ...strays])].filter((rev) => !keep.has(rev));
}

function finish(t: Tick): RolloutDecision {
  t.traffic.stableRevision = t.st.stableRevision;
  if (t.st.canaryWeight !== undefined && !canary(t)) delete t.st.canaryWeight;
  return {
    status: t.st,
    render: t.render,
    replicas: t.replicas,
    traffic: t.traffic,
    deleteRevisions: sweep(t),
    events: t.events,
    requeueAfterMs: t.wakeAtMs === undefined ? undefined : t.wakeAtMs - t.now.getTime(),
  };
}
