// What a receiver gets: the generic webhook's JSON document (schema in
// README.md, "Notifications") and a Slack-compatible message. Pure.
import type { Notification, NotificationEvent } from "./transitions.ts";

/** The generic webhook's body. */
export interface WebhookPayload {
  /** The object the event is about: ModelDeployment, or DriftMonitor for DriftCritical. */
  kind: Notification["kind"];
  event: NotificationEvent;
  key: string;
  namespace: string;
  name: string;
  modelDeployment: string;
  version: string | null;
  previousVersion: string | null;
  reason: string;
  time: string;
}

export function webhookPayload(n: Notification): WebhookPayload {
  return {
    kind: n.kind,
    event: n.event,
    key: n.key,
    namespace: n.namespace,
    name: n.name,
    modelDeployment: n.modelDeployment,
    version: n.version ?? null,
    previousVersion: n.previousVersion ?? null,
    reason: n.reason,
    time: n.time,
  };
}

const HEADLINE: Record<NotificationEvent, (n: Notification) => string> = {
  RolloutStarted: (n) => `Rollout of ${n.version} started (serving ${n.previousVersion ?? "nothing"})`,
  RolloutPaused: (n) => `Rollout of ${n.version} is paused and waits for you`,
  Promoted: (n) => `${n.version} promoted${n.previousVersion ? ` over ${n.previousVersion}` : ""}`,
  RolledBack: (n) => `${n.version} rolled back; ${n.previousVersion ?? "the previous version"} serves`,
  DriftCritical: (n) => `Critical drift on ${n.version ?? "the serving version"}`,
};

const ICON: Record<NotificationEvent, string> = {
  RolloutStarted: ":arrow_forward:",
  RolloutPaused: ":double_vertical_bar:",
  Promoted: ":white_check_mark:",
  RolledBack: ":rewind:",
  DriftCritical: ":warning:",
};

/** What to run next: the plugin command that shows or settles the situation. */
export function suggestedCommand(n: Notification): string {
  const ns = `-n ${n.namespace}`;
  switch (n.event) {
    case "RolloutPaused":
      return `kubectl modelops explain ${n.name} ${ns}  # then: kubectl modelops promote ${n.name} ${ns}`;
    case "RolledBack":
      return `kubectl modelops explain ${n.name} ${ns}`;
    case "Promoted":
      return `kubectl modelops history ${n.name} ${ns}`;
    case "DriftCritical":
      return `kubectl modelops drift ${n.name} ${ns}${n.previousVersion ? `  # roll back: kubectl modelops undo ${n.modelDeployment} ${ns}` : ""}`;
    default:
      return `kubectl modelops status ${n.name} ${ns} --watch`;
  }
}

export interface SlackPayload {
  text: string;
  blocks: unknown[];
}

/** A message Slack's incoming webhooks (and Mattermost's, Rocket.Chat's) accept: text, and blocks where rendered. */
export function slackPayload(n: Notification): SlackPayload {
  const where = `${n.kind} ${n.namespace}/${n.name}`;
  const headline = HEADLINE[n.event](n);
  const command = suggestedCommand(n);
  const versions = `version: ${n.version ?? "-"}, previous: ${n.previousVersion ?? "-"}`;
  return {
    text: `${ICON[n.event]} ${where}: ${headline}. ${n.reason}. Next: ${command}`,
    blocks: [
      {
        type: "section",
        text: { type: "mrkdwn", text: `${ICON[n.event]} *${where}*: ${escapeMrkdwn(headline)}` },
      },
      {
        type: "section",
        fields: [
          { type: "mrkdwn", text: `*Version*\n${escapeMrkdwn(n.version ?? "-")}` },
          { type: "mrkdwn", text: `*Previous*\n${escapeMrkdwn(n.previousVersion ?? "-")}` },
        ],
      },
      {
        type: "section",
        text: { type: "mrkdwn", text: `*Reason*\n${escapeMrkdwn(truncate(n.reason, 2800))}` },
      },
      { type: "section", text: { type: "mrkdwn", text: `*Next*\n\`${command}\`` } },
      {
        type: "context",
        elements: [{ type: "mrkdwn", text: `${n.event} at ${n.time} · key ${n.key} · ${versions}` }],
      },
    ],
  };
}

/** Slack's mrkdwn gives &, < and > a meaning; a reason is the engine's text, not markup. */
function escapeMrkdwn(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** A section's text is limited to 3000 characters. */
function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
