// Attacks on the proxy by its clients and by its model server, each against
// the real proxy on loopback: a hung model, clients that hang up, slowloris
// connections, and more concurrent or larger bodies than memory allows.
import { createServer } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { REVISION_HEADER } from "../api/contract.ts";
import type { RunningProxy } from "./test-servers.ts";
import { closeAll, closers, labels, post, proxy, sample, upstream, v2 } from "./test-servers.ts";

afterEach(closeAll);

const INFER = "/v2/models/iris/infer";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const requests = (p: RunningProxy, code: string) =>
  sample(p, "modelops_proxy_requests_total", `code="${code}"`);

/** Resolves with the milliseconds until the proxy closes the socket (or `giveUpMs`, as -1). */
function closedAfter(socket: Socket, giveUpMs: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(-1);
    }, giveUpMs);
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(performance.now() - t0);
    });
  });
}

/** A raw connection that sends `first` at once, then one byte of `rest` every `everyMs`. */
function trickle(p: RunningProxy, first: string, rest: string, everyMs: number): Socket {
  const socket = connect(p.port, "127.0.0.1");
  let i = 0;
  socket.on("connect", () => {
    socket.write(first);
    const timer = setInterval(() => {
      if (socket.destroyed || i >= rest.length) return clearInterval(timer);
      socket.write(rest.charAt(i++));
    }, everyMs);
    socket.on("close", () => clearInterval(timer));
  });
  return socket;
}

describe("modelops-proxy under attack", () => {
  it("answers 504 for a model server that does not answer in time, counted as a model error", async () => {
    const up = await upstream(() => ({ status: 200, body: labels(["a"]), delayMs: 5_000 }));
    const p = await proxy({ upstream: up, upstreamTimeoutMs: 200 });
    const t0 = performance.now();
    const res = await post(p, INFER, v2([1]));
    expect(res.status).toBe(504);
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(res.headers.get(REVISION_HEADER)).toBe("r1"); // a load generator sees which revision hung
    const health = await fetch(`http://127.0.0.1:${p.port}/v2/health/ready`);
    expect([health.status, health.headers.get(REVISION_HEADER)]).toEqual([504, "r1"]);
    expect(await requests(p, "5xx")).toBe(1);
    expect(await sample(p, "modelops_proxy_passthrough_requests_total", 'code="5xx"')).toBe(1);
    expect(await sample(p, "modelops_proxy_inflight_requests")).toBe(0);
  });

  it("cuts an answer the model server stalls in, counted as a model error, not as a hang-up", async () => {
    const stalling = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"outputs":['); // and nothing more
    });
    await new Promise<void>((r) => stalling.listen(0, "127.0.0.1", r));
    closers.push(
      () =>
        new Promise((r) => {
          stalling.close(() => r());
          stalling.closeAllConnections();
        }),
    );
    const p = await proxy({
      upstream: `http://127.0.0.1:${(stalling.address() as AddressInfo).port}`,
      upstreamTimeoutMs: 200,
    });
    const res = await post(p, INFER, v2([1]));
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
    await expect.poll(() => requests(p, "5xx")).toBe(1);
    expect(await requests(p, "499")).toBe(0);
  });

  it("counts a client that hangs up apart (499), neither as a model error nor as a client error", async () => {
    const up = await upstream(() => ({ status: 200, body: labels(["a"]), delayMs: 150 }));
    const p = await proxy({ upstream: up });
    await expect(post(p, INFER, v2([1]), AbortSignal.timeout(50))).rejects.toThrow();
    await expect.poll(() => requests(p, "499")).toBe(1);
    expect(await requests(p, "4xx")).toBe(0);
    expect(await requests(p, "5xx")).toBe(0);
    expect(await sample(p, "modelops_proxy_inflight_requests")).toBe(0);
    expect((await post(p, INFER, v2([1]))).status).toBe(200);
  });

  it("closes slowloris connections (slow headers, slow body) while normal requests still succeed", async () => {
    const up = await upstream(() => ({ status: 200, body: labels(["a"]) }));
    const p = await proxy({ upstream: up, headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const slowHeaders = Array.from({ length: 20 }, () =>
      trickle(p, `POST ${INFER} HTTP/1.1\r\nHost: x\r\n`, "X-Slow: ".padEnd(200, "a"), 50),
    );
    const slowBodies = Array.from({ length: 20 }, () =>
      trickle(p, `POST ${INFER} HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n`, "a".repeat(200), 50),
    );
    const closing = [...slowHeaders, ...slowBodies].map((s) => closedAfter(s, 3_000));
    for (let i = 0; i < 5; i++) {
      const res = await post(p, INFER, v2([1]));
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(labels(["a"]));
      await sleep(50);
    }
    const after = await Promise.all(closing);
    expect(after.every((ms) => ms >= 0 && ms < 2_000)).toBe(true);
    expect((await post(p, INFER, v2([1]))).status).toBe(200);
  });

  it("beyond maxParseInflight forwards without keeping copies, and answers every request exactly", async () => {
    const up = await upstream((_req, body) => ({ status: 200, body, delayMs: 200 }));
    const p = await proxy({ upstream: up, maxParseInflight: 2 });
    const bodies = Array.from({ length: 6 }, (_, i) => v2([i % 2]));
    const answers = await Promise.all(bodies.map((b) => post(p, INFER, b).then((r) => r.text())));
    expect(answers).toEqual(bodies);
    expect(await sample(p, "modelops_proxy_unparsed_payloads_total", 'part="request"')).toBe(4);
    expect(await sample(p, "modelops_proxy_buffered_bytes")).toBe(0);
  });

  it("keeps body copies within maxBufferedBytes across requests", async () => {
    const up = await upstream((_req, body) => ({ status: 200, body, delayMs: 200 }));
    const p = await proxy({ upstream: up, maxBufferedBytes: 4_000 });
    const body = v2(Array.from({ length: 300 }, () => 1.5)); // about 1.3 KB: 3 copies fit, not 4
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => post(p, INFER, body).then((r) => r.text())),
    );
    expect(answers.every((a) => a === body)).toBe(true);
    const unparsed = await sample(p, "modelops_proxy_unparsed_payloads_total", 'part="request"');
    expect(unparsed).toBeGreaterThanOrEqual(3);
    expect(await sample(p, "modelops_proxy_buffered_bytes")).toBe(0);
  });

  it("does not buffer a shadow's oversized answer, and survives one nested too deep to parse", async () => {
    const primary = await upstream(() => ({ status: 200, body: labels(["a"]) }));
    let answer = labels(Array.from({ length: 2_000 }, () => "a"));
    const shadow = await upstream(() => ({ status: 200, body: answer }));
    const p = await proxy({ upstream: primary, maxParseBytes: 4_096, shadow: { url: shadow, percent: 100 } });
    expect((await post(p, INFER, v2([1]))).status).toBe(200);
    await expect.poll(() => sample(p, "modelops_proxy_shadow_requests_total", 'result="sent"')).toBe(1);
    expect(await sample(p, "modelops_proxy_shadow_agreement_total", 'result="agree"')).toBe(0);
    expect(await sample(p, "modelops_proxy_shadow_agreement_total", 'result="disagree"')).toBe(0);
    answer = `{"outputs":[{"name":"p","shape":[1],"data":${"[".repeat(2_000)}1${"]".repeat(2_000)}}]}`;
    expect((await post(p, INFER, v2([1]))).status).toBe(200);
    await expect.poll(() => sample(p, "modelops_proxy_shadow_requests_total", 'result="sent"')).toBe(2);
    expect((await post(p, INFER, v2([1]))).status).toBe(200);
  });
});
