// Client load for the stories on a real node: calls a ModelDeployment's
// Service as an application does (V2 inference over HTTP, keep-alive, a
// per-request timeout) and records every request, so a story can assert zero
// failed requests and otherwise show which failed, when and how. Open loop:
// requests start on schedule whatever the server does, as independent clients
// would; a closed loop slows down exactly when the server struggles, and so
// sends fewer of the requests that would have failed.
import { Agent, request } from "node:http";
import { REVISION_HEADER } from "../../operator/api/contract.ts";

/** Per-species means and standard deviations (cm) of the iris data set, in signature order. */
const IRIS: ReadonlyArray<{ mean: readonly number[]; std: readonly number[] }> = [
  { mean: [5.006, 3.428, 1.462, 0.246], std: [0.352, 0.379, 0.174, 0.105] }, // setosa
  { mean: [5.936, 2.77, 4.26, 1.326], std: [0.516, 0.314, 0.47, 0.198] }, // versicolor
  { mean: [6.588, 2.974, 5.552, 2.026], std: [0.636, 0.322, 0.552, 0.275] }, // virginica
];
/** sepal_length, sepal_width, petal_length, petal_width. */
export const IRIS_FEATURES = 4;
/** byRevision key for answers without an x-modelops-revision header. */
export const NO_REVISION = "none";

/** mulberry32: Math.random cannot be seeded, and a story's traffic must be the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One iris-like row: a random species, each feature normal around that
 * species' mean, plus `shift[i]` (drift). One decimal, as the data set has,
 * and never below 0.1: lengths are positive.
 */
export function irisRow(rand: () => number, shift: readonly number[] = []): number[] {
  const s = IRIS[Math.floor(rand() * IRIS.length)] ?? (IRIS[0] as (typeof IRIS)[number]);
  return s.mean.map((m, i) => {
    // Box-Muller; 1 - u is in (0, 1], so the log is finite.
    const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    const v = m + (s.std[i] as number) * z + (shift[i] ?? 0);
    return Math.max(0.1, Math.round(v * 10) / 10);
  });
}

/**
 * A V2 request: one [1, 4] tensor "input-0". Its name is no signature field,
 * so the proxy gives its columns, in order, to the signature's inputs.
 */
export function inferBody(row: readonly number[]): string {
  return JSON.stringify({
    inputs: [{ name: "input-0", shape: [1, row.length], datatype: "FP32", data: row }],
  });
}

/** Whether a body is a V2 inference response with at least one output tensor. */
export function isV2Response(body: string): boolean {
  try {
    const out: unknown = JSON.parse(body)?.outputs;
    return (
      Array.isArray(out) &&
      out.length > 0 &&
      out.every((o) => typeof o?.name === "string" && Array.isArray(o?.data))
    );
  } catch {
    return false;
  }
}

export interface RequestRecord {
  /** Start time, ms since the epoch. */
  at: number;
  /** Until the response's end or the error; undefined while in flight. */
  durationMs?: number;
  ok: boolean;
  status?: number;
  /** Node's error code (ECONNRESET, ECONNREFUSED, ...), "timeout", "overloaded" or "invalid-response". */
  error?: string;
  revision?: string;
}

export type Failure = Pick<RequestRecord, "at" | "status" | "error" | "revision">;

export interface LoadStats {
  /** Every scheduled request, skipped ones included: sent = ok + failed + inFlight. */
  sent: number;
  ok: number;
  failed: number;
  inFlight: number;
  failures: Failure[];
  /** Successful answers per x-modelops-revision (NO_REVISION without the header). */
  byRevision: Record<string, number>;
  /** Latency of successful requests; undefined before the first. */
  latencyMs?: { p50: number; p99: number };
}

export function summarize(records: readonly RequestRecord[]): LoadStats {
  const failures: Failure[] = [];
  const byRevision: Record<string, number> = {};
  const latencies: number[] = [];
  let inFlight = 0;
  for (const r of records) {
    if (r.durationMs === undefined) inFlight++;
    else if (!r.ok) failures.push({ at: r.at, status: r.status, error: r.error, revision: r.revision });
    else {
      const rev = r.revision ?? NO_REVISION;
      byRevision[rev] = (byRevision[rev] ?? 0) + 1;
      latencies.push(r.durationMs);
    }
  }
  latencies.sort((a, b) => a - b);
  // Nearest rank.
  const pct = (q: number) => latencies[Math.max(0, Math.ceil(q * latencies.length) - 1)] as number;
  const latencyMs = latencies.length > 0 ? { p50: pct(0.5), p99: pct(0.99) } : undefined;
  return {
    sent: records.length,
    ok: latencies.length,
    failed: failures.length,
    inFlight,
    failures,
    byRevision,
    latencyMs,
  };
}

/** "ECONNRESET 2, 503 1": what went wrong, for the progress line. */
export function failureKinds(failures: readonly Failure[]): string {
  const kinds = new Map<string, number>();
  for (const f of failures) {
    const k = f.error ?? String(f.status);
    kinds.set(k, (kinds.get(k) ?? 0) + 1);
  }
  return [...kinds].map(([k, n]) => `${k} ${n}`).join(", ");
}

export interface LoadOptions {
  /** Base URL of the Service, e.g. http://10.96.0.20 (a path prefix is kept). */
  url: string;
  /** Model name in the V2 path; "iris". */
  model?: string;
  ratePerSecond: number;
  /** Per request, from its start to the end of its response; 5000. */
  timeoutMs?: number;
  /** Reuse connections (default) as typical clients do, so a rollout must drain them; false: one per request. */
  keepAlive?: boolean;
  /** Requests in flight beyond which a scheduled one is skipped and counted as "overloaded"; 256. */
  maxInFlight?: number;
  seed?: number;
  log?: (line: string) => void;
  progressEveryMs?: number;
}

export interface LoadGenerator {
  /** Adds `delta` to feature `feature` (0..3) of every later row, to make drift. */
  shift(feature: number, delta: number): void;
  snapshot(): LoadStats;
  /** Failures of the requests started in [from, to] (ms epoch); in-flight ones are not known yet. */
  failuresBetween(from: number, to: number): Failure[];
  /** Stops scheduling, waits for the requests in flight (at most the timeout), closes connections. */
  stop(): Promise<LoadStats>;
}

type Outcome = Omit<RequestRecord, "at">;

function errorCode(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? e.message ?? String(err);
}

/** One request; resolves (never rejects) with its outcome. */
function call(agent: Agent, url: URL, body: string, timeoutMs: number): Promise<Outcome> {
  const started = performance.now();
  let status: number | undefined;
  let revision: string | undefined;
  let done = false;
  return new Promise((resolve) => {
    // The first of response end, error and timeout decides.
    const finish = (ok: boolean, error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ok, status, error, revision, durationMs: performance.now() - started });
    };
    const headers = { "content-type": "application/json", "content-length": Buffer.byteLength(body) };
    const req = request(url, { agent, method: "POST", headers }, (res) => {
      status = res.statusCode;
      const rev = res.headers[REVISION_HEADER];
      revision = Array.isArray(rev) ? rev[0] : rev;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", (err) => finish(false, errorCode(err)));
      res.on("end", () => {
        if (status !== 200) return finish(false);
        const valid = isV2Response(Buffer.concat(chunks).toString("utf8"));
        finish(valid, valid ? undefined : "invalid-response");
      });
    });
    const timer = setTimeout(() => {
      finish(false, "timeout");
      req.destroy();
    }, timeoutMs);
    req.on("error", (err) => finish(false, errorCode(err)));
    req.end(body);
  });
}

export function startLoad(opts: LoadOptions): LoadGenerator {
  if (!(opts.ratePerSecond > 0)) throw new Error(`load generator: ratePerSecond must be > 0`);
  const base = opts.url.replace(/\/+$/, "");
  const url = new URL(`${base}/v2/models/${encodeURIComponent(opts.model ?? "iris")}/infer`);
  if (url.protocol !== "http:") throw new Error(`load generator: only http:// URLs, got ${opts.url}`);
  const timeoutMs = opts.timeoutMs ?? 5000;
  const maxInFlight = opts.maxInFlight ?? 256;
  const periodMs = 1000 / opts.ratePerSecond;
  const agent = new Agent({ keepAlive: opts.keepAlive ?? true });
  const rand = seededRandom(opts.seed ?? 1);
  const shifts = new Array<number>(IRIS_FEATURES).fill(0);
  const records: RequestRecord[] = [];
  const pending = new Set<Promise<void>>();
  const log = opts.log ?? (() => {});

  const send = () => {
    // The row is drawn even for a skipped request, so row n is the same on every run.
    const body = inferBody(irisRow(rand, shifts));
    const rec: RequestRecord = { at: Date.now(), ok: false };
    records.push(rec);
    if (pending.size >= maxInFlight) {
      Object.assign(rec, { error: "overloaded", durationMs: 0 });
      return;
    }
    const p: Promise<void> = call(agent, url, body, timeoutMs).then((o) => {
      Object.assign(rec, o);
      pending.delete(p);
    });
    pending.add(p);
  };

  // Request n is due at origin + n * period, so timer lateness does not lower the rate.
  let origin = performance.now();
  let scheduled = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    const now = performance.now();
    // After a blocked event loop (a synchronous call in the test), go on from
    // now rather than fire every missed request at once: a burst is not the
    // steady load a story means.
    const late = now - (origin + scheduled * periodMs);
    if (late > 1000) {
      log(`load: event loop blocked for ${Math.round(late)} ms; requests of that time not sent`);
      origin += late;
    }
    while (origin + scheduled * periodMs <= now) {
      scheduled++;
      send();
    }
    if (!stopped) timer = setTimeout(tick, Math.max(0, origin + scheduled * periodMs - performance.now()));
  };
  tick();

  let last = { sent: 0, at: performance.now() };
  const progress = setInterval(() => {
    const s = summarize(records);
    const now = performance.now();
    const rate = ((s.sent - last.sent) * 1000) / (now - last.at);
    last = { sent: s.sent, at: now };
    const why = s.failed > 0 ? ` (${failureKinds(s.failures)})` : "";
    log(
      `load: sent ${s.sent} ok ${s.ok} failed ${s.failed}${why}, in flight ${s.inFlight}, ${rate.toFixed(1)}/s`,
    );
  }, opts.progressEveryMs ?? 10_000);
  progress.unref();

  return {
    shift(feature, delta) {
      if (!Number.isInteger(feature) || feature < 0 || feature >= IRIS_FEATURES)
        throw new Error(`load generator: feature ${feature} is not in 0..${IRIS_FEATURES - 1}`);
      shifts[feature] = (shifts[feature] as number) + delta;
    },
    snapshot: () => summarize(records),
    failuresBetween: (from, to) => summarize(records).failures.filter((f) => f.at >= from && f.at <= to),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      clearInterval(progress);
      await Promise.all(pending);
      agent.destroy();
      return summarize(records);
    },
  };
}
