// The sending shell against a real HTTP receiver on loopback. Secrets are
// read through the apiserver; e2e/notifications.test.ts covers them, these
// channels name their URL directly.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../runtime/logger.ts";
import { createRegistry, metricValue } from "../runtime/metrics.ts";
import { outboundPolicy } from "../runtime/outbound.ts";
import type { Channel } from "./config.ts";
import { DELIVERIES_METRIC } from "./delivery.ts";
import { Notifier } from "./notifier.ts";
import type { Notification } from "./transitions.ts";

type Received = { path: string; headers: IncomingHttpHeaders; body: unknown };
let server: Server;
let base = "";
let received: Received[] = [];
/** How the receiver answers the next requests, in order; then 200. */
let answers: number[] = [];
/** Requests that arrived, answered or not. */
let arrived = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      arrived++;
      const status = answers.shift() ?? 200;
      if (status === 0) return; // never answers
      received.push({
        path: req.url ?? "",
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString()),
      });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const notifiers: Notifier[] = [];
afterEach(async () => {
  await Promise.all(notifiers.splice(0).map((n) => n.stop()));
  received = [];
  answers = [];
  arrived = 0;
});

const channel = (
  name: string,
  format: Channel["format"],
  events: Channel["events"] = new Set(),
): Channel => ({
  name,
  format,
  url: `${base}/${name}`,
  events,
});

function notifier(
  channels: Channel[],
  opts: { allowLoopback?: boolean; attempts?: number; capacity?: number; delayMs?: number } = {},
) {
  const registry = createRegistry({ defaultMetrics: false });
  const n = new Notifier({
    channels,
    namespace: "modelops-system",
    // Not called: these channels name their URL, no Secret.
    kube: undefined as never,
    outbound: outboundPolicy(opts.allowLoopback === false ? {} : { allow: "127.0.0.1" }),
    registry,
    log: createLogger({ level: "silent" }),
    retry: {
      initialDelayMs: opts.delayMs ?? 20,
      maxDelayMs: opts.delayMs ?? 50,
      attempts: opts.attempts ?? 4,
      capacity: opts.capacity ?? 10,
    },
  });
  notifiers.push(n);
  const count = (channelName: string, result: string) =>
    metricValue(registry, DELIVERIES_METRIC, { channel: channelName, result });
  return { n, count };
}

const promoted: Notification = {
  event: "Promoted",
  key: "ml/iris/Promoted/2026-01-01T00:10:00Z/rev2",
  kind: "ModelDeployment",
  namespace: "ml",
  name: "iris",
  modelDeployment: "iris",
  version: "iris-v2",
  previousVersion: "iris-v1",
  reason: "promoted over iris-v1",
  time: "2026-01-01T00:10:00Z",
};

describe("Notifier", () => {
  it("posts the webhook document and the Slack message, each with the key as idempotency-key", async () => {
    const { n, count } = notifier([channel("ops", "webhook"), channel("chat", "slack")]);
    n.publish([promoted]);
    await n.idle();
    const byPath = Object.fromEntries(received.map((r) => [r.path, r]));
    expect(byPath["/ops"]?.body).toMatchObject({
      kind: "ModelDeployment",
      event: "Promoted",
      key: promoted.key,
    });
    expect(byPath["/chat"]?.body).toMatchObject({
      text: expect.stringContaining("iris-v2 promoted over iris-v1"),
    });
    for (const r of received) {
      expect(r.headers["idempotency-key"]).toBe(promoted.key);
      expect(r.headers["x-modelops-event"]).toBe("Promoted");
      expect(r.headers["content-type"]).toBe("application/json");
    }
    expect(await count("ops", "sent")).toBe(1);
    expect(await count("chat", "sent")).toBe(1);
  });

  it("sends one message per key, however often a reconcile hands it over", async () => {
    const { n } = notifier([channel("ops", "webhook")]);
    n.publish([promoted]);
    n.publish([promoted, { ...promoted }]);
    await n.idle();
    n.publish([promoted]);
    await n.idle();
    expect(received).toHaveLength(1);
  });

  it("retries a failing receiver with backoff until it answers 2xx", async () => {
    const { n, count } = notifier([channel("ops", "webhook")]);
    answers = [503, 500];
    n.publish([promoted]);
    await n.idle();
    expect(received.map((r) => r.path)).toEqual(["/ops", "/ops", "/ops"]);
    expect(await count("ops", "retried")).toBe(2);
    expect(await count("ops", "sent")).toBe(1);
  });

  it("gives up after the last attempt and counts it as failed", async () => {
    const { n, count } = notifier([channel("ops", "webhook")], { attempts: 3 });
    answers = [500, 500, 500, 500];
    n.publish([promoted]);
    await n.idle();
    expect(received).toHaveLength(3);
    expect(await count("ops", "retried")).toBe(2);
    expect(await count("ops", "failed")).toBe(1);
    expect(await count("ops", "sent")).toBeUndefined();
  });

  it("is fenced: loopback is refused without --outbound-allow, and nothing reaches it", async () => {
    const { n, count } = notifier([channel("ops", "webhook")], { allowLoopback: false, attempts: 2 });
    n.publish([promoted]);
    await n.idle();
    expect(received).toEqual([]);
    expect(await count("ops", "failed")).toBe(1);
  });

  it("goes only to channels that want the event and that the annotation names", async () => {
    const { n } = notifier([
      channel("ops", "webhook"),
      channel("audit", "webhook", new Set(["RolledBack"])),
      channel("chat", "slack"),
    ]);
    n.publish([{ ...promoted, key: "a" }]);
    n.publish([{ ...promoted, key: "b", channels: ["chat"] }]);
    n.publish([{ ...promoted, key: "c", channels: [] }]);
    await n.idle();
    expect(received.map((r) => `${r.path} ${(r.headers["idempotency-key"] as string) ?? ""}`).sort()).toEqual(
      ["/chat a", "/chat b", "/ops a"],
    );
  });

  it("drops what exceeds its capacity instead of waiting, and counts it", async () => {
    const { n, count } = notifier([channel("ops", "webhook")], { capacity: 1, attempts: 1 });
    answers = [0]; // the first request hangs
    n.publish([{ ...promoted, key: "a" }]);
    n.publish([{ ...promoted, key: "b" }]);
    expect(await count("ops", "dropped")).toBe(1);
    await expect.poll(() => arrived).toBe(1);
    server.closeAllConnections(); // the hanging attempt fails
    await n.idle();
    expect(received).toEqual([]);
  });

  it("stop() ends retries that wait", async () => {
    const { n, count } = notifier([channel("ops", "webhook")], { attempts: 5, delayMs: 60_000 });
    answers = [500];
    n.publish([promoted]);
    await expect.poll(() => count("ops", "retried")).toBe(1);
    await n.stop();
    expect(received).toHaveLength(1);
  });
});
