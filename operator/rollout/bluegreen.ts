// Blue-green: the new revision starts at full size behind the <name>-preview
// Service, is analysed there, and takes all traffic at once. Pure.
import type { ModelDeployment } from "../api/index.ts";
import { abortRollout, type StrategySettings } from "./moves.ts";
import {
  analysisBudgetMs,
  checkDeadline,
  currentStage,
  pauseIfInconclusive,
  tickPromoting,
} from "./stages.ts";
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

const PRE_PROMOTION = { kind: "prePromotion" } as const;

type BlueGreenStrategy = NonNullable<NonNullable<ModelDeployment["spec"]["strategy"]>["blueGreen"]>;

export function tickBlueGreen(t: Tick, settings: StrategySettings, strategy: BlueGreenStrategy): void {
  const target = canary(t);
  if (!target) return;
  const total = totalReplicas(t);
  t.replicas.set(target.revision, total);
  if (t.st.stableRevision) t.replicas.set(t.st.stableRevision, total);
  t.traffic.previewRevision = target.revision;
  t.st.canaryWeight = 0;
  for (let guard = 0; guard < 4; guard++) {
    const stage = currentStage(t, "blueGreen");
    if (stage === "Promoting" || stage === "PromotingOnRequest") {
      tickPromoting(t, settings, target, []);
      return;
    }
    if (stage === "Preview") {
      setPhase(t, "Progressing", `Starting ${target.version} on the preview Service (${total} pods)`);
      if (!isReady(t, target.revision, total)) {
        checkDeadline(t, settings, target, 0);
        return;
      }
      enterStage(t, "PrePromotionAnalysis");
    } else if (stage === "PrePromotionAnalysis") {
      if (strategy.prePromotionAnalysis) {
        const run = ensureRun(t, PRE_PROMOTION, target.revision);
        if (run.phase === "Failed") {
          abortRollout(t, settings, "AnalysisFailed", run.message ?? "pre-promotion analysis failed");
          return;
        }
        if (run.phase !== "Successful") {
          setPhase(t, "Progressing", `Analysing ${target.version} on the preview Service`);
          pauseIfInconclusive(t, run);
          checkDeadline(t, settings, target, analysisBudgetMs({ analysis: strategy.prePromotionAnalysis }));
          return;
        }
      }
      enterStage(t, "AwaitingPromotion");
    } else {
      if (!promotionGateOpen(t, strategy)) return;
      enterStage(t, "Promoting");
    }
  }
}

function promotionGateOpen(t: Tick, strategy: BlueGreenStrategy): boolean {
  if (strategy.autoPromotionEnabled === false) {
    setPhase(
      t,
      "Paused",
      "Preview ready; waiting to be promoted (annotation modelops.io/action=promote)",
      "AwaitingPromotion",
    );
    return false;
  }
  const waitMs = (strategy.autoPromotionSeconds ?? 0) * 1000 - sinceMs(t, t.st.currentStepStartTime);
  if (waitMs <= 0) return true;
  setPhase(
    t,
    "Paused",
    `Preview ready; promoting automatically in ${Math.ceil(waitMs / 1000)} s`,
    "AutoPromotionDelay",
  );
  wakeAt(t, t.now.getTime() + waitMs);
  return false;
}
