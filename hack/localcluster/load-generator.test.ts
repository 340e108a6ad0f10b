// The load generator against real HTTP servers on loopback: one that answers
// V2 (slowly, to show the loop is open), one that fails some requests, one
// that resets connections, one that never answers. Rates are checked by
// counting arrivals at the server over windows, with generous bounds.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { closeAll, proxy, sample } from "../../operator/proxy/test-servers.ts";
import {
  failureKinds,
  inferBody,
  irisRow,
  isV2Response,
  NO_REVISION,
  seededRandom,
  startLoad,
  summarize,
} from "./load-generator.ts";

const SIGNATURE = ["sepal_length", "sepal_width", "petal_length", "petal_width"].map((name) => ({
  name,
  type: "numeric" as const,
}));
const V2_ANSWER = JSON.stringify({
  model_name: "iris",
  outputs: [{ name: "predict", shape: [1, 1], datatype: "INT64", data: [1] }],
});

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of closers.splice(0)) await close();
  await closeAll();
});

/** A body shaped like the load generator's: one [1, 4] V2 tensor of numbers. */
function isIrisRequest(body: string): boolean {
  const input = (JSON.parse(body) as { inputs?: Array<{ shape?: number[]; data?: unknown[] }> }).inputs?.[0];
  return (
    JSON.stringify(input?.shape) === "[1,4]" &&
    input?.data?.length === 4 &&
    input.data.every((v) => typeof v === "number")
  );
}

interface TestServer {
  url: string;
  /** performance.now() of each request's arrival. */
  arrivals: number[];
  bodies: string[];
  connections: number;
}

/** A loopback server; `handle` gets the request's 1-based number and its body. */
async function serve(handle: (n: number, req: IncomingMessage, res: ServerResponse) => void) {
  const s: TestServer = { url: "", arrivals: [], bodies: [], connections: 0 };
  const server = createServer((req, res) => {
    s.arrivals.push(performance.now());
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      s.bodies.push(body);
      handle(s.arrivals.length, req, res);
    });
  });
  server.on("connection", () => s.connections++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return s;
}

function answer(res: ServerResponse, status: number, body: string, revision?: string) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (revision) headers["x-modelops-revision"] = revision;
  res.writeHead(status, headers).end(body);
}

/** Arrivals in consecutive windows of `ms` from the first arrival (the last, partial window dropped). */
function perWindow(arrivals: number[], ms: number): number[] {
  const first = arrivals[0] ?? 0;
  const counts: number[] = [];
  for (const t of arrivals) {
    const w = Math.floor((t - first) / ms);
    counts[w] = (counts[w] ?? 0) + 1;
  }
  return Array.from(counts.slice(0, -1), (c) => c ?? 0);
}

describe("rows and bodies", () => {
  it("draws the same iris-like rows for the same seed", () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const rows = Array.from({ length: 50 }, () => irisRow(a));
    expect(Array.from({ length: 50 }, () => irisRow(b))).toEqual(rows);
    expect(Array.from({ length: 50 }, () => irisRow(seededRandom(8)))).not.toEqual(rows);
  });

  it("samples the three species around the iris means, and shift moves one feature", () => {
    const rand = seededRandom(1);
    const rows = Array.from({ length: 3000 }, () => irisRow(rand));
    const mean = (i: number, rs: number[][]) => rs.reduce((a, r) => a + (r[i] as number), 0) / rs.length;
    // Means of the whole data set: 5.843, 3.057, 3.758, 1.199.
    [5.843, 3.057, 3.758, 1.199].forEach((m, i) => {
      expect(mean(i, rows)).toBeCloseTo(m, 1);
    });
    expect(rows.every((r) => r.length === 4 && r.every((v) => v >= 0.1 && v < 9))).toBe(true);
    const shifted = Array.from({ length: 3000 }, () => irisRow(rand, [0, 0, 2, 0]));
    expect(mean(2, shifted) - mean(2, rows)).toBeCloseTo(2, 0);
    expect(mean(0, shifted)).toBeCloseTo(5.843, 1);
  });

  it("makes requests the proxy names by the signature and histograms", async () => {
    const server = await serve((_n, _req, res) => answer(res, 200, V2_ANSWER));
    const reference = SIGNATURE.map((f) => ({ ...f, edges: [0, 2, 4, 8] }));
    const p = await proxy({
      upstream: server.url,
      signature: { inputs: SIGNATURE, outputs: [] },
      reference: { features: reference, predictions: [] },
    });
    const res = await fetch(`http://127.0.0.1:${p.port}/v2/models/iris/infer`, {
      method: "POST",
      body: inferBody([5.1, 3.5, 1.4, 0.2]),
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(200);
    const count = (feature: string) =>
      sample(p, "modelops_proxy_feature_value_count", `feature="${feature}"`);
    await expect.poll(() => count("petal_width")).toBe(1);
    expect(await sample(p, "modelops_proxy_feature_value_bucket", 'feature="sepal_length",le="4"')).toBe(0);
    expect(await sample(p, "modelops_proxy_feature_value_bucket", 'feature="sepal_length",le="+Inf"')).toBe(
      1,
    );
    expect(await sample(p, "modelops_proxy_feature_value_bucket", 'feature="petal_width",le="2"')).toBe(1);
    expect(await sample(p, "modelops_proxy_unparsed_payloads_total", 'part="request"')).toBe(0);
  });

  it("accepts only V2 responses with outputs", () => {
    expect(isV2Response(V2_ANSWER)).toBe(true);
    expect(isV2Response('{"outputs":[]}')).toBe(false);
    expect(isV2Response('{"predictions":[1]}')).toBe(false);
    expect(isV2Response("<html>")).toBe(false);
    expect(isV2Response("null")).toBe(false);
  });

  it("summarizes records: failures, revisions, nearest-rank latency", () => {
    const ok = (durationMs: number, revision?: string) => ({
      at: 1,
      ok: true,
      status: 200,
      durationMs,
      revision,
    });
    const s = summarize([
      ...Array.from({ length: 98 }, (_, i) => ok(i + 1, "a")),
      ok(500),
      ok(1000, "b"),
      { at: 5, ok: false, status: 503, durationMs: 3 },
      { at: 6, ok: false, error: "ECONNRESET", durationMs: 1 },
      { at: 7, ok: false },
    ]);
    expect(s).toMatchObject({ sent: 103, ok: 100, failed: 2, inFlight: 1 });
    expect(s.byRevision).toEqual({ a: 98, b: 1, [NO_REVISION]: 1 });
    expect(s.latencyMs).toEqual({ p50: 50, p99: 500 });
    expect(failureKinds(s.failures)).toBe("503 1, ECONNRESET 1");
    expect(summarize([]).latencyMs).toBeUndefined();
  });
});

describe.concurrent("against loopback servers", () => {
  it("holds the rate against a slow server (open loop) and counts answers by revision", async () => {
    const server = await serve((_n, _req, res) => {
      setTimeout(() => answer(res, 200, V2_ANSWER, "rev-a"), 200);
    });
    const lines: string[] = [];
    const load = startLoad({
      url: server.url,
      ratePerSecond: 40,
      seed: 3,
      log: (l) => lines.push(l),
      progressEveryMs: 500,
    });
    await sleep(2000);
    const s = await load.stop();
    // 40/s for 2 s: 81 by the schedule; a closed loop would manage 10.
    expect(s.sent).toBeGreaterThanOrEqual(72);
    expect(s.sent).toBeLessThanOrEqual(84);
    expect(s).toMatchObject({ ok: s.sent, failed: 0, inFlight: 0, byRevision: { "rev-a": s.sent } });
    expect(server.arrivals.length).toBe(s.sent);
    // Steady: every quarter second brings about 10 requests.
    const windows = perWindow(server.arrivals, 250);
    expect(windows.length).toBeGreaterThanOrEqual(7);
    expect(Math.min(...windows)).toBeGreaterThanOrEqual(6);
    expect(Math.max(...windows)).toBeLessThanOrEqual(14);
    expect(s.latencyMs?.p50).toBeGreaterThanOrEqual(195);
    expect(s.latencyMs?.p99).toBeLessThan(1000);
    // Keep-alive: connections are reused, about as many as requests in flight (8).
    expect(server.connections).toBeLessThanOrEqual(20);
    expect(server.bodies.every(isIrisRequest)).toBe(true);
    expect(lines.some((l) => /^load: sent \d+ ok \d+ failed 0, in flight \d+, [\d.]+\/s$/.test(l))).toBe(
      true,
    );
  });

  it("without keep-alive opens a connection per request", async () => {
    const server = await serve((_n, _req, res) => answer(res, 200, V2_ANSWER));
    const load = startLoad({ url: server.url, ratePerSecond: 50, keepAlive: false });
    await sleep(500);
    const s = await load.stop();
    expect(s.ok).toBe(s.sent);
    expect(server.connections).toBe(s.sent);
    expect(s.byRevision).toEqual({ [NO_REVISION]: s.sent });
  });

  it("counts 500s and invalid answers as failures, with their time and revision", async () => {
    const server = await serve((n, _req, res) => {
      if (n % 4 === 0) answer(res, 500, '{"error":"boom"}', "rev-b");
      else if (n % 5 === 0) answer(res, 200, "{}", "rev-b");
      else answer(res, 200, V2_ANSWER, "rev-b");
    });
    const before = Date.now();
    const load = startLoad({ url: server.url, ratePerSecond: 50 });
    await sleep(1000);
    const s = await load.stop();
    const n = s.sent;
    const fives = Math.floor(n / 4);
    const invalid = Math.floor(n / 5) - Math.floor(n / 20);
    expect(s.failed).toBe(fives + invalid);
    expect(s.ok).toBe(n - fives - invalid);
    expect(s.failures.filter((f) => f.status === 500 && f.error === undefined)).toHaveLength(fives);
    expect(s.failures.filter((f) => f.status === 200 && f.error === "invalid-response")).toHaveLength(
      invalid,
    );
    expect(s.failures.every((f) => f.revision === "rev-b" && f.at >= before && f.at <= Date.now())).toBe(
      true,
    );
    expect(load.failuresBetween(before, Date.now())).toEqual(s.failures);
    expect(load.failuresBetween(Date.now() + 1, Date.now() + 1000)).toEqual([]);
  });

  it("records connection resets and refused connections by their error code", async () => {
    const resetting = await serve((_n, req) => req.socket.destroy());
    const closed = await serve(() => {});
    const refusedUrl = closed.url;
    await closers.pop()?.();
    const a = startLoad({ url: resetting.url, ratePerSecond: 40 });
    const b = startLoad({ url: refusedUrl, ratePerSecond: 40 });
    await sleep(500);
    const [ra, rb] = await Promise.all([a.stop(), b.stop()]);
    expect(ra.sent).toBeGreaterThanOrEqual(15);
    expect(ra).toMatchObject({ ok: 0, failed: ra.sent });
    expect(ra.failures.every((f) => f.error === "ECONNRESET")).toBe(true);
    expect(rb).toMatchObject({ ok: 0, failed: rb.sent });
    expect(rb.failures.every((f) => f.error === "ECONNREFUSED")).toBe(true);
  });

  it("times out requests that get no answer, skips sends beyond maxInFlight, and stop waits", async () => {
    const server = await serve(() => {});
    const load = startLoad({ url: server.url, ratePerSecond: 20, timeoutMs: 300 });
    const capped = startLoad({ url: server.url, ratePerSecond: 20, timeoutMs: 300, maxInFlight: 2 });
    await sleep(1000);
    expect(load.snapshot().inFlight).toBeGreaterThan(0);
    const stopAt = performance.now();
    const [s, c] = await Promise.all([load.stop(), capped.stop()]);
    expect(performance.now() - stopAt).toBeLessThan(600);
    expect(s.sent).toBeGreaterThanOrEqual(18);
    expect(s).toMatchObject({ ok: 0, failed: s.sent, inFlight: 0 });
    expect(s.failures.every((f) => f.error === "timeout" && f.status === undefined)).toBe(true);
    // 20/s with 300 ms each is 6 in flight; with 2 allowed about two thirds are skipped.
    const kinds = Object.groupBy(c.failures, (f) => f.error ?? "");
    expect(c.failed).toBe(c.sent);
    expect(kinds.timeout?.length).toBeGreaterThanOrEqual(4);
    expect(kinds.overloaded?.length).toBeGreaterThan(c.sent / 2);
  });
});
