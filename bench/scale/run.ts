// One controller's run: a fresh local cluster sized for N, the controller as
// its own process, then the phases deploy (create N, wait all Available), bump
// (move all to version 2, wait all rolled) and idle, each measured.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ApiConnection, apiConnection, apiRequest } from "../../hack/localcluster/api.ts";
import { startCluster } from "../../hack/localcluster/cluster.ts";
import { type Component, sleep, stopComponents, tailLog, untrack } from "../../hack/localcluster/procs.ts";
import { requestsByKind } from "./audit.ts";
import { cpuSeconds, memory, resetPeak } from "./proc.ts";
import { NAMESPACE, type Obj, type Request, type Subject } from "./subjects.ts";

/**
 * The idle time after the last rollout is split: "settle", the first part,
 * where delayed clean-up (an old revision scaled down after a delay) may still
 * run, and "steady", the rest, where a controller has nothing left to do.
 */
export type PhaseName = "deploy" | "bump" | "settle" | "steady";

/** The settle part of an idle time: half of it, at most 60 s. */
export function settleSeconds(idleSeconds: number): number {
  return Math.min(60, idleSeconds / 2);
}

export interface Phase {
  name: PhaseName;
  startMs: number;
  endMs: number;
  /** Members done (Available, rolled) at the end; N when complete. */
  done: number;
  complete: boolean;
  cpuS: number;
  peakMiB: number;
  endRssMiB: number;
  /** The controller's requests keyed "verb resource", from the audit log. */
  requests: Map<string, number>;
}

export interface SubjectResult {
  subject: string;
  n: number;
  /** RSS once the controller has started and synced its (empty) caches. */
  startRssMiB: number;
  phases: Phase[];
  /** Why the run stopped early: the controller's log tail and what the stuck objects showed. */
  failure?: string;
}

export interface RunOptions {
  n: number;
  idleSeconds: number;
  binDir: string;
  log: (line: string) => void;
  /** Give up on a phase when the count of done members has not moved for this long. */
  stallMs?: number;
  /** Keep the cluster's directory (logs, audit log). */
  keep?: boolean;
}

/** KWOK node capacity is 110 pods; a canary briefly runs two pods per member. */
export function nodesFor(n: number): number {
  return Math.max(3, Math.ceil((2 * n + 20) / 110));
}

/**
 * kube-controller-manager's client QPS, for both controllers' clusters. Its
 * default 20 is shared by all its controllers (Deployments, ReplicaSets, the
 * garbage collector); at N=1000 pods ran for a minute before their Deployments
 * and ReplicaSets said so, which timed the cluster, not the controller.
 */
const CONTROLLER_MANAGER_QPS = 100;

/** Room for N members' Services (Argo: two each) in any case: 65,534 addresses. */
const SERVICE_CIDR = "10.112.0.0/16";
const CONCURRENCY = 16;
const POLL_MS = 1000;
const PROGRESS_MS = 5000;

async function send(conn: ApiConnection, r: Request): Promise<void> {
  const res = await apiRequest(conn, r.method, r.path, r.body, 30_000);
  if (res.status >= 300)
    throw new Error(`${r.method} ${r.path}: HTTP ${res.status}: ${res.body.slice(0, 300)}`);
}

/** Sends each member's requests in order, CONCURRENCY members at a time. */
async function sendAll(conn: ApiConnection, n: number, requests: (i: number) => Request[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) for (const r of requests(i)) await send(conn, r);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

async function list(conn: ApiConnection, path: string): Promise<Obj[]> {
  const res = await apiRequest(conn, "GET", path, undefined, 60_000);
  if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}`);
  return (JSON.parse(res.body) as { items: Obj[] }).items;
}

/** The fleet's state in a line: counts of each status phase and the commonest message. */
function summarize(items: Obj[], ok: (o: Obj) => boolean): string {
  const phases = new Map<string, number>();
  const messages = new Map<string, number>();
  for (const o of items.filter((x) => !ok(x))) {
    const s = (o.status ?? {}) as { phase?: string; message?: string };
    const p = s.phase ?? "(no phase)";
    phases.set(p, (phases.get(p) ?? 0) + 1);
    if (s.message) messages.set(s.message, (messages.get(s.message) ?? 0) + 1);
  }
  const top = [...messages].sort((a, b) => b[1] - a[1])[0];
  const counts = [...phases].map(([p, c]) => `${p}: ${c}`).join(", ");
  return `${items.length} listed; not done by phase: ${counts || "none"}${top ? `; commonest message (${top[1]}x): ${top[0]}` : ""}`;
}

async function setUpNamespace(conn: ApiConnection): Promise<void> {
  await send(conn, { method: "POST", path: "/api/v1/namespaces", body: { metadata: { name: NAMESPACE } } });
  // ModelVersions' pvc://models/... artifacts are mounted from this claim (as e2e/harness/namespace.ts).
  await send(conn, {
    method: "POST",
    path: "/api/v1/persistentvolumes",
    body: {
      metadata: { name: "models-bench" },
      spec: {
        capacity: { storage: "1Gi" },
        accessModes: ["ReadOnlyMany"],
        storageClassName: "",
        hostPath: { path: "/var/lib/models" },
        claimRef: { namespace: NAMESPACE, name: "models" },
      },
    },
  });
  await send(conn, {
    method: "POST",
    path: `/api/v1/namespaces/${NAMESPACE}/persistentvolumeclaims`,
    body: {
      metadata: { name: "models" },
      spec: {
        accessModes: ["ReadOnlyMany"],
        storageClassName: "",
        volumeName: "models-bench",
        resources: { requests: { storage: "1Gi" } },
      },
    },
  });
  for (let t = 0; t < 60; t++) {
    const res = await apiRequest(
      conn,
      "GET",
      `/api/v1/namespaces/${NAMESPACE}/persistentvolumeclaims/models`,
    );
    if ((JSON.parse(res.body) as { status?: { phase?: string } }).status?.phase === "Bound") return;
    await sleep(1000);
  }
  throw new Error("the models claim did not bind in 60 s");
}

export async function runSubject(subject: Subject, opts: RunOptions): Promise<SubjectResult> {
  const { n, log } = opts;
  const stallMs = opts.stallMs ?? 180_000;
  const tag = `[scale] ${subject.name} N=${n}`;
  const dir = mkdtempSync(join(tmpdir(), "modelops-bench-"));
  const cluster = await startCluster({
    dir,
    binDir: opts.binDir,
    nodes: nodesFor(n),
    crdsDir: subject.crdsDir,
    serviceCidr: SERVICE_CIDR,
    controllerManagerQps: CONTROLLER_MANAGER_QPS,
    log: () => {},
  });
  let controller: Component | undefined;
  try {
    const pki = join(dir, "pki");
    const conn = apiConnection(
      cluster.apiserverUrl,
      join(pki, "ca.crt"),
      join(pki, "client-admin.crt"),
      join(pki, "client-admin.key"),
    );
    await setUpNamespace(conn);
    controller = await subject.start(cluster.operatorKubeconfig, join(dir, "logs", "controller.log"));
    const c = controller;
    // Its informers start and sync (nothing to list yet) before the clock starts.
    await sleep(5000);
    if (c.child?.exitCode !== null) throw new Error(`the controller exited:\n${tailLog(c.logPath)}`);
    const startRssMiB = memory(c.pid).rssMiB;
    log(`${tag}: cluster ${dir} up, controller pid ${c.pid} at ${startRssMiB.toFixed(0)} MiB`);

    const phases: Phase[] = [];
    let failure: string | undefined;
    const measure = async (name: PhaseName, body: () => Promise<{ done: number; complete: boolean }>) => {
      const startMs = Date.now();
      const cpu0 = cpuSeconds(c.pid);
      resetPeak(c.pid);
      const { done, complete } = await body();
      const mem = memory(c.pid);
      log(
        `${tag} ${name}: peak RSS ${mem.peakMiB.toFixed(0)} MiB, CPU ${(cpuSeconds(c.pid) - cpu0).toFixed(1)} s`,
      );
      phases.push({
        name,
        startMs,
        endMs: Date.now(),
        done,
        complete,
        cpuS: cpuSeconds(c.pid) - cpu0,
        peakMiB: mem.peakMiB,
        endRssMiB: mem.rssMiB,
        requests: new Map(),
      });
    };

    // Sends the phase's requests while polling the fleet until every member is done.
    const fleetPhase = async (
      name: PhaseName,
      requests: (i: number) => Request[],
      ok: (o: Obj) => boolean,
      what: string,
    ) =>
      measure(name, async () => {
        const start = Date.now();
        let sendError: unknown;
        const sending = sendAll(conn, n, requests).catch((err) => {
          sendError = err;
        });
        let done = 0;
        let lastChange = start;
        let lastReport = start;
        for (;;) {
          await sleep(POLL_MS);
          if (sendError) throw sendError;
          if (c.child?.exitCode !== null) throw new Error(`the controller exited:\n${tailLog(c.logPath)}`);
          const items = await list(conn, subject.listPath);
          const now = items.filter(ok).length;
          if (now !== done) lastChange = Date.now();
          done = now;
          if (done === n) break;
          if (Date.now() - lastReport >= PROGRESS_MS) {
            log(`${tag} ${name}: ${done}/${n} ${what} after ${((Date.now() - start) / 1000).toFixed(0)}s`);
            lastReport = Date.now();
          }
          if (Date.now() - lastChange > stallMs) {
            failure =
              `${name}: stuck at ${done}/${n} ${what} (no change for ${stallMs / 1000}s); ${summarize(items, ok)}\n` +
              `last lines of the controller's log (${c.logPath}):\n${tailLog(c.logPath, 30)}`;
            break;
          }
        }
        await sending;
        log(`${tag} ${name}: ${done}/${n} ${what} after ${((Date.now() - start) / 1000).toFixed(1)}s`);
        return { done, complete: done === n };
      });

    await fleetPhase("deploy", subject.create, subject.available, "Available");
    if (!failure) await fleetPhase("bump", subject.bump, subject.rolled, "rolled");
    if (!failure) {
      const settle = settleSeconds(opts.idleSeconds);
      log(`${tag} idle: ${opts.idleSeconds}s (the last ${opts.idleSeconds - settle}s count as steady state)`);
      for (const [name, s] of [
        ["settle", settle],
        ["steady", opts.idleSeconds - settle],
      ] as const) {
        await measure(name, async () => {
          // Memory must stay flat while idle: its resident size once a minute.
          for (let left = s; left > 0; left -= 60) {
            await sleep(Math.min(60, left) * 1000);
            log(
              `${tag} ${name}: RSS ${memory(c.pid).rssMiB.toFixed(1)} MiB, ${(s - left + Math.min(60, left)).toFixed(0)}s in`,
            );
          }
          return { done: n, complete: true };
        });
      }
    }
    if (failure) log(`${tag}: ${failure}`);

    await stopComponents([c]);
    untrack([c]);
    controller = undefined;
    const counts = await requestsByKind(cluster.auditLogPath, "modelops-operator", phases);
    phases.forEach((p, i) => {
      p.requests = counts[i] ?? new Map();
    });
    return { subject: subject.name, n, startRssMiB, phases, ...(failure ? { failure } : {}) };
  } finally {
    if (controller) {
      await stopComponents([controller]);
      untrack([controller]);
    }
    await cluster.stop();
    if (opts.keep) log(`${tag}: kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
