// How long the proxy's connections live, as a client sees it, against the
// real proxy on loopback: keep-alive client connections recycled after
// maxConnectionAgeMs, the drain after SIGTERM (every answer closes
// its connection, new connections still served, in-flight requests
// finished), and idle connections to the model server closed by the proxy
// before the model server closes them (no 502 from that race).
import { Agent, createServer, request } from "node:http";
import type { Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { RunningProxy } from "./test-servers.ts";
import { closeAll, closers, labels, post, proxy, serveOnLoopback, upstream, v2 } from "./test-servers.ts";

afterEach(closeAll);

const INFER = "/v2/models/iris/infer";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A client's keep-alive connection pool, destroyed after the test. */
function keepAlive(maxSockets = 1): Agent {
  const agent = new Agent({ keepAlive: true, maxSockets });
  closers.push(async () => agent.destroy());
  return agent;
}

interface Answer {
  status: number;
  body: string;
  /** The answer's Connection header: "keep-alive" or "close". */
  connection: string | undefined;
  /** Which client socket carried it (numbered in the order they were first used). */
  socket: number;
  /** performance.now() when the socket connected, the request was sent and the answer ended. */
  connectedAt: number;
  sentAt: number;
  doneAt: number;
}

const socketIds = new WeakMap<Socket, { id: number; connectedAt: number }>();
let socketCount = 0;

/** One inference call through `agent`, telling which socket carried it. */
function send(
  p: Pick<RunningProxy, "port">,
  agent: Agent,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const sentAt = performance.now();
    const req = request(
      {
        host: "127.0.0.1",
        port: p.port,
        method: "POST",
        path: INFER,
        agent,
        headers: { "content-type": "application/json", ...headers },
      },
      (res) => {
        const seen = socketIds.get(res.socket);
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("error", reject);
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            connection: res.headers.connection,
            socket: seen?.id ?? -1,
            connectedAt: seen?.connectedAt ?? Number.NaN,
            sentAt,
            doneAt: performance.now(),
          }),
        );
      },
    );
    req.on("socket", (s: Socket) => {
      if (socketIds.has(s)) return;
      const seen = { id: ++socketCount, connectedAt: performance.now() };
      socketIds.set(s, seen);
      s.once("connect", () => {
        seen.connectedAt = performance.now();
      });
    });
    req.on("error", reject);
    req.end(v2([1]));
  });
}

/** A stand-in model server answering after the request's x-delay milliseconds. */
const delaying = () =>
  upstream((req) => ({ status: 200, body: labels(["a"]), delayMs: Number(req.headers["x-delay"] ?? 0) }));

describe("modelops-proxy connection lifetimes", () => {
  it("asks a keep-alive client to reconnect once its connection is older than maxConnectionAgeMs, losing no request", async () => {
    const p = await proxy({ upstream: await delaying(), maxConnectionAgeMs: 300 });
    const agent = keepAlive(1);
    const answers: Answer[] = [];
    const t0 = performance.now();
    while (performance.now() - t0 < 1_100) {
      answers.push(await send(p, agent));
      await sleep(40);
    }
    expect(answers.every((a) => a.status === 200 && a.body === labels(["a"]))).toBe(true);
    // One socket after the other, never back to an old one.
    const sockets = [...new Set(answers.map((a) => a.socket))];
    expect(answers.map((a) => a.socket)).toEqual([...answers.map((a) => a.socket)].sort((a, b) => a - b));
    expect(sockets.length).toBeGreaterThanOrEqual(3);
    for (const s of sockets.slice(0, -1)) {
      const on = answers.filter((a) => a.socket === s);
      const young = on.slice(0, -1);
      const last = on.at(-1) as Answer;
      // While young, answers keep the connection open...
      expect(young.length).toBeGreaterThanOrEqual(3);
      expect(young.map((a) => a.connection)).toEqual(young.map(() => "keep-alive"));
      expect(young.every((a) => a.sentAt - a.connectedAt < 400)).toBe(true);
      // ...and the first answer after maxConnectionAgeMs closes it: the next request reconnects.
      expect(last.connection).toBe("close");
      expect(last.doneAt - last.connectedAt).toBeGreaterThanOrEqual(300);
    }
  });

  it("after SIGTERM: answers close their connections, new ones are served for drainMs, then refused while the request in flight is answered", async () => {
    const p = await proxy({ upstream: await delaying(), drainMs: 300 });
    const agent = keepAlive(1);
    const before = [await send(p, agent), await send(p, agent)];
    expect(before.map((a) => [a.status, a.connection, a.socket])).toEqual([
      [200, "keep-alive", before[0]?.socket],
      [200, "keep-alive", before[0]?.socket],
    ]);

    process.kill(p.pid, "SIGTERM");
    await sleep(50); // the signal reaches the proxy
    // The open keep-alive connection gets its answer, and is closed after it.
    const onOpen = await send(p, agent);
    expect([onOpen.status, onOpen.connection, onOpen.socket]).toEqual([200, "close", before[0]?.socket]);
    // New connections (kube-proxies may still send some) are accepted and served, each closed after its answer.
    const fresh = await Promise.all(Array.from({ length: 5 }, () => send(p, keepAlive(1))));
    expect(fresh.map((a) => [a.status, a.connection])).toEqual(fresh.map(() => [200, "close"]));
    expect(new Set([onOpen, ...fresh].map((a) => a.socket)).size).toBe(6);

    // Once drainMs is over the proxy stops accepting, and waits for the request in flight.
    const slow = send(p, keepAlive(1), { "x-delay": "600" });
    await sleep(400);
    await expect(send(p, keepAlive(1))).rejects.toThrow(/ECONNREFUSED/);
    expect(p.alive()).toBe(true);
    const answer = await slow;
    expect([answer.status, answer.connection, answer.body]).toEqual([200, "close", labels(["a"])]);
    expect(await p.exited).toBe(0);
  });

  it("exits once the request in flight at SIGTERM is answered, not after the keep-alive timeout", async () => {
    const p = await proxy({ upstream: await delaying(), drainMs: 0 });
    const slow = send(p, keepAlive(1), { "x-delay": "300" });
    await sleep(100);
    const t0 = performance.now();
    process.kill(p.pid, "SIGTERM");
    expect(await p.exited).toBe(0);
    // Not the keep-alive timeout (65 s): the connection closes once its answer is out.
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect((await slow).status).toBe(200);
  });

  it("after SIGTERM serves drainMs more with Connection: close, finishes in-flight requests, then exits 0", async () => {
    const child = await proxy({ upstream: await delaying(), drainMs: 500 });
    const agent = keepAlive(1);
    const warm = await send(child, agent);
    expect([warm.status, warm.connection]).toEqual([200, "keep-alive"]);

    const t0 = performance.now();
    process.kill(child.pid, "SIGTERM");
    const exit = child.exited.then((code) => ({ code, ms: performance.now() - t0 }));
    await sleep(50); // the signal reaches the proxy's event loop
    // On the client's open keep-alive connection and on a new one: answered, then closed.
    const onOpen = await send(child, agent);
    expect([onOpen.status, onOpen.connection, onOpen.socket]).toEqual([200, "close", warm.socket]);
    const fresh = await send(child, keepAlive(1));
    expect([fresh.status, fresh.connection, fresh.body]).toEqual([200, "close", labels(["a"])]);
    expect(child.alive()).toBe(true);

    // Sent before drainMs ends, answered after it: finished before the process exits.
    await sleep(350 - (performance.now() - t0));
    const slow = await send(child, keepAlive(1), { "x-delay": "400" });
    expect([slow.status, slow.connection]).toEqual([200, "close"]);
    const { code, ms } = await exit;
    expect(code).toBe(0);
    expect(ms).toBeGreaterThanOrEqual(700);
    expect(ms).toBeLessThan(2_500);
  });

  it("closes idle model-server connections before the model server does: no 502 at the racy spacing", async () => {
    // Like uvicorn: closes a connection idle for 300 ms and announces no keep-alive timeout
    // (an explicit Connection header suppresses Node's Keep-Alive hint, which Node clients obey).
    let connections = 0;
    let closedByProxy = 0;
    const model = createServer({ keepAliveTimeout: 300, keepAliveTimeoutBuffer: 0 }, (req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json", connection: "keep-alive" });
        res.end(labels(["a"]));
      });
    });
    model.on("connection", (socket: Socket) => {
      connections++;
      socket.on("end", () => closedByProxy++);
    });
    // With upstreamIdleTimeoutMs above 300 ms (e.g. 5000), 0 to 2 of these 10 requests got a 502 (10 in 80 over 8 runs).
    const p = await proxy({ upstream: await serveOnLoopback(model), upstreamIdleTimeoutMs: 100 });
    const statuses: number[] = [];
    const t0 = performance.now();
    for (let i = 0; performance.now() - t0 < 3_000; i++) {
      const res = await post(p, INFER, v2([1]));
      await res.arrayBuffer();
      statuses.push(res.status);
      await sleep(295 + ((i * 7) % 11)); // 295..305 ms idle: the model server closes at 300
    }
    expect(statuses.length).toBeGreaterThanOrEqual(8);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // Each request found its connection closed by the proxy already, and opened a new one.
    expect(connections).toBe(statuses.length);
    expect(closedByProxy).toBe(connections);
  });

  it("sends a request again, once, on a new connection when a kept-alive model connection is found closed", async () => {
    // A model server that drops every kept-alive connection the moment its second request arrives.
    let dropped = 0;
    const served = new WeakMap<Socket, number>();
    const model = createServer((req, res) => {
      const n = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, n);
      if (n > 1) {
        dropped++;
        req.socket.destroy();
        return;
      }
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json", connection: "keep-alive" });
        res.end(labels(["a"]));
      });
    });
    const p = await proxy({ upstream: await serveOnLoopback(model), upstreamIdleTimeoutMs: 60_000 });
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await post(p, INFER, v2([1]));
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    // Every reuse of a kept-alive connection was lost, and every request still got its answer.
    expect(dropped).toBeGreaterThanOrEqual(5);
    expect(statuses).toEqual(Array(10).fill(200));
  });
});
