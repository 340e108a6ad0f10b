// Killing and restarting one component of a running cluster (e.g. the
// kube-apiserver) to test what clients do across the outage. The cluster may
// belong to another process (vitest's globalSetup), so everything comes from
// its directory: PIDs from state.json, command lines from /proc.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { apiConnection, apiRequest, componentHealthy } from "../../hack/localcluster/api.ts";
import { type ClusterState, readState, statePath } from "../../hack/localcluster/cluster.ts";
import {
  type Component,
  detach,
  isRunning,
  killNow,
  pidRunsBinary,
  pollUntil,
  startComponent,
  tailLog,
} from "../../hack/localcluster/procs.ts";

export interface RestartOptions {
  timeoutMs?: number;
  log?: (line: string) => void;
  /**
   * Runs while the component is down, after it died and before it starts
   * again; gets its command line, e.g. to run a stand-in (standin-apiserver.ts).
   */
  whileDown?: (down: DownComponent) => Promise<void>;
}

export interface DownComponent {
  name: string;
  binary: string;
  args: string[];
  state: ClusterState;
}

export interface Restarted {
  pid: number;
  /** From the kill until the component answered its readiness check again. */
  downMs: number;
  killedAt: Date;
  /** When it was ready again. */
  readyAt: Date;
}

/** argv of a running process, without argv[0]: what it was started with. */
function argsOf(pid: number): string[] {
  const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  if (argv.at(-1) === "") argv.pop();
  return argv.slice(1);
}

function writeStateAtomically(dir: string, state: ClusterState): void {
  const tmp = `${statePath(dir)}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, statePath(dir));
}

/** The check that says a restarted component serves again, as the cluster's start uses. */
function readiness(state: ClusterState, name: string): () => Promise<true | undefined> {
  const pki = join(state.dir, "pki");
  switch (name) {
    case "kube-apiserver": {
      const conn = apiConnection(
        state.apiserverUrl,
        join(pki, "ca.crt"),
        join(pki, "client-admin.crt"),
        join(pki, "client-admin.key"),
      );
      return async () => {
        const res = await apiRequest(conn, "GET", "/readyz", undefined, 2000);
        if (res.status === 200) return true;
        throw new Error(`/readyz ${res.status}: ${res.body.slice(0, 300)}`);
      };
    }
    case "etcd":
      return async () => {
        const res = await fetch(`http://127.0.0.1:${state.ports.etcdClient}/health`);
        return ((await res.json()) as { health?: string }).health === "true" ? true : undefined;
      };
    case "kube-controller-manager":
      return () => componentHealthy(state.ports.controllerManager, "/healthz");
    case "kube-scheduler":
      return () => componentHealthy(state.ports.scheduler, "/readyz");
    default: {
      // kwok has no health port we know of: alive for a second will do.
      const since = Date.now();
      return async () => (Date.now() - since > 1000 ? true : undefined);
    }
  }
}

/**
 * SIGKILLs component `name` of the cluster in `clusterDir` (no graceful
 * shutdown, as when its node dies), starts it again with the same arguments
 * and log file, waits until it is ready, and records its new PID in
 * state.json. The new process is detached: it outlives the calling test
 * worker, and the cluster's owner stops it through state.json (see
 * stopClusterInDir in the globalSetup's teardown).
 */
export async function restartComponent(
  clusterDir: string,
  name: string,
  opts: RestartOptions = {},
): Promise<Restarted> {
  const log = opts.log ?? (() => {});
  const state = readState(clusterDir);
  const entry = state?.components.find((c) => c.name === name);
  if (!state || !entry) throw new Error(`no component ${name} in ${statePath(clusterDir)}`);
  if (!pidRunsBinary(entry.pid, entry.binary)) throw new Error(`${name} (pid ${entry.pid}) is not running`);
  const args = argsOf(entry.pid);
  const killedAt = Date.now();
  await kill({ ...entry }, log);
  await opts.whileDown?.({ name, binary: entry.binary, args, state });
  const ports = portsOf(state, name);
  for (let attempt = 1; ; attempt++) {
    // The dead process's sockets can outlive its /proc entry by a moment.
    await pollUntil(`ports ${ports.join(", ")} free`, () => allFree(ports), {
      timeoutMs: 10_000,
      watch: [],
      log,
    });
    const c = startComponent(name, entry.binary, args, entry.logPath);
    detach(c);
    writeStateAtomically(clusterDir, {
      ...state,
      components: state.components.map((x) => (x.name === name ? { ...x, pid: c.pid } : x)),
    });
    try {
      await pollUntil(`${name} ready after restart`, readiness(state, name), {
        timeoutMs: opts.timeoutMs ?? 60_000,
        watch: [c],
        log,
      });
    } catch (err) {
      // Another socket (e.g. a client's ephemeral port) can take the port
      // between our check and its bind: try again rather than fail the test.
      const lostRace = !isRunning(c) && /address already in use/.test(tailLog(entry.logPath, 5));
      if (lostRace && attempt < 5) continue;
      throw err;
    }
    const readyAt = new Date();
    log(`[cluster] ${name} restarted (pid ${c.pid}), down ${readyAt.getTime() - killedAt}ms`);
    return { pid: c.pid, downMs: readyAt.getTime() - killedAt, killedAt: new Date(killedAt), readyAt };
  }
}

async function kill(c: Component, log: (line: string) => void): Promise<void> {
  killNow([c]);
  await pollUntil(`${c.name} gone`, async () => (isRunning(c) ? undefined : true), {
    timeoutMs: 10_000,
    watch: [],
    log,
  });
  log(`[cluster] killed ${c.name} (pid ${c.pid})`);
}

/** The loopback ports a component listens on, which must be free before it starts again. */
function portsOf(state: ClusterState, name: string): number[] {
  const p = state.ports;
  const byName: Record<string, number[]> = {
    etcd: [p.etcdClient, p.etcdPeer],
    "kube-apiserver": [p.apiserver],
    "kube-controller-manager": [p.controllerManager],
    "kube-scheduler": [p.scheduler],
  };
  return byName[name] ?? [];
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

async function allFree(ports: number[]): Promise<true | undefined> {
  const free = await Promise.all(ports.map(portFree));
  return free.every(Boolean) ? true : undefined;
}
