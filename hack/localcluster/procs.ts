// Process plumbing for the local control plane: spawning components with their
// output in a log file, failing fast with the log's tail when one dies, and
// stopping them (ours or a previous run's) without leaving anything behind.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

export interface Component {
  name: string;
  binary: string;
  pid: number;
  logPath: string;
  /** Set while this process is the parent; absent for a previous run's processes. */
  child?: ChildProcess;
  /** Resolves when the process has exited (only meaningful with `child`). */
  exited?: Promise<void>;
}

export class ComponentError extends Error {}

/** The last `n` lines of a log, for error messages that say why a component failed. */
export function tailLog(path: string, n = 20): string {
  if (!existsSync(path)) return "(no log)";
  const lines = readFileSync(path, "utf8").trimEnd().split("\n");
  return lines.slice(-n).join("\n");
}

export function componentFailure(c: Component, why: string): ComponentError {
  return new ComponentError(`[cluster] ${c.name} ${why}; last lines of ${c.logPath}:\n${tailLog(c.logPath)}`);
}

/**
 * Starts a component in its own process group with stdout and stderr going to
 * its log, so `detach` lets it outlive us (CLI mode) and stopping can signal the
 * whole group.
 */
export function startComponent(
  name: string,
  binary: string,
  args: string[],
  logPath: string,
  /** A command that execs the binary (e.g. nsenter into a network namespace). */
  prefix: string[] = [],
): Component {
  const fd = openSync(logPath, "a");
  try {
    const [command, ...argv] = [...prefix, binary, ...args] as [string, ...string[]];
    const child = spawn(command, argv, { stdio: ["ignore", fd, fd], detached: true });
    if (child.pid === undefined) throw new ComponentError(`[cluster] could not start ${name} (${binary})`);
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    // A spawn error (ENOENT) is reported through the exit check; swallow the event.
    child.on("error", () => {});
    return { name, binary, pid: child.pid, logPath, child, exited };
  } finally {
    closeSync(fd);
  }
}

/** Lets the CLI exit while its components keep running. */
export function detach(c: Component): void {
  c.child?.unref();
}

export function isRunning(c: Component): boolean {
  if (c.child) return c.child.exitCode === null && c.child.signalCode === null;
  return pidAlive(c.pid);
}

/** Throws with the log's tail if the component has died. */
export function assertRunning(c: Component): void {
  if (!isRunning(c)) {
    const how = c.child
      ? `exited (code ${c.child.exitCode}, signal ${c.child.signalCode})`
      : "is not running";
    throw componentFailure(c, how);
  }
}

function pidAlive(pid: number): boolean {
  try {
    // A zombie still answers kill(0); it has exited for our purposes.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/**
 * True if `pid` is still the binary we started. PIDs get reused, so a stale
 * state file must never make us kill an unrelated process.
 */
export function pidRunsBinary(pid: number, binary: string): boolean {
  try {
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0];
    return argv0 === binary && pidAlive(pid);
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig); // the process group: the component and anything it spawned
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

/** Synchronous last resort for process exit hooks, where nothing async runs. */
export function killNow(components: Component[]): void {
  for (const c of components) if (isRunning(c)) signal(c.pid, "SIGKILL");
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once every process is gone. */
export async function stopComponents(components: Component[], graceMs = 5000): Promise<void> {
  const live = components.filter(isRunning);
  for (const c of live) signal(c.pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (live.some(isRunning) && Date.now() < deadline) await sleep(50);
  for (const c of live) if (isRunning(c)) signal(c.pid, "SIGKILL");
  await Promise.all(live.map((c) => waitGone(c)));
}

async function waitGone(c: Component): Promise<void> {
  if (c.exited) return c.exited;
  const deadline = Date.now() + 5000;
  while (pidAlive(c.pid) && Date.now() < deadline) await sleep(50);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Free loopback ports, chosen by the kernel so that several clusters (a test
 * run and a dev cluster) can run side by side. All are held open until every
 * one is chosen, so the same call never returns one port twice.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
      });
      return server;
    }),
  );
  const ports = servers.map((s) => {
    const addr = s.address();
    if (addr === null || typeof addr === "string") throw new Error("no port");
    return addr.port;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/**
 * Polls `check` until it returns a value, failing fast if any watched component
 * dies and reporting progress every few seconds so a slow start is visible.
 */
export async function pollUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  opts: {
    timeoutMs: number;
    watch: Component[];
    log: (line: string) => void;
    intervalMs?: number;
    /** Stops polling when a sibling wait has already failed. */
    signal?: AbortSignal;
  },
): Promise<T> {
  const start = Date.now();
  let lastReport = start;
  let lastError = "";
  for (;;) {
    opts.signal?.throwIfAborted();
    for (const c of opts.watch) assertRunning(c);
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    const now = Date.now();
    if (now - start > opts.timeoutMs) {
      throw new ComponentError(
        `[cluster] timed out after ${opts.timeoutMs}ms waiting for ${what}; last error: ${lastError || "none"}`,
      );
    }
    if (now - lastReport >= 5000) {
      opts.log(
        `[cluster] still waiting for ${what} (${((now - start) / 1000).toFixed(0)}s)${lastError ? `: ${lastError}` : ""}`,
      );
      lastReport = now;
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

// Components this process must not leave behind. Signal listeners exist only
// while something is tracked, because a SIGINT listener suppresses Node's
// default exit and we should not change the host's behaviour (vitest's) after.
const tracked = new Set<Component>();
const exitSignals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

function killTrackedOnExit(): void {
  killNow([...tracked]);
}

function killTrackedOnSignal(sig: NodeJS.Signals): void {
  killNow([...tracked]);
  untrack([...tracked]);
  // Nobody else handles it: behave as if we had not been listening.
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

export function track(components: Component[]): void {
  if (tracked.size === 0) {
    process.on("exit", killTrackedOnExit);
    for (const sig of exitSignals) process.on(sig, killTrackedOnSignal);
  }
  for (const c of components) tracked.add(c);
}

export function untrack(components: Component[]): void {
  if (tracked.size === 0) return;
  for (const c of components) tracked.delete(c);
  if (tracked.size === 0) {
    process.off("exit", killTrackedOnExit);
    for (const sig of exitSignals) process.off(sig, killTrackedOnSignal);
  }
}
