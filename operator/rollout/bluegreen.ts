// Blue-green: the new revision starts at full size behind the <name>-preview
// Service, is analysed there, and takes all traffic at once. Pure.
import type { ModelDeployment } from "../api/index.ts";
import { abortRollout, promote, type StrategySettings } from "./moves.ts";
import { analysisBudgetMs, checkDeadline, pauseIfInconclusive } from "./stages.ts";
import {
  canary,
  ensureRun,
  isReady,
  nextStage,
  setPhase,
  sinceMs,
  type Tick,
  totalReplicas,
  wakeAt,
} from "./tick.ts";

type BlueGreenStrategy = NonNullable<NonNullable<ModelDeployment["spec"]["strategy"]>["blueGreen"]>;

const PREVIEW = 0;
const PRE_PROMOTION = 1;
const PROMOTION_GATE = 2;

export function tickBlueGreen(t: Tick, settings: StrategySettings, strategy: BlueGreenStrategy): void {
  const target = canary(t);
  if (!target) return;
  const total = totalReplicas(t);
  t.replicas.set(target.revision, total);
  if (t.st.stableRevision) t.replicas.set(t.st.stableRevision, total);
  t.traffic.previewRevision = target.revision;
  t.st.canaryWeight = 0;
  for (let guard = 0; guard < 3; guard++) {
    const stage = t.st.currentStepIndex ?? PREVIEW;
    if (stage === PREVIEW) {
      setPhase(t, "Progressing", `Starting ${target.version} on the preview Service (${total} pods)`);
      if (!isReady(t, target.revision, total)) {
        checkDeadline(t, settings, target, 0);
        return;
      }
    } else if (stage === PRE_PROMOTION && strategy.prePromotionAnalysis) {
      const run = ensureRun(t, { kind: "prePromotion" }, target.revision);
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
    } else if (stage === PROMOTION_GATE) {
      if (!promotionGateOpen(t, strategy)) return;
      promote(t, settings);
      return;
    }
    nextStage(t);
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
