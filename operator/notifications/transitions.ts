// Which notifications a status change produces. Pure. The rollout engine's
// status is the only memory the operator has across restarts, so a
// notification is a transition between the status the reconciler read and
// the one it wrote, and its key is built from timestamps the engine stored
// with that transition (the rollout's start, the pause's start, the history
// entry, the drift episode's start): every reconcile that sees the same
// transition derives the same key, and once the new status is written no
// later reconcile, in this process or the next one, sees a transition at all.
import {
  type DriftMonitor,
  type DriftMonitorStatus,
  type ModelDeployment,
  NOTIFY_ANNOTATION,
} from "../api/index.ts";
import type { Status } from "../rollout/types.ts";

export const NOTIFICATION_EVENTS = [
  "RolloutStarted",
  "RolloutPaused",
  "Promoted",
  "RolledBack",
  "DriftCritical",
] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

export interface Notification {
  event: NotificationEvent;
  /** The same for every reconcile and operator that sees this occurrence; receivers may deduplicate on it. */
  key: string;
  kind: "ModelDeployment" | "DriftMonitor";
  namespace: string;
  name: string;
  /** The ModelDeployment concerned (the DriftMonitor's target for DriftCritical). */
  modelDeployment: string;
  /** The version the event is about: rolled out, paused, promoted, rolled back, or drifting. */
  version: string | undefined;
  /** The other version: the one it replaces, the one serving again after a rollback, or the one an undo returns to. */
  previousVersion: string | undefined;
  /** Why, in words (the engine's or the evaluation's message). */
  reason: string;
  /** When it happened (RFC 3339), as status records it. */
  time: string;
  /** Channel names from the NOTIFY_ANNOTATION; undefined: every channel. */
  channels?: string[] | undefined;
}

/**
 * Pauses that wait for a person: a pause step without a duration, a
 * blue-green preview awaiting promotion, an inconclusive analysis, refused
 * gates, a shadow rollout without a mesh. Timed pauses and analyses still
 * measuring end on their own; spec.paused was set by a person already.
 */
const HUMAN_PAUSES = new Set([
  "AwaitingPromotion",
  "InconclusiveAnalysis",
  "GatesFailed",
  "ShadowUnsupported",
]);

export function rolloutNotifications(
  mdep: ModelDeployment,
  before: Status | undefined,
  after: Status,
): Notification[] {
  const base = {
    kind: "ModelDeployment" as const,
    namespace: mdep.metadata.namespace ?? "",
    name: mdep.metadata.name,
    modelDeployment: mdep.metadata.name,
    ...channelsOf(mdep),
  };
  const keyOf = (event: NotificationEvent, ...parts: (string | undefined)[]) =>
    [base.namespace, base.name, event, ...parts.map((p) => p ?? "")].join("/");
  const out: Notification[] = [];
  if (after.rolloutStartTime && after.canaryVersion && after.rolloutStartTime !== before?.rolloutStartTime) {
    out.push({
      ...base,
      event: "RolloutStarted",
      key: keyOf("RolloutStarted", after.rolloutStartTime, after.canaryRevision),
      version: after.canaryVersion,
      previousVersion: after.stableVersion,
      reason: startedReason(after),
      time: after.rolloutStartTime,
    });
  }
  if (pausedForHuman(mdep, after) && after.pauseStartTime && !samePause(before, after)) {
    out.push({
      ...base,
      event: "RolloutPaused",
      key: keyOf("RolloutPaused", after.pauseStartTime, after.pauseReason, after.canaryRevision),
      version: after.canaryVersion ?? after.stableVersion,
      previousVersion: after.canaryVersion ? after.stableVersion : after.previousVersion,
      reason: `${after.pauseReason}: ${after.message ?? "paused"}`,
      time: after.pauseStartTime,
    });
  }
  // Newest first; oldest of the new entries first in the notifications.
  for (const entry of newHistory(before, after).reverse()) {
    if (entry.result === "Aborted") continue;
    const promoted = entry.result === "Promoted";
    out.push({
      ...base,
      event: promoted ? "Promoted" : "RolledBack",
      key: keyOf(entry.result, entry.time, entry.revision),
      version: entry.version,
      previousVersion: promoted ? before?.stableVersion : after.stableVersion,
      reason: entry.message ?? entry.result,
      time: entry.time ?? "",
    });
  }
  return out;
}

/** A Critical verdict opening a drift episode; the episode's start is its identity. */
export function driftNotifications(
  dm: DriftMonitor,
  target: ModelDeployment | undefined,
  before: DriftMonitorStatus | undefined,
  after: DriftMonitorStatus,
  version: string | undefined,
): Notification[] {
  const since = after.criticalSince;
  if (after.verdict !== "Critical" || !since || since === before?.criticalSince) return [];
  const namespace = dm.metadata.namespace ?? "";
  return [
    {
      event: "DriftCritical",
      key: [namespace, dm.metadata.name, "DriftCritical", since].join("/"),
      kind: "DriftMonitor",
      namespace,
      name: dm.metadata.name,
      modelDeployment: dm.spec.targetRef.name,
      version,
      previousVersion: target?.status?.previousVersion,
      reason: after.message ?? "drift is Critical",
      time: since,
      ...(target ? channelsOf(target) : {}),
    },
  ];
}

/** The annotation's channel names; "none" is the empty list. */
export function channelsOf(mdep: { metadata: { annotations?: Record<string, string> | undefined } }): {
  channels?: string[];
} {
  const value = mdep.metadata.annotations?.[NOTIFY_ANNOTATION]?.trim();
  if (value === undefined || value === "") return {};
  if (value.toLowerCase() === "none") return { channels: [] };
  return {
    channels: value
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
  };
}

function startedReason(after: Status): string {
  const setBy = after.rolloutEvidence?.setBy?.manager;
  return `spec.modelVersion is ${after.canaryVersion}${setBy ? ` (set by ${setBy})` : ""}`;
}

/** The same pause as before: the engine keeps pauseStartTime while a pause goes on. */
function samePause(before: Status | undefined, after: Status): boolean {
  return before?.phase === "Paused" && before.pauseStartTime === after.pauseStartTime;
}

function pausedForHuman(mdep: ModelDeployment, s: Status): boolean {
  if (s.phase !== "Paused" || !s.pauseReason) return false;
  if (HUMAN_PAUSES.has(s.pauseReason)) return true;
  if (s.pauseReason !== "PauseStep") return false;
  const step = mdep.spec.strategy?.canary?.steps?.[s.currentStepIndex ?? 0];
  return step?.pause !== undefined && !step.pause.duration;
}

type HistoryEntry = NonNullable<Status["history"]>[number];

/** Entries at the head of `after`'s history that `before`'s does not have. */
function newHistory(before: Status | undefined, after: Status): HistoryEntry[] {
  const seen = new Set((before?.history ?? []).map(identity));
  const fresh: HistoryEntry[] = [];
  for (const entry of after.history ?? []) {
    if (seen.has(identity(entry))) break;
    fresh.push(entry);
  }
  return fresh;
}

const identity = (e: HistoryEntry) => `${e.result}/${e.revision ?? ""}/${e.time ?? ""}/${e.version}`;
