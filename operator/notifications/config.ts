// The platform team's notification channels: the JSON file named by
// --notifications-config (the chart renders it from `notifications` values).
// Secrets are named here and read from the operator's own namespace at each
// delivery, so a rotated token or URL is used without a restart. Pure.
import { z } from "zod";
import { NOTIFICATION_EVENTS, type NotificationEvent } from "./transitions.ts";

export const CONFIG_FLAG = "--notifications-config";

const name = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "a lower-case name of letters, digits and dashes");
const secretName = z.string().min(1).max(253);
const secretKeyRef = z.object({ name: secretName, key: z.string().min(1) }).strict();
const events = z
  .array(z.enum(NOTIFICATION_EVENTS))
  .optional()
  .describe("Events sent to this channel; omitted or empty: all.");

const webhookSchema = z
  .object({
    name,
    url: z.url({ protocol: /^https?$/ }).optional(),
    urlSecret: secretKeyRef.optional(),
    /** Each key of this Secret is sent as a header (e.g. authorization: Bearer ...). */
    headersSecret: secretName.optional(),
    events,
  })
  .strict()
  .refine((w) => (w.url === undefined) !== (w.urlSecret === undefined), {
    message: "set exactly one of url or urlSecret",
  });

const slackSchema = z
  .object({
    name: name.default("slack"),
    webhookUrlSecret: secretKeyRef,
    events,
  })
  .strict();

export const notificationsConfigSchema = z
  .object({
    webhooks: z.array(webhookSchema).max(16).default([]),
    slack: slackSchema.optional(),
  })
  .strict();

export type NotificationsConfig = z.input<typeof notificationsConfigSchema>;

/** One place notifications go, in the format it reads. */
export interface Channel {
  name: string;
  format: "webhook" | "slack";
  url?: string | undefined;
  urlSecret?: { name: string; key: string } | undefined;
  headersSecret?: string | undefined;
  /** Empty: every event. */
  events: ReadonlySet<NotificationEvent>;
}

/** The channels of a config; throws with every problem, each with its path, on a bad one. */
export function channelsFrom(config: unknown): Channel[] {
  const parsed = notificationsConfigSchema.safeParse(config);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${pathOf(i.path)}: ${i.message}`);
    throw new Error(`${CONFIG_FLAG}: ${problems.join("; ")}`);
  }
  const { webhooks, slack } = parsed.data;
  const channels: Channel[] = webhooks.map((w) => ({
    name: w.name,
    format: "webhook",
    url: w.url,
    urlSecret: w.urlSecret,
    headersSecret: w.headersSecret,
    events: new Set(w.events ?? []),
  }));
  if (slack) {
    channels.push({
      name: slack.name,
      format: "slack",
      urlSecret: slack.webhookUrlSecret,
      events: new Set(slack.events ?? []),
    });
  }
  const names = channels.map((c) => c.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new Error(`${CONFIG_FLAG}: channel name "${twice}" is used twice; names must be unique`);
  return channels;
}

/** Parses the file's text (JSON). */
export function parseNotificationsConfig(text: string): Channel[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${CONFIG_FLAG}: not JSON: ${(err as Error).message}`);
  }
  return channelsFrom(value);
}

export function wants(channel: Channel, event: NotificationEvent): boolean {
  return channel.events.size === 0 || channel.events.has(event);
}

function pathOf(path: PropertyKey[]): string {
  return (
    path.reduce<string>(
      (s, p) => (typeof p === "number" ? `${s}[${p}]` : s ? `${s}.${String(p)}` : String(p)),
      "",
    ) || "(top level)"
  );
}
