// Shadow: the new revision receives a copy of live traffic and serves nobody;
// after its duration (or a successful analysis) it is promoted. Pure.
import { MIRROR_PERCENT, type ModelDeployment, parseDurationMs } from "../api/index.ts";
import { abortRollout, type StrategySettings } from "./moves.ts";
import { checkDeadline, currentStage, pauseIfInconclusive, tickPromoting } from "./stages.ts";
import {
  canary,
  ensureRun,
  enterStage,
  isReady,
  setPhase,
  sinceMs,
  type Tick,
  totalReplicas,
  wakeAt,
} from "./tick.ts";

type ShadowStrategy = NonNullable<NonNullable<ModelDeployment["spec"]["strategy"]>["shadow"]>;

export const SHADOW_NEEDS_MESH =
  "shadow on the replicas router mirrors through the modelops-proxy sidecar, which spec.proxy.enabled " +
  "turns off: enable it, or set spec.trafficRouting to gatewayAPI or istio";

const SHADOW = { kind: "shadow" } as const;

export function tickShadow(t: Tick, settings: StrategySettings, strategy: ShadowStrategy): void {
  const target = canary(t);
  if (!target) return;
  const viaProxy = t.input.router === "replicas";
  if (viaProxy && t.input.mdep.spec.proxy?.enabled === false) {
    setPhase(t, "Paused", SHADOW_NEEDS_MESH, "ShadowUnsupported");
    return;
  }
  const total = totalReplicas(t);
  const mirror = strategy.mirrorPercent ?? MIRROR_PERCENT;
  const pods = Math.max(1, Math.ceil((total * mirror) / 100));
  t.replicas.set(target.revision, pods);
  if (t.st.stableRevision) t.replicas.set(t.st.stableRevision, total);
  t.traffic.canaryRevision = target.revision;
  t.st.canaryWeight = 0;
  const stage = currentStage(t, "shadow");
  if (stage === "Starting") {
    setPhase(t, "Progressing", `Starting ${target.version} as a shadow (${pods} pods)`);
    if (!isReady(t, target.revision, pods)) {
      checkDeadline(t, settings, target, 0);
      return;
    }
    enterStage(t, "Mirroring");
  }
  // Mirroring goes on while the shadow grows to take over, so its analysis keeps data.
  t.traffic.mirrorPercent = mirror;
  // Without a mesh the stable revision's proxies mirror, to the canary Service
  // that exists while mirrorPercent > 0 (core/proxy-sidecar.ts): no pod restarts.
  t.st.trafficMessage = `${mirror}% of requests mirrored to ${target.version}; its answers are discarded`;
  const run = strategy.analysis ? ensureRun(t, SHADOW, target.revision) : undefined;
  const gates = strategy.analysis ? [{ id: SHADOW, analysis: strategy.analysis }] : [];
  if (stage === "Promoting" || stage === "PromotingOnRequest") {
    tickPromoting(t, settings, target, gates);
    return;
  }
  if (run?.phase === "Failed") {
    abortRollout(t, settings, "AnalysisFailed", run.message ?? "shadow analysis failed");
    return;
  }
  const remaining = strategy.duration
    ? parseDurationMs(strategy.duration) - sinceMs(t, t.st.currentStepStartTime)
    : 0;
  // A counted analysis must finish; one without count gates promotion in tickPromoting.
  const countedDone = !strategy.analysis?.count || run?.phase === "Successful";
  if (remaining <= 0 && countedDone) {
    enterStage(t, "Promoting");
    tickPromoting(t, settings, target, gates);
    return;
  }
  setPhase(t, "Progressing", `Shadowing ${mirror}% of traffic to ${target.version}`);
  pauseIfInconclusive(t, run);
  if (remaining > 0) wakeAt(t, t.now.getTime() + remaining);
}
