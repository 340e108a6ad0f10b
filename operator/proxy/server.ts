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
import {
  canaryServiceName,
  clientServiceName,
  previewServiceName,
  stableServiceName,
} from "../api/contract.ts";
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

export interface ProxyDeps {
  config: ProxyConfig;
  metrics: ProxyMetrics;
  shadow?: ShadowMirror;
  /** Errors only, never payloads. */
  logError: (msg: string, err: unknown) => void;
}

/** A body copy for parsing; stops copying (and gives up parsing) past `limit` bytes. */
class BodyCopy {
  private chunks: Buffer[] = [];
  size = 0;
  private readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }
  add(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size <= this.limit) this.chunks.push(chunk);
    else this.chunks = [];
  }
  get complete(): boolean {
    return this.size <= this.limit;
  }
  buffer(): Buffer {
    return this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
  }
}

/** A shadow revision's proxy tells the stable proxies the share it asks for; others have none. */
function answerMirror(config: ProxyConfig, res: ServerResponse): void {
  const percent = config.mirrorPercent;
  res.writeHead(percent === undefined ? 404 : 200, { "content-type": "application/json" });
  res.end(JSON.stringify(percent === undefined ? { error: "not a shadow revision" } : { percent }));
}

function badGateway(res: ServerResponse, err: unknown): void {
  if (!res.headersSent) {
    res.writeHead(502, { "content-type": "text/plain" });
    res.end(`modelops-proxy: model server unreachable: ${(err as Error).message}\n`);
  } else {
    res.destroy();
  }
}

export function createProxyServer(deps: ProxyDeps): { server: Server; close(): Promise<void> } {
  const upstream = new URL(deps.config.upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64 });
  const forward = (req: IncomingMessage) =>
    request({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: endToEndHeaders(req.headers),
      agent,
    });

  const name = deps.config.deployment;
  const ownNames = new Set(
    [clientServiceName, stableServiceName, canaryServiceName, previewServiceName].map((f) => f(name)),
  );
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url === MIRROR_PATH) return answerMirror(deps.config, res);
    const route = inferenceRoute(req.method, req.url);
    if (route) infer(deps, forward, req, res, route, isMirroredCopy(req.headers, ownNames));
    else passthrough(deps, forward, req, res);
  });
  server.keepAliveTimeout = 65_000; // longer than common load-balancer idle timeouts
  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        agent.destroy();
      }),
  };
}

type Forward = (req: IncomingMessage) => ReturnType<typeof request>;

function passthrough(deps: ProxyDeps, forward: Forward, req: IncomingMessage, res: ServerResponse): void {
  const up = forward(req);
  up.on("response", (upRes) => {
    deps.metrics.passthrough[codeClass(upRes.statusCode ?? 0)].inc();
    res.writeHead(upRes.statusCode ?? 502, endToEndHeaders(upRes.headers));
    upRes.pipe(res);
  });
  up.on("error", (err) => {
    deps.metrics.passthrough["5xx"].inc();
    badGateway(res, err);
  });
  req.pipe(up);
}

function infer(
  deps: ProxyDeps,
  forward: Forward,
  req: IncomingMessage,
  res: ServerResponse,
  route: InferenceRoute,
  mirroredCopy: boolean,
): void {
  const { metrics, config } = deps;
  const start = performance.now();
  metrics.inflight.inc();
  if (mirroredCopy) metrics.mirroredInflight.inc();
  // A copy is never copied again: a shadow's own proxies mirror nothing of it.
  const copyToShadow = !mirroredCopy && (deps.shadow?.selects() ?? false);
  const requestBody = new BodyCopy(config.maxParseBytes);
  const responseBody = new BodyCopy(config.maxParseBytes);
  let status = 0;
  let shadowed: Promise<Parsed | undefined> | undefined;

  const up = forward(req);
  up.on("response", (upRes) => {
    status = upRes.statusCode ?? 502;
    res.writeHead(status, endToEndHeaders(upRes.headers));
    upRes.on("data", (c: Buffer) => responseBody.add(c));
    upRes.pipe(res);
  });
  up.on("error", (err) => {
    status = 502;
    badGateway(res, err);
  });
  req.on("data", (c: Buffer) => requestBody.add(c));
  req.on("end", () => {
    if (copyToShadow && deps.shadow && requestBody.complete) {
      shadowed = deps.shadow.send(req.url ?? "/", req.headers, requestBody.buffer(), route.protocol);
    }
  });
  req.pipe(up);

  let done = false;
  const finish = (answered: boolean) => {
    if (done) return;
    done = true;
    metrics.inflight.dec();
    if (mirroredCopy) {
      metrics.mirroredInflight.dec();
      metrics.mirrored.inc();
    }
    // A client that hangs up before its answer is counted as 4xx: not the model's fault.
    const code = answered ? codeClass(status) : "4xx";
    metrics.requests[code].inc();
    metrics.duration.observe((performance.now() - start) / 1000);
    metrics.requestSize.observe(requestBody.size);
    metrics.responseSize.observe(responseBody.size);
    if (answered) observePayloads(deps, route, requestBody, responseBody, status, shadowed);
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
