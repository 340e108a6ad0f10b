// A real local control plane for integration tests and development: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok with fake
// nodes, all on free loopback ports under one directory.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type ApiConnection, apiConnection, apiRequest, componentHealthy } from "./api.ts";
import {
  apiserverArgs,
  auditPolicy,
  controllerManagerArgs,
  etcdArgs,
  kwokArgs,
  type Layout,
  schedulerArgs,
} from "./components.ts";
import { installCrds } from "./crds.ts";
import { nodeNetwork, reserveSlot } from "./node-network.ts";
import { createNodes, defaultServiceAccountExists, nodesReady } from "./nodes.ts";
import { createPki, kubeconfigFor } from "./pki.ts";
import {
  assertRunning,
  type Component,
  detach,
  freePorts,
  pidRunsBinary,
  pollUntil,
  startComponent,
  stopComponents,
  track,
  untrack,
} from "./procs.ts";
import { type RealNodeState, reapOrphanedNodes, stopRealNode } from "./real-node.ts";

export interface StartClusterOptions {
  /** Holds everything: pki, etcd data, logs, kubeconfigs, state.json. Reset on start. */
  dir: string;
  /** Number of kwok nodes. */
  nodes?: number;
  /** Directory with etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok. */
  binDir: string;
  log?: (line: string) => void;
  /** Let the components outlive this process (the CLI); otherwise they die with it. */
  detach?: boolean;
  stagesPath?: string;
  /** CRD manifests to install before the controllers start (see crds.ts for why). */
  crdsDir?: string;
  /** Per wait (etcd, apiserver, nodes); a cold start on a loaded machine can be slow. */
  timeoutMs?: number;
  /**
   * Service range, e.g. "10.112.0.0/16" for a fleet of thousands of Services
   * (bench/scale.ts); default: the node network slot's /24 (254 addresses).
   * A cluster with a wider range cannot run a real node (its routes use the slot's).
   */
  serviceCidr?: string;
  /**
   * kube-controller-manager's client QPS (burst twice that); default its own
   * 20. All its controllers share this one client, so at thousands of
   * Deployments their status updates queue behind it (bench/scale.ts raises it).
   */
  controllerManagerQps?: number;
}

export interface Cluster {
  dir: string;
  /** Admin (system:masters) kubeconfig. */
  kubeconfig: string;
  /** Kubeconfig of user `modelops-operator` (system:masters), to tell its requests apart in the audit log. */
  operatorKubeconfig: string;
  apiserverUrl: string;
  auditLogPath: string;
  stop(): Promise<void>;
}

export interface ClusterState {
  dir: string;
  apiserverUrl: string;
  kubeconfig: string;
  operatorKubeconfig: string;
  auditLogPath: string;
  ports: Layout["ports"];
  components: Array<Pick<Component, "name" | "binary" | "pid" | "logPath">>;
  startedAt: string;
  ready: boolean;
  /** The process the components die with; absent when detached (CLI). */
  ownerPid?: number;
  /** The slot of the node network (node-network.ts): the Service range, and the real node's addresses. */
  nodeSlot: number;
  /** Set once a real node runs (startRealNodeInDir); its components are in `components`. */
  realNode?: RealNodeState;
}

const here = dirname(fileURLToPath(import.meta.url));
export const defaultStagesPath = resolve(here, "../kwok/stages.yaml");

export function statePath(dir: string): string {
  return join(dir, "state.json");
}

export function readState(dir: string): ClusterState | undefined {
  const path = statePath(dir);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as ClusterState;
  } catch {
    return undefined;
  }
}

/** The components a state file lists that still run the binary it names. */
export function liveComponents(state: ClusterState | undefined): Component[] {
  return (state?.components ?? []).filter((c) => pidRunsBinary(c.pid, c.binary));
}

/** Stops what a previous run in `dir` left running; true if there was anything. */
export async function stopClusterInDir(
  dir: string,
  log: (line: string) => void = () => {},
): Promise<boolean> {
  const state = readState(dir);
  if (state?.realNode) {
    log(`[cluster] stopping the real node (${state.realNode.runDir})`);
    await stopRealNode(state.realNode, state.components);
  }
  const live = liveComponents(state);
  if (state && state.components.length > 0) {
    if (live.length > 0) log(`[cluster] stopping ${live.map((c) => `${c.name}(${c.pid})`).join(", ")}`);
    await stopComponents(live);
    const { realNode: _stopped, ...rest } = state;
    writeFileSync(statePath(dir), `${JSON.stringify({ ...rest, components: [], ready: false }, null, 2)}\n`);
  }
  return live.length > 0;
}

/**
 * Stops and deletes clusters under `parent` named `prefix*` whose owner died
 * without stopping them (a SIGKILLed test run: no exit hook runs). Clusters of
 * live owners, e.g. a concurrent test run, are left alone.
 */
export async function reapOrphanedClusters(
  parent: string,
  prefix: string,
  log: (line: string) => void,
): Promise<void> {
  await reapOrphanedNodes(log);
  const dirs = readdirSync(parent).filter((d) => d.startsWith(prefix));
  for (const name of dirs) {
    const dir = join(parent, name);
    const state = readState(dir);
    if (!state?.ownerPid || isPidAlive(state.ownerPid)) continue;
    log(`[cluster] removing orphaned cluster ${dir} (owner ${state.ownerPid} is gone)`);
    await stopClusterInDir(dir, log);
    rmSync(dir, { recursive: true, force: true });
  }
}

function isPidAlive(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)}s`;
}

async function prepare(dir: string, stagesPath: string, serviceCidr?: string): Promise<Layout> {
  for (const sub of ["etcd", "logs", "pki"]) rmSync(join(dir, sub), { recursive: true, force: true });
  mkdirSync(join(dir, "logs"), { recursive: true });
  const slotNet = nodeNetwork(reserveSlot(dir));
  const net = serviceCidr
    ? { ...slotNet, serviceCidr, kubernetesServiceIp: firstHostAddress(serviceCidr) }
    : slotNet;
  const [pki, [etcdClient = 0, etcdPeer = 0, apiserver = 0, controllerManager = 0, scheduler = 0]] =
    await Promise.all([createPki(join(dir, "pki"), net), freePorts(5)]);
  const auditPolicyPath = join(dir, "audit-policy.yaml");
  writeFileSync(auditPolicyPath, auditPolicy);
  const auditLogPath = join(dir, "audit.log");
  rmSync(auditLogPath, { force: true });
  const server = `https://127.0.0.1:${apiserver}`;
  const kubeconfigs = {
    controllerManager: join(dir, "controller-manager.kubeconfig"),
    scheduler: join(dir, "scheduler.kubeconfig"),
    kwok: join(dir, "kwok.kubeconfig"),
  };
  writeFileSync(kubeconfigs.controllerManager, kubeconfigFor(pki, "controller-manager", server));
  writeFileSync(kubeconfigs.scheduler, kubeconfigFor(pki, "scheduler", server));
  writeFileSync(kubeconfigs.kwok, kubeconfigFor(pki, "kwok", server));
  writeFileSync(join(dir, "kubeconfig"), kubeconfigFor(pki, "admin", server));
  writeFileSync(join(dir, "operator.kubeconfig"), kubeconfigFor(pki, "operator", server));
  const ports = { etcdClient, etcdPeer, apiserver, controllerManager, scheduler };
  return { dir, pki, ports, auditPolicyPath, auditLogPath, stagesPath, kubeconfigs, net };
}

/** "10.112.0.0/16" -> "10.112.0.1": the `kubernetes` Service's ClusterIP, in the apiserver's certificate. */
function firstHostAddress(cidr: string): string {
  const octets = (cidr.split("/")[0] ?? "").split(".").map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255))
    throw new Error(`serviceCidr ${cidr}: not an IPv4 CIDR`);
  const [a = 0, b = 0, c = 0, d = 0] = octets;
  const n = ((a * 256 + b) * 256 + c) * 256 + d + 1;
  return [Math.floor(n / 2 ** 24), Math.floor(n / 2 ** 16) % 256, Math.floor(n / 256) % 256, n % 256].join(
    ".",
  );
}

function writeState(layout: Layout, components: Component[], ready: boolean, owned = true): ClusterState {
  const state: ClusterState = {
    dir: layout.dir,
    apiserverUrl: `https://127.0.0.1:${layout.ports.apiserver}`,
    kubeconfig: join(layout.dir, "kubeconfig"),
    operatorKubeconfig: join(layout.dir, "operator.kubeconfig"),
    auditLogPath: layout.auditLogPath,
    ports: layout.ports,
    components: components.map(({ name, binary, pid, logPath }) => ({ name, binary, pid, logPath })),
    startedAt: new Date().toISOString(),
    ready,
    ...(owned ? { ownerPid: process.pid } : {}),
    nodeSlot: layout.net.slot,
  };
  writeFileSync(statePath(layout.dir), `${JSON.stringify(state, null, 2)}\n`);
  return state;
}

async function etcdHealthy(port: number): Promise<true | undefined> {
  const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) });
  const body = (await res.json()) as { health?: string };
  if (body.health === "true") return true;
  throw new Error(`etcd health: ${JSON.stringify(body)}`);
}

async function apiserverReady(conn: ApiConnection): Promise<true | undefined> {
  const res = await apiRequest(conn, "GET", "/readyz");
  if (res.status === 200) return true;
  // The failing checks ("[-]poststarthook/... failed") say what it is still doing.
  const failing = res.body.split("\n").filter((l) => l.startsWith("[-]"));
  throw new Error(`/readyz ${res.status}${failing.length ? `: ${failing.join(" ").slice(0, 300)}` : ""}`);
}

/**
 * Starts a fresh cluster in `opts.dir`, first stopping whatever a previous run
 * there left behind. On any failure every component started so far is killed
 * and the error carries the failing component's log tail.
 */
export async function startCluster(opts: StartClusterOptions): Promise<Cluster> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const dir = resolve(opts.dir);
  const t0 = Date.now();
  mkdirSync(dir, { recursive: true });
  await stopClusterInDir(dir, log);
  const layout = await prepare(dir, opts.stagesPath ?? defaultStagesPath, opts.serviceCidr);
  const started: Component[] = [];
  try {
    await bringUp(layout, started, { ...opts, log, timeoutMs: opts.timeoutMs ?? 120_000 });
  } catch (err) {
    await stopComponents(started);
    untrack(started);
    writeState(layout, [], false);
    throw err;
  }
  const state = writeState(layout, started, true, !opts.detach);
  if (opts.detach) {
    for (const c of started) detach(c);
    untrack(started);
  }
  log(`[cluster] ready in ${seconds(t0)}: ${state.apiserverUrl}, kubeconfig ${state.kubeconfig}`);
  return {
    dir,
    kubeconfig: state.kubeconfig,
    operatorKubeconfig: state.operatorKubeconfig,
    apiserverUrl: state.apiserverUrl,
    auditLogPath: state.auditLogPath,
    stop: async () => {
      await stopComponents(started);
      untrack(started);
      writeState(layout, [], false);
    },
  };
}

/** Like Promise.all, but on the first failure stops the sibling polls before rethrowing. */
async function allOrAbort(abort: AbortController, waits: Promise<void>[]): Promise<void> {
  try {
    await Promise.all(waits);
  } catch (err) {
    abort.abort();
    await Promise.allSettled(waits);
    throw err;
  }
}

type UpOptions = StartClusterOptions & { log: (line: string) => void; timeoutMs: number };

async function bringUp(layout: Layout, started: Component[], opts: UpOptions): Promise<void> {
  const { log, timeoutMs } = opts;
  const launch = (name: string, args: string[]): Component => {
    const c = startComponent(name, join(opts.binDir, name), args, join(layout.dir, "logs", `${name}.log`));
    started.push(c);
    track([c]);
    writeState(layout, started, false);
    return c;
  };
  const abort = new AbortController();
  const waitFor = async (what: string, check: () => Promise<true | undefined>, t: number) => {
    await pollUntil(what, check, { timeoutMs, watch: started, log, signal: abort.signal });
    log(`[cluster] ${what} in ${seconds(t)}`);
  };

  let t = Date.now();
  launch("etcd", etcdArgs(layout));
  await waitFor("etcd ready", () => etcdHealthy(layout.ports.etcdClient), t);

  t = Date.now();
  launch("kube-apiserver", apiserverArgs(layout));
  const { cert, key } = layout.pki.clients.admin;
  const conn = apiConnection(`https://127.0.0.1:${layout.ports.apiserver}`, layout.pki.caCert, cert, key);
  await waitFor("kube-apiserver ready", () => apiserverReady(conn), t);
  if (opts.crdsDir) {
    t = Date.now();
    const kubeconfig = join(layout.dir, "kubeconfig");
    const count = await installCrds(opts.crdsDir, kubeconfig, opts.binDir);
    log(`[cluster] ${count} CRD file(s) from ${opts.crdsDir} established in ${seconds(t)}`);
  }

  t = Date.now();
  launch("kube-controller-manager", controllerManagerArgs(layout, opts.controllerManagerQps));
  launch("kube-scheduler", schedulerArgs(layout));
  launch("kwok", kwokArgs(layout));
  const nodes = opts.nodes ?? 3;
  await createNodes(conn, nodes);
  await allOrAbort(abort, [
    waitFor(
      "kube-controller-manager healthy",
      () => componentHealthy(layout.ports.controllerManager, "/healthz"),
      t,
    ),
    waitFor("kube-scheduler ready", () => componentHealthy(layout.ports.scheduler, "/readyz"), t),
    waitFor(`${nodes} nodes ready`, () => nodesReady(conn, nodes), t),
    waitFor("default ServiceAccount created", () => defaultServiceAccountExists(conn), t),
  ]);
  for (const c of started) assertRunning(c);
}
