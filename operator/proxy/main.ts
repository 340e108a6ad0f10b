// Entry point of the modelops-proxy sidecar: `node operator/proxy/main.ts`,
// in the operator's own image. Configuration comes from MODELOPS_PROXY_CONFIG
// (see config.ts). Serves inference on listenPort and /metrics plus its own
// /healthz on metricsPort. Logs JSON lines, never payloads.
import { createServer, type Server } from "node:http";
import { pino } from "pino";
import { ByteBudget } from "./budget.ts";
import { CONFIG_ENV, type ProxyConfig, parseProxyConfig } from "./config.ts";
import { createProxyMetrics, type ProxyMetrics } from "./metrics.ts";
import { createProxyServer } from "./server.ts";
import { ShadowMirror } from "./shadow.ts";

export interface RunningProxy {
  port: number;
  metricsPort: number;
  /** Every answer from now on closes its connection (see ProxyServer.drain). */
  drain(): void;
  close(): Promise<void>;
}

function metricsServer(metrics: ProxyMetrics): Server {
  return createServer((req, res) => {
    if (req.url === "/metrics") {
      metrics.render().then(
        (text) => {
          res.writeHead(200, { "content-type": metrics.registry.contentType });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        },
      );
    } else if (req.url === "/healthz") {
      res.end("ok\n");
    } else {
      res.writeHead(404);
      res.end();
    }
  });
}

function listen(server: Server, port: number, host: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const addr = server.address();
      resolve(typeof addr === "object" && addr ? addr.port : port);
    });
  });
}

/** Starts both servers; `host` binds them (tests use loopback, the pod every interface). */
export async function startProxy(config: ProxyConfig, host?: string): Promise<RunningProxy> {
  const log = pino({
    name: "modelops-proxy",
    base: { deployment: config.deployment, revision: config.revision },
  });
  const metrics = createProxyMetrics(config);
  const budget = new ByteBudget(config.maxBufferedBytes, (held) => metrics.buffered.set(held));
  const shadow = config.shadow ? new ShadowMirror(config.shadow, config, metrics, budget) : undefined;
  const proxy = createProxyServer({
    config,
    metrics,
    budget,
    ...(shadow ? { shadow } : {}),
    logError: (msg, err) => log.error({ err: (err as Error).message }, msg),
  });
  const metricsHttp = metricsServer(metrics);
  const port = await listen(proxy.server, config.listenPort, host);
  const metricsPort = await listen(metricsHttp, config.metricsPort, host);
  log.info({ port, metricsPort, upstream: config.upstream, shadow: config.shadow?.url }, "proxy listening");
  return {
    port,
    metricsPort,
    drain: () => proxy.drain(),
    close: async () => {
      await proxy.close();
      await new Promise<void>((r) => metricsHttp.close(() => r()));
      shadow?.close();
    },
  };
}

async function main(): Promise<void> {
  const config = parseProxyConfig(process.env[CONFIG_ENV]);
  const running = await startProxy(config);
  const stop = () => {
    // SIGTERM and the pod's removal from the Service's endpoints happen at
    // the same time: kube-proxies may send new connections here for a moment
    // yet. Keep serving (closing each connection after its answer) for
    // drainMs, then stop accepting and finish what is in flight.
    running.drain();
    setTimeout(() => {
      running.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    }, config.drainMs);
    setTimeout(() => process.exit(0), config.drainMs + 20_000).unref();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

if (import.meta.main) {
  main().catch((err: Error) => {
    process.stderr.write(
      `${JSON.stringify({ level: 50, msg: "modelops-proxy failed to start", err: err.message })}\n`,
    );
    process.exit(1);
  });
}
