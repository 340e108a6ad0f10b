// Overhead of modelops-proxy in front of a real MLServer (a scikit-learn
// LogisticRegression on 10 features), with feature and prediction
// histograms on. For each rate, the same open-loop load (requests start on
// schedule whatever the answers do, so queueing shows up as latency) goes
// first straight to the model server, then through the proxy; it prints
// p50/p99 of both, the proxy's CPU per 1,000 rps (from /proc/<pid>/stat)
// and its RSS (/proc/<pid>/status).
// Run: node bench/proxy.ts [seconds per phase, default 10] [rates, default 500,1000,2000] [mlserver|stub]
// `stub` puts a minimal Node V2 server in place of MLServer, to isolate the
// proxy's own cost where MLServer saturates below the rates asked for.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  freePorts,
  pollUntil,
  startComponent,
  stopComponents,
  track,
  untrack,
} from "../hack/localcluster/procs.ts";
import { prepareModels, startModelServer } from "../hack/model-server/mlserver.ts";
import { CONFIG_ENV, type ProxyConfigInput } from "../operator/api/proxy-config.ts";

const SECONDS = Number(process.argv[2] ?? 10);
const RATES = (process.argv[3] ?? "500,1000,2000").split(",").map(Number);
const UPSTREAM = process.argv[4] ?? "mlserver";
const FEATURES = Array.from({ length: 10 }, (_, i) => `f${i}`);
const CLOCK_TICKS = 100; // USER_HZ on Linux

function payload(row: number): string {
  const data = FEATURES.map((_, i) => Math.round(Math.sin(row * 7 + i) * 300) / 100);
  return JSON.stringify({
    inputs: [{ name: "input-0", shape: [1, FEATURES.length], datatype: "FP64", data }],
  });
}

interface PhaseResult {
  p50: number;
  p99: number;
  errors: number;
  sent: number;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

function send(agent: Agent, url: URL, body: string): Promise<number | undefined> {
  const start = performance.now();
  return new Promise((resolve) => {
    const req = request(url, { method: "POST", agent, headers: { "content-type": "application/json" } });
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode === 200 ? performance.now() - start : undefined));
    });
    req.on("error", () => resolve(undefined));
    req.end(body);
  });
}

/** Open-loop load: at `rps`, for `seconds`, each request on its own schedule. */
async function load(base: string, rps: number, seconds: number): Promise<PhaseResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  const url = new URL("/v2/models/iris/infer", base);
  const bodies = Array.from({ length: 64 }, (_, i) => payload(i));
  const latencies: number[] = [];
  let errors = 0;
  let sent = 0;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  const total = rps * seconds;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rps));
      for (; sent < due; sent++) {
        pending.push(
          send(agent, url, bodies[sent % bodies.length] as string).then((ms) => {
            if (ms === undefined) errors++;
            else latencies.push(ms);
          }),
        );
      }
      if (sent >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  await Promise.all(pending);
  agent.destroy();
  const sorted = Float64Array.from(latencies).sort();
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), errors, sent };
}

function cpuSeconds(pid: number): number {
  // Fields after the ")" of the command name: utime and stime are the 12th and 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

function rssMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

function proxyConfig(upstream: string, listenPort: number, metricsPort: number): ProxyConfigInput {
  const edges = [-3, -2, -1, -0.5, 0, 0.5, 1, 2, 3];
  return {
    namespace: "bench",
    deployment: "wide",
    revision: "r1",
    version: "wide-v1",
    listenPort,
    metricsPort,
    upstream,
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

/** A V2 server that answers one class label per request at once, after reading the body. */
async function startStub(): Promise<{ url: string; stop(): Promise<void> }> {
  const answer = JSON.stringify({
    model_name: "iris",
    outputs: [{ name: "predict", shape: [1, 1], datatype: "INT64", data: [1] }],
  });
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(answer);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, stop: () => new Promise((r) => server.close(() => r())) };
}

async function startUpstream(dir: string): Promise<{ url: string; stop(): Promise<void> }> {
  if (UPSTREAM === "stub") return startStub();
  const { venv, modelsDir } = await prepareModels(dir);
  return startModelServer(venv, modelsDir, "wide");
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "modelops-bench-proxy-"));
  const model = await startUpstream(dir);
  const [listenPort, metricsPort] = (await freePorts(2)) as [number, number];
  process.env[CONFIG_ENV] = JSON.stringify(proxyConfig(model.url, listenPort, metricsPort));
  const proxy = startComponent(
    "modelops-proxy",
    process.execPath,
    [join(import.meta.dirname, "../operator/proxy/main.ts")],
    join(dir, "proxy.log"),
  );
  delete process.env[CONFIG_ENV];
  track([proxy]);
  const proxyUrl = `http://127.0.0.1:${listenPort}`;
  try {
    await pollUntil(
      "proxy",
      async () => ((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).ok ? true : undefined),
      {
        timeoutMs: 20_000,
        watch: [proxy],
        log: () => {},
      },
    );
    // Warm up both paths (connections, JIT, the model server's first requests are slow).
    for (const base of [model.url, proxyUrl, model.url]) await load(base, RATES[0] ?? 500, 5);
    console.log(
      `modelops-proxy overhead against ${UPSTREAM}, ${SECONDS}s per phase, V2 payload of 10 FP64 features, histograms on`,
    );
    console.log(
      "rps   | direct p50 / p99 (ms) | proxy p50 / p99 (ms) | +p99 ms | proxy vCPU per 1k rps | proxy RSS MiB (peak) | errors d/p",
    );
    for (const rps of RATES) {
      const direct = await load(model.url, rps, SECONDS);
      const cpu0 = cpuSeconds(proxy.pid);
      const t0 = performance.now();
      const viaProxy = await load(proxyUrl, rps, SECONDS);
      const vcpu = (cpuSeconds(proxy.pid) - cpu0) / ((performance.now() - t0) / 1000);
      const mem = rssMiB(proxy.pid);
      const f = (v: number) => v.toFixed(2);
      console.log(
        `${String(rps).padEnd(5)} | ${f(direct.p50)} / ${f(direct.p99)} | ${f(viaProxy.p50)} / ${f(viaProxy.p99)} | ${f(viaProxy.p99 - direct.p99)} | ${(vcpu / (rps / 1000)).toFixed(3)} | ${mem.rss.toFixed(0)} (${mem.peak.toFixed(0)}) | ${direct.errors}/${viaProxy.errors}`,
      );
    }
  } finally {
    await stopComponents([proxy], 5000);
    untrack([proxy]);
    await model.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
