// The provider against a small local fake of Prometheus' query API: real
// HTTP, real sockets, real timeouts. A real Prometheus is the integration tier.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { outboundPolicy } from "../runtime/outbound.ts";
import { createPrometheusProvider } from "./prometheus.ts";

interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: URLSearchParams;
}

type Handler = (req: SeenRequest, res: ServerResponse) => void;

let server: Server;
let address: string;
let handler: Handler;
const seen: SeenRequest[] = [];

function reply(status: number, body: unknown): Handler {
  return (_req, res) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(typeof body === "string" ? body : JSON.stringify(body));
  };
}

const success = (resultType: string, result: unknown) =>
  reply(200, { status: "success", data: { resultType, result } });
const series = (labels: Record<string, string>, value: string) => ({
  metric: labels,
  value: [1700000000.123, value],
});

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const request: SeenRequest = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: new URLSearchParams(Buffer.concat(chunks).toString()),
      };
      seen.push(request);
      handler(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(() => {
  seen.length = 0;
  server.closeAllConnections();
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("Prometheus provider", () => {
  it("POSTs a form-encoded instant query to /api/v1/query", async () => {
    handler = success("vector", [series({}, "0.25")]);
    const query = 'sum(rate(x{revision="a b&c"}[60s]))';
    const result = await createPrometheusProvider({ address }).query(query);
    expect(result).toEqual({ kind: "value", value: 0.25 });
    expect(seen[0]?.method).toBe("POST");
    expect(seen[0]?.url).toBe("/api/v1/query");
    expect(seen[0]?.headers["content-type"]).toMatch(/^application\/x-www-form-urlencoded/);
    expect(seen[0]?.body.get("query")).toBe(query);
    expect(seen[0]?.headers.authorization).toBeUndefined();
  });

  it("keeps a path prefix of the address and drops a trailing slash", async () => {
    handler = success("scalar", [1700000000, "1"]);
    await createPrometheusProvider({ address: `${address}/prometheus/` }).query("vector(1)");
    expect(seen[0]?.url).toBe("/prometheus/api/v1/query");
  });

  it.each([
    [
      "a one-series vector",
      success("vector", [series({ revision: "a" }, "42")]),
      { kind: "value", value: 42 },
    ],
    ["a scalar", success("scalar", [1700000000, "3.5"]), { kind: "value", value: 3.5 }],
    [
      "a negative number in exponent form",
      success("scalar", [1, "-1.5e-3"]),
      { kind: "value", value: -0.0015 },
    ],
    ["an empty vector", success("vector", []), { kind: "noData", reason: "the query returned no series" }],
    [
      "NaN (0/0)",
      success("vector", [series({}, "NaN")]),
      { kind: "noData", reason: expect.stringContaining("NaN") },
    ],
    [
      "+Inf",
      success("vector", [series({}, "+Inf")]),
      { kind: "noData", reason: expect.stringContaining("+Inf") },
    ],
    [
      "-Inf scalar",
      success("scalar", [1, "-Inf"]),
      { kind: "noData", reason: expect.stringContaining("-Inf") },
    ],
    [
      "a range vector",
      success("matrix", [{ metric: {}, values: [[1, "1"]] }]),
      { kind: "error", message: expect.stringContaining("range vector") },
    ],
    [
      "a string",
      success("string", [1, "hello"]),
      { kind: "error", message: "query returned a string, not a number" },
    ],
  ])("reads %s", async (_name, response, expected) => {
    handler = response;
    expect(await createPrometheusProvider({ address }).query("q")).toEqual(expected);
  });

  it("refuses several series and says how to fix the query", async () => {
    handler = success("vector", [
      series({ __name__: "up", pod: "a" }, "1"),
      series({ __name__: "up", pod: "b" }, "1"),
      series({ pod: "c" }, "0"),
      series({ pod: "d" }, "0"),
    ]);
    const result = await createPrometheusProvider({ address }).query("up");
    expect(result).toEqual({
      kind: "error",
      message:
        'query returned 4 series (up{pod="a"}, up{pod="b"}, {pod="c"}, ...); aggregate it with sum() or another aggregation to one number',
    });
  });

  it("passes on Prometheus' own text for a PromQL error (HTTP 400)", async () => {
    handler = reply(400, {
      status: "error",
      errorType: "bad_data",
      error: 'invalid parameter "query": 1:5: parse error: unexpected end of input',
    });
    expect(await createPrometheusProvider({ address }).query("sum(")).toEqual({
      kind: "error",
      message:
        'Prometheus rejected the query (HTTP 400): bad_data: invalid parameter "query": 1:5: parse error: unexpected end of input',
    });
  });

  it("passes on an execution error (HTTP 422)", async () => {
    handler = reply(422, {
      status: "error",
      errorType: "execution",
      error: "query timed out in expression evaluation",
    });
    const result = await createPrometheusProvider({ address }).query("q");
    expect(result).toEqual({ kind: "error", message: expect.stringMatching(/HTTP 422.*query timed out/) });
  });

  it("reports an HTTP error that is not Prometheus talking, with an excerpt of the body", async () => {
    handler = (_req, res) => {
      res.writeHead(502, { "content-type": "text/html" });
      res.end(`<html>\n<body>Bad gateway ${"x".repeat(500)}</body></html>`);
    };
    const result = await createPrometheusProvider({ address }).query("q");
    expect(result.kind).toBe("error");
    const message = result.kind === "error" ? result.message : "";
    expect(message).toMatch(/^Prometheus answered HTTP 502 Bad Gateway: <html> <body>Bad gateway x+\.\.\.$/);
    expect(message.length).toBeLessThan(300);
  });

  it("reports a 200 that is not a query result", async () => {
    handler = reply(200, "not json");
    expect(await createPrometheusProvider({ address }).query("q")).toEqual({
      kind: "error",
      message: "Prometheus answered something that is not a query result: not json",
    });
  });

  it("reports a refused connection without throwing", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const result = await createPrometheusProvider({ address: `http://127.0.0.1:${port}` }).query("q");
    expect(result).toEqual({
      kind: "error",
      message: expect.stringMatching(
        new RegExp(`^Prometheus unreachable at http://127.0.0.1:${port}: .*ECONNREFUSED`),
      ),
    });
  });

  it("gives up after the timeout", async () => {
    handler = () => {}; // never answers
    const started = Date.now();
    const result = await createPrometheusProvider({ address, timeoutMs: 200 }).query("q");
    expect(result).toEqual({ kind: "error", message: `Prometheus at ${address} did not answer within 0.2s` });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("stops when the caller aborts", async () => {
    handler = () => {};
    const controller = new AbortController();
    const pending = createPrometheusProvider({ address }).query("q", { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect(await pending).toEqual({
      kind: "error",
      message: `query to Prometheus at ${address} was cancelled`,
    });
  });

  it("sends a bearer token", async () => {
    handler = success("scalar", [1, "1"]);
    await createPrometheusProvider({ address, auth: { kind: "bearer", token: "s3cret" } }).query("q");
    expect(seen[0]?.headers.authorization).toBe("Bearer s3cret");
  });

  it("sends basic auth", async () => {
    handler = success("scalar", [1, "1"]);
    await createPrometheusProvider({
      address,
      auth: { kind: "basic", username: "sre", password: "p:w" },
    }).query("q");
    expect(seen[0]?.headers.authorization).toBe(`Basic ${Buffer.from("sre:p:w").toString("base64")}`);
  });

  it("never puts credentials in an error message", async () => {
    handler = reply(401, "Unauthorized");
    const result = await createPrometheusProvider({
      address,
      auth: { kind: "bearer", token: "s3cret" },
    }).query("q");
    expect(result).toEqual({
      kind: "error",
      message: "Prometheus answered HTTP 401 Unauthorized: Unauthorized",
    });
  });
  it("evaluates a query as of a past time when asked", async () => {
    handler = success("vector", [series({}, "0.5")]);
    const provider = createPrometheusProvider({ address });
    await provider.query("vector(1)", { time: new Date(1_700_000_000_500) });
    await provider.query("vector(2)");
    const timeOf = (q: string) => seen.find((r) => r.body.get("query") === q)?.body.get("time");
    expect(timeOf("vector(1)")).toBe("1700000000.500");
    expect(timeOf("vector(2)")).toBeNull();
  });

  it("sends nothing to a fenced address (a DriftMonitor's own), and reads it once allowed", async () => {
    handler = success("scalar", [1, "1"]);
    const fenced = await createPrometheusProvider({ address, outbound: outboundPolicy() }).query("q");
    expect(fenced).toEqual({
      kind: "error",
      message: expect.stringMatching(
        /^Prometheus at .*: refused to send to 127\.0\.0\.1: it is a loopback address/,
      ),
    });
    expect(seen).toHaveLength(0);
    const allowed = createPrometheusProvider({ address, outbound: outboundPolicy({ allow: "127.0.0.1" }) });
    expect(await allowed.query("q")).toEqual({ kind: "value", value: 1 });
  });

  it("refuses an answer larger than the limit", async () => {
    handler = reply(200, "x".repeat(4096));
    const result = await createPrometheusProvider({ address, maxResponseBytes: 1024 }).query("q");
    expect(result).toEqual({ kind: "error", message: expect.stringContaining("larger than 1024 bytes") });
  });
});
