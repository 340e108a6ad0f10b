import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { silentLogger } from "./logger.ts";

export interface HealthServerOptions {
  /** "host:port", ":port" (all interfaces) or "[::1]:port"; port 0 picks a free one; "0" or "" disables. */
  bindAddress: string;
  registry: Registry;
  /** /readyz answers 200 only while this is true (e.g. every informer has synced). */
  ready: () => boolean;
  /** Extra liveness check for /healthz; answering at all already proves the event loop runs. */
  live?: () => boolean;
  logger?: Logger;
}

export interface HealthServer {
  /** Bound address, e.g. "127.0.0.1:43121". */
  address: string;
  port: number;
  close(): Promise<void>;
}

export function parseBindAddress(bind: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(bind.trim());
  if (!m) throw new Error(`invalid bind address "${bind}": want host:port, :port or [ipv6]:port`);
  const host = m[1] ?? (m[2] || "0.0.0.0");
  return { host, port: Number(m[3]) };
}

/** Serves /metrics, /healthz and /readyz. Resolves undefined when disabled. */
export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer | undefined> {
  if (opts.bindAddress === "0" || opts.bindAddress === "") return undefined;
  const { host, port } = parseBindAddress(opts.bindAddress);
  const log = opts.logger ?? silentLogger();
  const server = http.createServer((req, res) => {
    handle(req, res, opts).catch((err: unknown) => {
      log.error(
        { err: err instanceof Error ? err.message : String(err), path: req.url },
        "health server error",
      );
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  log.info({ address: `${shownHost}:${addr.port}` }, "serving /metrics, /healthz, /readyz");
  return {
    address: `${shownHost}:${addr.port}`,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handle(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  opts: HealthServerOptions,
): Promise<void> {
  const path = new URL(req.url ?? "/", "http://x").pathname;
  if (req.method !== "GET" && req.method !== "HEAD") return text(res, 405, "method not allowed\n");
  if (path === "/healthz" || path === "/livez") {
    const ok = opts.live?.() ?? true;
    return text(res, ok ? 200 : 503, ok ? "ok\n" : "unhealthy\n");
  }
  if (path === "/readyz") {
    const ok = opts.ready();
    return text(res, ok ? 200 : 503, ok ? "ok\n" : "not ready: caches not synced\n");
  }
  if (path === "/metrics") {
    const body = await opts.registry.metrics();
    res.writeHead(200, { "content-type": opts.registry.contentType });
    res.end(body);
    return;
  }
  text(res, 404, "not found\n");
}

function text(res: http.ServerResponse, code: number, body: string): void {
  res.writeHead(code, { "content-type": "text/plain; charset=utf-8" });
  res.end(body);
}
