// One real node beside the KWOK nodes: containerd, runc and CNI plugins from
// Debian, kubelet and kube-proxy built from the pinned Kubernetes, CoreDNS
// for the pods' cluster DNS, all in a network namespace of this cluster's own
// (node-network.ts). Images are imported from local tarballs; the node never
// pulls. Stopping it (or reaping it after a crash) kills what it ran,
// unmounts what it mounted, removes its cgroups and deletes its namespace.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { type ApiConnection, getJson } from "./api.ts";
import {
  createNodeNetwork,
  deleteNodeNetwork,
  type NodeNetwork,
  netnsCommand,
  nodeNetwork,
} from "./node-network.ts";
import {
  type Component,
  freePorts,
  pidRunsBinary,
  pollUntil,
  startComponent,
  stopComponents,
} from "./procs.ts";
import {
  cniConfDir,
  cniConfig,
  containerdConfig,
  containerdSocket,
  corefile,
  kubeletArgs,
  kubeletConfig,
  kubeProxyArgs,
  type NodeLayout,
  REAL_NODE_NAME,
} from "./real-node-config.ts";

const run = promisify(execFile);

/** What a state file keeps of a running node, enough to stop it from another process. */
export interface RealNodeState {
  slot: number;
  dir: string;
  runDir: string;
  cgroupRoot: string;
}

export function nodeLayoutState(slot: number, clusterDir: string): RealNodeState {
  return {
    slot,
    dir: join(clusterDir, "node"),
    runDir: `/run/modelops/node-${slot}`,
    cgroupRoot: `/modelops-node-${slot}`,
  };
}

/** Why the node cannot run on this machine, or undefined when it can. */
export function realNodeUnsupported(): string | undefined {
  if (process.getuid?.() !== 0) return "the real node needs root (network namespaces, mounts, cgroups)";
  if (!existsSync("/sys/fs/cgroup/memory") && !existsSync("/sys/fs/cgroup/cgroup.controllers"))
    return "no cgroup hierarchy at /sys/fs/cgroup";
  if (!existsSync("/proc/sys/net/bridge")) return "the kernel has no bridge netfilter (br_netfilter)";
  return undefined;
}

/** The v1 hierarchies (or the one v2 mount) in which the node's cgroup root is made. */
function cgroupHierarchies(): string[] {
  if (existsSync("/sys/fs/cgroup/cgroup.controllers")) return ["/sys/fs/cgroup"];
  return readdirSync("/sys/fs/cgroup")
    .map((d) => join("/sys/fs/cgroup", d))
    .filter((d) => existsSync(join(d, "cgroup.procs")));
}

function makeCgroupRoot(root: string): void {
  for (const h of cgroupHierarchies()) {
    const dir = join(h, root);
    mkdirSync(dir, { recursive: true });
    // A new cpuset has no CPUs or memory nodes until given its parent's.
    for (const f of ["cpuset.cpus", "cpuset.mems"]) {
      if (existsSync(join(dir, f)) && readFileSync(join(dir, f), "utf8").trim() === "") {
        writeFileSync(join(dir, f), readFileSync(join(h, f), "utf8"));
      }
    }
  }
}

/** Every process in the node's cgroups (the pods' containers and their pause processes). */
function cgroupPids(root: string): number[] {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const p of readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean))
      pids.add(Number(p));
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
  };
  for (const h of cgroupHierarchies()) walk(join(h, root));
  return [...pids];
}

function removeCgroups(root: string): void {
  const remove = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) remove(join(dir, e.name));
    try {
      rmdirSync(dir);
    } catch {
      // still has a process that is dying; the next stop or reap removes it
    }
  };
  for (const h of cgroupHierarchies()) remove(join(h, root));
}

/**
 * Processes whose arguments name the node's directories: its components
 * (each is given a path under them) and containerd's shims (daemons outside
 * its process group, given its socket). Found this way, they are stopped
 * even when no state file lists them.
 */
function nodeProcessPids(state: RealNodeState): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (argv.some((a) => a.includes(`${state.dir}/`) || a.includes(`${state.runDir}/`)))
        pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

/** Mount points under the node's directories, deepest first. */
function nodeMounts(state: RealNodeState): string[] {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m): m is string => !!m && (m.startsWith(`${state.dir}/`) || m.startsWith(`${state.runDir}/`)));
  return [...new Set(mounts)].sort((a, b) => b.length - a.length);
}

async function unmountAll(state: RealNodeState): Promise<void> {
  for (const m of nodeMounts(state)) await run("umount", ["-l", m]).catch(() => {});
}

/**
 * Stops the node's components and removes everything the node created.
 * Idempotent, and safe from another process than the one that started it
 * (components are matched by pid and binary).
 */
export async function stopRealNode(
  state: RealNodeState,
  components: Array<Pick<Component, "name" | "binary" | "pid" | "logPath">>,
): Promise<void> {
  const live = (names: string[]) =>
    components.filter((c) => names.includes(c.name) && pidRunsBinary(c.pid, c.binary)) as Component[];
  await stopComponents(live(["kubelet", "kube-proxy"]), 3000);
  killAll(cgroupPids(state.cgroupRoot));
  await stopComponents(live(["containerd", "coredns", "apiserver-relay"]), 3000);
  killAll(nodeProcessPids(state));
  await unmountAll(state);
  removeCgroups(state.cgroupRoot);
  await deleteNodeNetwork(nodeNetwork(state.slot));
  rmSync(state.runDir, { recursive: true, force: true });
  rmSync(state.dir, { recursive: true, force: true });
}

/**
 * Stops nodes whose cluster is gone (its directory or state file removed,
 * e.g. a test run killed before its teardown), found by the node.json each
 * node keeps in its run directory. Nodes of live clusters are left alone.
 */
export async function reapOrphanedNodes(log: (line: string) => void): Promise<void> {
  const root = "/run/modelops";
  if (!existsSync(root)) return;
  for (const entry of readdirSync(root).filter((e) => e.startsWith("node-"))) {
    let state: RealNodeState;
    try {
      state = JSON.parse(readFileSync(join(root, entry, "node.json"), "utf8")) as RealNodeState;
    } catch {
      continue;
    }
    if (existsSync(join(state.dir, "..", "state.json"))) continue;
    log(`[node] removing orphaned node ${state.runDir} (its cluster ${join(state.dir, "..")} is gone)`);
    await stopRealNode(state, []);
  }
}

export interface StartRealNodeOptions {
  state: RealNodeState;
  binDir: string;
  apiserverPort: number;
  caCert: string;
  /** Kubeconfig writer for a client identity and server URL (pki.ts). */
  kubeconfig: (client: "kubelet" | "kube-proxy" | "coredns", server: string) => string;
  kubeletServing: { cert: string; key: string };
  /** docker-archive tarballs to import; the first names the pause image. */
  images: { pauseImage: string; tarballs: string[] };
  conn: ApiConnection;
  log: (line: string) => void;
  /** Called with each started component, so a state file lists it before the next starts. */
  onStarted: (c: Component) => void;
  timeoutMs?: number;
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)}s`;
}

function writeFiles(
  l: NodeLayout,
  o: StartRealNodeOptions,
): { kubeletConfigPath: string; containerdConfigPath: string; corefilePath: string } {
  for (const d of [l.dir, l.runDir, cniConfDir(l), join(l.dir, "pod-logs")])
    mkdirSync(d, { recursive: true });
  const relay = `https://${l.net.hostIp}:${o.apiserverPort}`;
  writeFileSync(l.kubeletKubeconfig, o.kubeconfig("kubelet", relay));
  writeFileSync(l.kubeProxyKubeconfig, o.kubeconfig("kube-proxy", relay));
  writeFileSync(l.corednsKubeconfig, o.kubeconfig("coredns", `https://127.0.0.1:${o.apiserverPort}`));
  writeFileSync(join(cniConfDir(l), "10-modelops.conflist"), cniConfig(l));
  const paths = {
    kubeletConfigPath: join(l.dir, "kubelet.yaml"),
    containerdConfigPath: join(l.dir, "containerd.toml"),
    corefilePath: join(l.dir, "Corefile"),
  };
  writeFileSync(paths.kubeletConfigPath, kubeletConfig(l));
  writeFileSync(paths.containerdConfigPath, containerdConfig(l));
  writeFileSync(paths.corefilePath, corefile(l));
  // Lets a reaper that finds the namespace but no state file stop the node.
  writeFileSync(join(l.runDir, "node.json"), `${JSON.stringify(o.state)}\n`);
  return paths;
}

async function ctr(l: NodeLayout, args: string[]): Promise<string> {
  const { stdout } = await run("ctr", ["--address", containerdSocket(l), "--namespace", "k8s.io", ...args], {
    maxBuffer: 16 << 20,
    timeout: 300_000,
  });
  return stdout;
}

async function nodeReady(conn: ApiConnection): Promise<true | undefined> {
  const node = await getJson<{
    status?: { conditions?: Array<{ type: string; status: string; message?: string }> };
  }>(conn, `/api/v1/nodes/${REAL_NODE_NAME}`);
  if (!node) throw new Error(`node ${REAL_NODE_NAME} not registered yet`);
  const ready = node.status?.conditions?.find((c) => c.type === "Ready");
  if (ready?.status === "True") return true;
  throw new Error(`node ${REAL_NODE_NAME} not Ready: ${ready?.message ?? "no condition yet"}`);
}

/** Starts the node; on failure stops what it started and rethrows with the failing component's log. */
export async function startRealNode(o: StartRealNodeOptions): Promise<Component[]> {
  const t0 = Date.now();
  const net: NodeNetwork = nodeNetwork(o.state.slot);
  const l: NodeLayout = {
    net,
    dir: o.state.dir,
    runDir: o.state.runDir,
    cgroupRoot: o.state.cgroupRoot,
    caCert: o.caCert,
    pauseImage: o.images.pauseImage,
    kubeletKubeconfig: join(o.state.dir, "kubelet.kubeconfig"),
    kubeProxyKubeconfig: join(o.state.dir, "kube-proxy.kubeconfig"),
    corednsKubeconfig: join(o.state.dir, "coredns.kubeconfig"),
    kubeletServing: o.kubeletServing,
  };
  const started: Component[] = [];
  const logs = join(l.dir, "logs");
  const launch = (name: string, binary: string, args: string[], inNetns: boolean): Component => {
    const prefix = inNetns ? netnsCommand(net) : [];
    const c = startComponent(name, binary, args, join(logs, `${name}.log`), prefix);
    started.push(c);
    o.onStarted(c);
    return c;
  };
  const wait = async (what: string, check: () => Promise<true | undefined>) => {
    const t = Date.now();
    await pollUntil(what, check, { timeoutMs: o.timeoutMs ?? 120_000, watch: started, log: o.log });
    o.log(`[node] ${what} in ${seconds(t)}`);
  };
  // Outside the try: if the namespace exists, it is another cluster's, and nothing here may remove it.
  await createNodeNetwork(net);
  try {
    const files = writeFiles(l, o);
    mkdirSync(logs, { recursive: true });
    makeCgroupRoot(l.cgroupRoot);
    launch(
      "apiserver-relay",
      process.execPath,
      [
        join(import.meta.dirname, "tcp-relay.ts"),
        `${net.hostIp}:${o.apiserverPort}`,
        `127.0.0.1:${o.apiserverPort}`,
        // Names the node's directory, so a reaper without a state file finds it (nodeProcessPids).
        `${l.runDir}/relay`,
      ],
      false,
    );
    launch("coredns", join(o.binDir, "coredns"), ["-conf", files.corefilePath], false);
    launch("containerd", "/usr/bin/containerd", ["--config", files.containerdConfigPath], true);
    await wait("containerd ready", async () => ((await ctr(l, ["version"])) ? true : undefined));
    let t = Date.now();
    for (const tarball of o.images.tarballs) await ctr(l, ["images", "import", tarball]);
    o.log(`[node] ${o.images.tarballs.length} image(s) imported in ${seconds(t)}`);
    // kube-proxy's ports are in the node's namespace, whose loopback is its own.
    const [health = 10256, metrics = 10249] = await freePorts(2);
    launch("kubelet", join(o.binDir, "kubelet"), kubeletArgs(l, files.kubeletConfigPath), true);
    launch("kube-proxy", join(o.binDir, "kube-proxy"), kubeProxyArgs(l, { health, metrics }), true);
    t = Date.now();
    await wait(`node ${REAL_NODE_NAME} Ready`, () => nodeReady(o.conn));
    o.log(`[node] ${REAL_NODE_NAME} up in ${seconds(t0)} (pods ${net.podCidr}, services ${net.serviceCidr})`);
    return started;
  } catch (err) {
    await stopRealNode(o.state, started);
    throw err;
  }
}
