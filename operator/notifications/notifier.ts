// The sending shell: each notification goes to every channel that wants its
// event (and that the ModelDeployment's annotation does not exclude), through
// the delivery queue, as one fenced request (runtime/outbound.ts: no
// redirects, a deadline, a response size limit, and the cluster's own
// addresses refused unless --outbound-allow names them). Secrets are read
// from the operator's namespace at each attempt; their values are never logged.
import type { V1Secret } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { KubeClient } from "../runtime/kube.ts";
import { type OutboundPolicy, outboundPolicy, send } from "../runtime/outbound.ts";
import { type Channel, wants } from "./config.ts";
import { DeliveryQueue, type RetryOptions } from "./delivery.ts";
import { slackPayload, webhookPayload } from "./format.ts";
import type { Notification } from "./transitions.ts";

/** Header with the notification's key, so a receiver can drop a message it already has. */
export const IDEMPOTENCY_HEADER = "idempotency-key";
export const EVENT_HEADER = "x-modelops-event";

/** What reconcilers hand notifications to; returns at once. */
export interface NotificationSink {
  publish(notifications: Notification[]): void;
}

export interface NotifierOptions {
  channels: Channel[];
  /** Where the channels' Secrets are: the operator's own namespace. */
  namespace: string;
  kube: KubeClient;
  outbound: OutboundPolicy | undefined;
  registry: Registry;
  log: Logger;
  retry?: Partial<RetryOptions> | undefined;
}

export class Notifier implements NotificationSink {
  private readonly queue: DeliveryQueue;
  private readonly policy: OutboundPolicy;
  private readonly opts: NotifierOptions;

  constructor(opts: NotifierOptions) {
    this.opts = opts;
    this.queue = new DeliveryQueue(opts.log.child({ component: "notifications" }), opts.registry, opts.retry);
    this.policy = opts.outbound ?? outboundPolicy();
  }

  publish(notifications: Notification[]): void {
    for (const n of notifications) {
      for (const channel of this.opts.channels) {
        if (!wants(channel, n.event)) continue;
        if (n.channels && !n.channels.includes(channel.name)) continue;
        this.queue.publish({
          channel: channel.name,
          event: n.event,
          key: n.key,
          send: () => this.deliver(channel, n),
        });
      }
    }
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  stop(): Promise<void> {
    return this.queue.stop();
  }

  private async deliver(channel: Channel, n: Notification): Promise<void> {
    const url = channel.url ?? (await this.secretValue(channel, channel.urlSecret));
    const headers: Record<string, string> = {
      ...(channel.headersSecret ? await this.secretHeaders(channel.headersSecret) : {}),
      "content-type": "application/json",
      [IDEMPOTENCY_HEADER]: n.key,
      [EVENT_HEADER]: n.event,
    };
    const body = JSON.stringify(channel.format === "slack" ? slackPayload(n) : webhookPayload(n));
    const response = await send(url, { method: "POST", headers, body }, { policy: this.policy });
    if (response.status < 200 || response.status >= 300) {
      throw new Error(`${new URL(url).host} answered HTTP ${response.status}`);
    }
  }

  private async secret(name: string): Promise<Record<string, string>> {
    const secret = (await this.opts.kube.get({
      apiVersion: "v1",
      kind: "Secret",
      namespace: this.opts.namespace,
      name,
    })) as V1Secret;
    const decoded: Record<string, string> = {};
    for (const [k, v] of Object.entries(secret.data ?? {}))
      decoded[k] = Buffer.from(v, "base64").toString("utf8").trim();
    return decoded;
  }

  private async secretValue(
    channel: Channel,
    ref: { name: string; key: string } | undefined,
  ): Promise<string> {
    if (!ref) throw new Error(`channel ${channel.name} has no URL`);
    const value = (await this.secret(ref.name))[ref.key];
    if (!value) throw new Error(`Secret ${this.opts.namespace}/${ref.name} has no key ${ref.key}`);
    return value;
  }

  /** Every key of the Secret is a header name (lower case), its value the header's. */
  private async secretHeaders(name: string): Promise<Record<string, string>> {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(await this.secret(name))) {
      if (!/^[A-Za-z0-9-]+$/.test(k)) throw new Error(`Secret ${name}: key "${k}" is not a header name`);
      headers[k.toLowerCase()] = v;
    }
    return headers;
  }
}
