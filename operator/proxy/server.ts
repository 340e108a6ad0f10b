// The serving side of the proxy: every request is forwarded to the model
// server on the pod's loopback over keep-alive connections. Inference calls
// (V2 infer, V1 predict) are streamed through while a copy of each body is
// kept, and parsed only after the client has its response, so histograms
// and shadow comparison add no latency to the answer. Everything else
// (health, metadata, unknown paths) is piped untouched and counted.
import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from "node:http";
import type { Socket } from "node:net";
import {
  canaryServiceName,
  clientServiceName,
  previewServiceName,
  REVISION_HEADER,
  stableServiceName,
} from "../api/contract.ts";
import { CLIENT_CLOSED_CODE } from "../api/metric-names.ts";
import { BodyCopy, type ByteBudget } from "./budget.ts";
import { MIRROR_PATH, type ProxyConfig } from "./config.ts";
import { codeClass, type ProxyMetrics } from "./metrics.ts";
import { type InferenceRoute, inferenceRoute, type Parsed, parseRequest, parseResponse } from "./payload.ts";
import { isMirroredCopy, type ShadowMirror } from "./shadow.ts";

/** Hop-by-hop headers (RFC 9110 7.6.1): they describe one connection, not the message. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

function endToEndHeaders(headers: IncomingMessage["headers"]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

/** The model server's response headers for the client: end-to-end only, and the revision header is ours. */
function responseHeaders(headers: IncomingMessage["headers"]): Record<string, string | string[]> {
  const out = endToEndHeaders(headers);
  delete out[REVISION_HEADER];
  return out;
}

export interface ProxyDeps {
  config: ProxyConfig;
  metrics: ProxyMetrics;
  /** Shared with the shadow mirror: every body copy the proxy keeps is drawn from it. */
  budget: ByteBudget;
  shadow?: ShadowMirror;
  /** Errors only, never payloads. */
  logError: (msg: string, err: unknown) => void;
}

/** A shadow revision's proxy tells the stable proxies the share it asks for; others have none. */
function answerMirror(config: ProxyConfig, res: ServerResponse): void {
  const percent = config.mirrorPercent;
  res.writeHead(percent === undefined ? 404 : 200, { "content-type": "application/json" });
  res.end(JSON.stringify(percent === undefined ? { error: "not a shadow revision" } : { percent }));
}

/** Why the model server gave no (complete) answer: it timed out (504) or failed (502). */
class UpstreamTimeout extends Error {
  constructor(ms: number) {
    super(`model server silent for ${ms} ms`);
  }
}

function upstreamStatus(err: unknown): number {
  return err instanceof UpstreamTimeout ? 504 : 502;
}

/** Answers a failed upstream call; a response already under way can only be cut. */
function badGateway(res: ServerResponse, err: unknown): void {
  if (res.destroyed || res.writableEnded) return;
  if (!res.headersSent) {
    const status = upstreamStatus(err);
    res.writeHead(status, { "content-type": "text/plain" });
    const what = status === 504 ? "did not answer in time" : "unreachable";
    res.end(`modelops-proxy: model server ${what}: ${(err as Error).message}\n`);
  } else {
    res.destroy();
  }
}

/** What every request shares: the model server, the byte budget and the in-flight parse cap. */
interface Shared {
  deps: ProxyDeps;
  forward: Forward;
  budget: ByteBudget;
  parsing: { count: number };
}

export interface ProxyServer {
  server: Server;
  /** From now on every answer closes its connection, so clients reconnect elsewhere. */
  drain(): void;
  /** Stops accepting, closes idle connections and resolves when in-flight requests are done. */
  close(): Promise<void>;
}

export function createProxyServer(deps: ProxyDeps): ProxyServer {
  const { config } = deps;
  const upstream = new URL(config.upstream);
  // An idle connection to the model server is closed by the proxy before the
  // server closes it (uvicorn after 5 s, gunicorn after 2 s): a request sent
  // on a connection the server is closing at that moment is lost (a 502).
  const agent = new Agent({
    keepAlive: true,
    maxSockets: 256,
    maxFreeSockets: 64,
    timeout: config.upstreamIdleTimeoutMs,
  });
  const forward: Forward = (req, freshConnection = false) => {
    const up = request({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: endToEndHeaders(req.headers),
      agent: freshConnection ? false : agent,
      // Socket inactivity: covers both a model that never answers and one
      // that stalls mid-answer, without limiting a slow upload still sending.
      timeout: config.upstreamTimeoutMs,
    });
    up.on("timeout", () => up.destroy(new UpstreamTimeout(config.upstreamTimeoutMs)));
    return up;
  };
  const shared: Shared = {
    deps,
    forward,
    budget: deps.budget,
    parsing: { count: 0 },
  };

  const name = config.deployment;
  const ownNames = new Set(
    [clientServiceName, stableServiceName, canaryServiceName, previewServiceName].map((f) => f(name)),
  );
  // Slowloris: a client must send its headers within headersTimeoutMs and its
  // whole request within requestTimeoutMs, or Node closes the connection
  // (408). Node checks only every connectionsCheckingInterval (30 s by
  // default), so check often enough for the timeouts to mean what they say.
  const headersTimeout = Math.min(config.headersTimeoutMs, config.requestTimeoutMs);
  const connectedAt = new WeakMap<Socket, number>();
  let draining = false;
  let closing = false;
  const server = createServer(
    {
      headersTimeout,
      requestTimeout: config.requestTimeoutMs,
      keepAliveTimeout: config.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, headersTimeout / 4)),
    },
    (req, res) => {
      if (draining || Date.now() - (connectedAt.get(req.socket) ?? 0) > config.maxConnectionAgeMs) {
        res.setHeader("connection", "close");
      }
      // A request received before drain() may have been answered keep-alive:
      // once closing, its connection is closed as soon as it is idle.
      res.on("close", () => {
        if (closing) setImmediate(() => server.closeIdleConnections());
      });
      const mirroredCopy = isMirroredCopy(req.headers, ownNames);
      // Which revision answered, on every answer (the model's, its errors, our 502/504, the mirror
      // share): writeHead merges it in. Not on a mirrored copy's: only the mirroring proxy or Envoy
      // reads that, and discards it.
      if (!mirroredCopy) res.setHeader(REVISION_HEADER, config.revision);
      if (req.method === "GET" && req.url === MIRROR_PATH) return answerMirror(config, res);
      // A client that resets its connection makes req emit "error"; its close is handled below.
      req.on("error", () => {});
      const route = inferenceRoute(req.method, req.url);
      if (route) infer(shared, req, res, route, mirroredCopy);
      else passthrough(deps, forward, req, res);
    },
  );
  server.on("connection", (socket: Socket) => connectedAt.set(socket, Date.now()));
  return {
    server,
    drain: () => {
      draining = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        draining = true;
        // The model server's connections go once the in-flight requests using them are done.
        server.close(() => {
          agent.destroy();
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}

type Forward = (req: IncomingMessage, freshConnection?: boolean) => ReturnType<typeof request>;

/**
 * A kept-alive connection the model server closed just as the request went
 * out: the server never saw the request, so it is safe to send again, once,
 * on a new connection (what Node's documentation advises for reusedSocket).
 */
function lostOnReusedConnection(up: ReturnType<typeof request>, err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return up.reusedSocket && (code === "ECONNRESET" || code === "EPIPE");
}

function passthrough(deps: ProxyDeps, forward: Forward, req: IncomingMessage, res: ServerResponse): void {
  const up = forward(req);
  up.on("response", (upRes) => {
    deps.metrics.passthrough[codeClass(upRes.statusCode ?? 0)].inc();
    res.writeHead(upRes.statusCode ?? 502, responseHeaders(upRes.headers));
    upRes.on("error", () => res.destroy());
    upRes.pipe(res);
  });
  up.on("error", (err) => {
    if (!res.headersSent && !res.destroyed) deps.metrics.passthrough["5xx"].inc();
    badGateway(res, err);
  });
  // The client left: stop asking the model server on its behalf.
  res.on("close", () => {
    if (!res.writableFinished) up.destroy();
  });
  req.pipe(up);
}

function infer(
  shared: Shared,
  req: IncomingMessage,
  res: ServerResponse,
  route: InferenceRoute,
  mirroredCopy: boolean,
): void {
  const { deps, budget, parsing } = shared;
  const { metrics, config } = deps;
  const start = performance.now();
  metrics.inflight.inc();
  if (mirroredCopy) metrics.mirroredInflight.inc();
  // Beyond maxParseInflight requests are only forwarded: no copies, so the
  // memory a burst can take is bounded by the cap, not by the burst.
  const parse = parsing.count < config.maxParseInflight;
  if (parse) parsing.count++;
  const copies = parse ? budget : undefined;
  // A copy is never copied again: a shadow's own proxies mirror nothing of it.
  const copyToShadow = parse && !mirroredCopy && (deps.shadow?.selects() ?? false);
  const requestBody = new BodyCopy(config.maxParseBytes, copies);
  const responseBody = new BodyCopy(config.maxParseBytes, copies);
  let status = 0;
  let upstreamFailed = false;
  let shadowed: Promise<Parsed | undefined> | undefined;

  let up = shared.forward(req);
  let retried = false;
  const fail = (err: unknown) => {
    upstreamFailed = true;
    status = upstreamStatus(err);
    badGateway(res, err);
  };
  const onResponse = (upRes: IncomingMessage) => {
    status = upRes.statusCode ?? 502;
    res.writeHead(status, responseHeaders(upRes.headers));
    upRes.on("data", (c: Buffer) => responseBody.add(c));
    upRes.on("error", fail);
    upRes.pipe(res);
  };
  const onError = (err: unknown) => {
    // Resent only with the whole body in hand and nothing answered yet.
    if (!retried && status === 0 && requestBody.complete && req.complete && lostOnReusedConnection(up, err)) {
      retried = true;
      up = shared.forward(req, true);
      up.on("response", onResponse);
      up.on("error", onError);
      up.end(requestBody.buffer());
      return;
    }
    fail(err);
  };
  up.on("response", onResponse);
  up.on("error", onError);
  req.on("data", (c: Buffer) => requestBody.add(c));
  req.on("end", () => {
    if (copyToShadow && deps.shadow && requestBody.complete && !done) {
      shadowed = deps.shadow.send(req.url ?? "/", req.headers, requestBody.buffer(), route.protocol);
    }
  });
  req.pipe(up);

  let done = false;
  const finish = (answered: boolean) => {
    if (done) return;
    done = true;
    metrics.inflight.dec();
    if (parse) parsing.count--;
    if (mirroredCopy) {
      metrics.mirroredInflight.dec();
      metrics.mirrored.inc();
    }
    // A client that hangs up before its answer is neither the model's error
    // nor a 4xx the model gave: counted apart, and the model server's work
    // for it is abandoned. An answer cut because the model failed is a 5xx.
    if (!answered && !upstreamFailed) up.destroy();
    const code = answered || upstreamFailed ? codeClass(status) : CLIENT_CLOSED_CODE;
    metrics.requests[code].inc();
    metrics.duration.observe((performance.now() - start) / 1000);
    metrics.requestSize.observe(requestBody.size);
    metrics.responseSize.observe(responseBody.size);
    if (answered) observePayloads(deps, route, requestBody, responseBody, status, shadowed);
    responseBody.release();
    // The shadow may still be sending the request copy: it stays counted until then.
    if (shadowed) void shadowed.finally(() => requestBody.release());
    else requestBody.release();
  };
  res.on("finish", () => finish(true));
  res.on("close", () => finish(false));
}

function observePayloads(
  deps: ProxyDeps,
  route: InferenceRoute,
  requestBody: BodyCopy,
  responseBody: BodyCopy,
  status: number,
  shadowed: Promise<Parsed | undefined> | undefined,
): void {
  const { metrics, config } = deps;
  try {
    const features = requestBody.complete
      ? parseRequest(route.protocol, requestBody.buffer(), config.signature.inputs)
      : undefined;
    if (features?.ok) metrics.features.observe(features.columns);
    else metrics.unparsedRequest.inc();
    if (status < 200 || status >= 300) return; // an error body is not a prediction
    const predictions = responseBody.complete
      ? parseResponse(route.protocol, responseBody.buffer(), config.signature.outputs)
      : undefined;
    if (!predictions?.ok) {
      metrics.unparsedResponse.inc();
      return;
    }
    metrics.predictions.observe(predictions.columns);
    shadowed?.then((s) => {
      if (s?.ok) deps.shadow?.record(predictions.columns, s.columns);
    });
  } catch (err) {
    deps.logError("observing payloads failed", err);
  }
}
