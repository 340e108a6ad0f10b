// Test fixtures shared by the proxy's tests: loopback stand-in model servers
// and the real proxy binary (hack/proxy.sh builds it) as its own process, on
// loopback, as in the pod.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import { proxyBinary } from "../../hack/proxy-binary.ts";
import { CONFIG_ENV, type ProxyConfigInput, proxyConfigSchema } from "../api/proxy-config.ts";

export type Handler = (
  req: IncomingMessage,
  body: string,
) => { status: number; body: string; delayMs?: number };

/** What each test must close; the test file's afterEach empties it. */
export const closers: Array<() => Promise<void>> = [];

export async function closeAll(): Promise<void> {
  for (const close of closers.splice(0).reverse()) await close();
}

/** A stand-in model server on loopback answering with `handler`. */
export async function upstream(handler: Handler): Promise<string> {
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const out = handler(req, body);
      setTimeout(() => {
        res.writeHead(out.status, { "content-type": "application/json", "x-upstream": "yes" });
        res.end(out.body);
      }, out.delayMs ?? 0);
    });
  });
  server.unref();
  return serveOnLoopback(server);
}

/** Listens on a free loopback port, closed by closeAll; returns its base URL. */
export async function serveOnLoopback(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  closers.push(
    () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The full config of a test proxy: one numeric feature `x`, one categorical output `label`. */
export function testConfig(config: Partial<ProxyConfigInput>) {
  return proxyConfigSchema.parse({
    namespace: "ns",
    deployment: "iris",
    revision: "r1",
    version: "iris-v1",
    listenPort: 0,
    metricsPort: 0,
    signature: {
      inputs: [{ name: "x", type: "numeric" }],
      outputs: [{ name: "label", type: "categorical" }],
    },
    reference: {
      features: [{ name: "x", type: "numeric", edges: [0, 1, 2] }],
      predictions: [{ name: "label", type: "categorical", categories: ["a", "b"] }],
    },
    // A test stops its proxies at once; the drain after SIGTERM has tests of its own.
    drainMs: 0,
    ...config,
  });
}

export async function metricsOf(p: Pick<RunningProxy, "metricsPort">): Promise<string> {
  return (await fetch(`http://127.0.0.1:${p.metricsPort}/metrics`)).text();
}

/** The value of the first sample of `name` whose labels include `labels` (e.g. `code="5xx"`). */
export async function sample(
  p: Pick<RunningProxy, "metricsPort">,
  name: string,
  labels = "",
): Promise<number> {
  const line = (await metricsOf(p)).split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(" ") + 1));
}

export const v2 = (xs: number[]) =>
  JSON.stringify({ inputs: [{ name: "x", shape: [xs.length, 1], datatype: "FP64", data: xs }] });
export const labels = (ls: string[]) =>
  JSON.stringify({ outputs: [{ name: "predict", shape: [ls.length], datatype: "BYTES", data: ls }] });
export const post = (
  p: Pick<RunningProxy, "port">,
  path: string,
  body: string | Buffer,
  signal?: AbortSignal,
) =>
  fetch(`http://127.0.0.1:${p.port}${path}`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
    ...(signal ? { signal } : {}),
  });

export interface RunningProxy {
  port: number;
  metricsPort: number;
  pid: number;
  alive(): boolean;
  /** Resolves with the exit code (or the signal that ended it). */
  exited: Promise<number | string>;
  /** SIGTERM (the drain, drainMs, then the end of what is in flight); resolves once it exited. */
  stop(): Promise<void>;
}

/** The real proxy as its own process on loopback, stopped (SIGTERM) by closeAll. */
export async function proxy(config: Partial<ProxyConfigInput>): Promise<RunningProxy> {
  const child = spawn(proxyBinary(), [], {
    env: {
      ...process.env,
      [CONFIG_ENV]: JSON.stringify(testConfig(config)),
      MODELOPS_PROXY_HOST: "127.0.0.1",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let exited = false;
  const exit = new Promise<number | string>((resolve) =>
    child.on("exit", (code, signal) => {
      exited = true;
      resolve(code ?? signal ?? -1);
    }),
  );
  const stop = async () => {
    if (exited) return;
    child.kill("SIGTERM");
    await exit;
  };
  closers.push(stop);
  // The proxy logs one JSON line with its ports once it listens.
  const lines = createInterface({ input: child.stdout });
  const ports = await new Promise<{ port: number; metricsPort: number }>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`proxy exited with ${code}`)));
    lines.on("line", (line) => {
      const log = JSON.parse(line) as { msg?: string; port?: number; metricsPort?: number };
      if (log.msg === "proxy listening") resolve({ port: log.port ?? 0, metricsPort: log.metricsPort ?? 0 });
    });
  });
  return { ...ports, pid: child.pid ?? 0, alive: () => !exited, exited: exit, stop };
}

/** Resident and peak resident memory (MiB) of a process on this machine, from /proc. */
export function residentMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))?.[1]);
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}
