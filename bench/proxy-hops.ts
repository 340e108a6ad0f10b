// The proxies bench/proxy.ts measures, each its own process (group) pinned
// by a taskset prefix: nginx as a plain reverse proxy (the floor for one
// hop) and modelops-proxy with histograms on; and what is read of them from
// /proc: CPU time (utime+stime) and peak RSS (VmHWM), summed over nginx's
// master and workers.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import {
  type Component,
  freePorts,
  pollUntil,
  startComponent,
  stopComponents,
  track,
  untrack,
} from "../hack/localcluster/procs.ts";
import { proxyBinary } from "../hack/proxy-binary.ts";
import { CONFIG_ENV, type ProxyConfigInput } from "../operator/api/proxy-config.ts";
import { FEATURES, type Upstream } from "./proxy-upstreams.ts";

const CLOCK_TICKS = 100; // USER_HZ on Linux

export interface Hop {
  name: string;
  rest: string;
  grpc: string;
  /** The hop's processes now (nginx: master and workers). */
  pids(): number[];
  stop(): Promise<void>;
}

/** CPU seconds (all threads) of the processes, user and system apart: where a miss's time went. */
export function cpuSeconds(pids: number[]): { user: number; system: number } {
  let user = 0;
  let system = 0;
  for (const pid of pids) {
    // Fields after the ")" of the command name: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    user += Number(fields[11]);
    system += Number(fields[12]);
  }
  return { user: user / CLOCK_TICKS, system: system / CLOCK_TICKS };
}

/** Peak resident set (VmHWM) summed over the processes, and what is resident now: heap (anon) and mapped files (binary, libraries), MiB. */
export function memoryMiB(pids: number[]): { peak: number; anon: number; file: number } {
  const sum = { peak: 0, anon: 0, file: 0 };
  for (const pid of pids) {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
    sum.peak += kib("VmHWM") / 1024;
    sum.anon += kib("RssAnon") / 1024;
    sum.file += kib("RssFile") / 1024;
  }
  return sum;
}

function childrenOf(parent: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === parent) out.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

async function portOpen(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(undefined));
  });
}

async function started(c: Component, what: string, ready: () => Promise<true | undefined>): Promise<void> {
  track([c]);
  try {
    await pollUntil(what, ready, { timeoutMs: 30_000, watch: [c], log: () => {}, intervalMs: 50 });
  } catch (err) {
    await stopComponents([c], 2000);
    untrack([c]);
    throw err;
  }
}

const stopper = (c: Component) => async () => {
  await stopComponents([c], 5000);
  untrack([c]);
};

export function nginxBinary(): string {
  const out = execFileSync("bash", [join(import.meta.dirname, "../hack/nginx.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  return out.trim().split("\n").pop() ?? "nginx";
}

/** nginx.conf for a plain reverse proxy: one worker, no logging, keep-alive to the upstream. */
export function nginxConf(dir: string, up: Upstream, restPort: number, grpcPort: number): string {
  const hostPort = (url: string) => new URL(url).host;
  return `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  # Client connections stay open through a whole run, as they do to modelops-proxy.
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  http2_max_concurrent_streams 1024;
  upstream model_rest { server ${hostPort(up.rest)}; keepalive 64; keepalive_requests 1000000; }
  upstream model_grpc { server ${hostPort(up.grpc)}; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${restPort};
    location / {
      proxy_pass http://model_rest;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
  server {
    listen 127.0.0.1:${grpcPort} http2;
    location / { grpc_pass grpc://model_grpc; }
  }
}
`;
}

export async function startNginx(dir: string, up: Upstream, pin: string[]): Promise<Hop> {
  const [restPort, grpcPort] = (await freePorts(2)) as [number, number];
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, nginxConf(dir, up, restPort, grpcPort));
  const binary = nginxBinary();
  // -e: the error log before the config is read (the default path may not be writable).
  const args = ["-p", dir, "-c", conf, "-e", join(dir, "nginx-error.log")];
  const c = startComponent("nginx", binary, args, join(dir, "nginx.log"), pin);
  await started(c, "nginx", async () =>
    (await portOpen(restPort)) && (await portOpen(grpcPort)) ? true : undefined,
  );
  return {
    name: "nginx",
    rest: `http://127.0.0.1:${restPort}`,
    grpc: `http://127.0.0.1:${grpcPort}`,
    pids: () => [c.pid, ...childrenOf(c.pid)],
    stop: stopper(c),
  };
}

/** Histograms on: a signature and a reference for 10 numeric features and a categorical output. */
export function proxyConfig(up: Upstream, listenPort: number, metricsPort: number): ProxyConfigInput {
  const edges = [-3, -2, -1, -0.5, 0, 0.5, 1, 2, 3];
  return {
    namespace: "bench",
    deployment: "wide",
    revision: "r1",
    version: "wide-v1",
    listenPort,
    metricsPort,
    upstream: up.rest,
    grpcUpstream: up.grpc,
    signature: {
      inputs: FEATURES.map((name) => ({ name, type: "numeric" as const })),
      outputs: [{ name: "label", type: "categorical" }],
    },
    reference: {
      features: FEATURES.map((name) => ({ name, type: "numeric" as const, edges })),
      predictions: [{ name: "label", type: "categorical", categories: ["0", "1", "2"] }],
    },
  };
}

/** The proxy under test: the Rust binary, or with BENCH_PROXY=ts the TypeScript one (operator/proxy/main.ts). */
export function proxyCommand(): { label: string; binary: string; args: string[] } {
  if (process.env.BENCH_PROXY === "ts")
    return {
      label: "TypeScript modelops-proxy (BENCH_PROXY=ts)",
      binary: process.execPath,
      args: [join(import.meta.dirname, "../operator/proxy/main.ts")],
    };
  const binary = proxyBinary();
  return { label: `modelops-proxy ${binary}`, binary, args: [] };
}

export async function startProxy(dir: string, up: Upstream, pin: string[]): Promise<Hop> {
  const [listenPort, metricsPort] = (await freePorts(2)) as [number, number];
  const { binary, args } = proxyCommand();
  const logPath = join(dir, `proxy-${listenPort}.log`);
  process.env[CONFIG_ENV] = JSON.stringify(proxyConfig(up, listenPort, metricsPort));
  const c = startComponent("modelops-proxy", binary, args, logPath, pin);
  delete process.env[CONFIG_ENV];
  // Ready once it logs {"msg":"proxy listening"}.
  await started(c, "modelops-proxy", async () =>
    readFileSync(logPath, "utf8").includes('"proxy listening"') ? true : undefined,
  );
  const url = `http://127.0.0.1:${listenPort}`;
  return { name: "modelops-proxy", rest: url, grpc: url, pids: () => [c.pid], stop: stopper(c) };
}
