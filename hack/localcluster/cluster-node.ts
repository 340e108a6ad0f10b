// Adds the real node to a running local cluster, from any process: the
// images are built (cached) and imported, the node's components are listed in
// the cluster's state.json as they start, and they outlive the caller, so
// whoever stops the cluster (hack/cluster.ts stop, the test run's teardown,
// the orphan reaper) also stops the node and removes what it created.
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { apiConnection } from "./api.ts";
import { liveComponents, readState, statePath } from "./cluster.ts";
import { nodeNetwork } from "./node-network.ts";
import { kubeconfigFor, pkiIn } from "./pki.ts";
import { detach } from "./procs.ts";
import { nodeLayoutState, realNodeUnsupported, startRealNode } from "./real-node.ts";
import { REAL_NODE_NAME } from "./real-node-config.ts";

const root = resolve(import.meta.dirname, "../..");

export interface NodeImages {
  pauseImage: string;
  mlserverImage: string;
  /** The operator's image: the operator, the artifact fetcher (--fetcher-image). */
  operatorImage: string;
  /** The modelops-proxy sidecar's image (--proxy-image). */
  proxyImage: string;
  tarballs: string[];
}

/** Runs a hack/ script, its progress (stderr) going to `log`; returns its last stdout line. */
async function script(path: string, log: (line: string) => void): Promise<string> {
  const child = execFile("bash", [join(root, path)], { maxBuffer: 64 << 20, timeout: 30 * 60_000 });
  child.stderr?.on("data", (chunk: string) => {
    for (const line of chunk.trimEnd().split("\n")) log(line);
  });
  let stdout = "";
  child.stdout?.on("data", (c: string) => {
    stdout += c;
  });
  const code = await new Promise<number | null>((r) => child.on("close", r));
  const last = stdout.trim().split("\n").pop()?.trim() ?? "";
  if (code !== 0) throw new Error(`${path} failed (exit ${code}); its output is above`);
  return last;
}

/** Builds (or reuses) every image the node runs: pause, MLServer, the operator's, the proxy's. */
export async function buildNodeImages(log: (line: string) => void): Promise<NodeImages> {
  await script("hack/node/packages.sh", log);
  const [imagesDir, operator] = await Promise.all([
    script("hack/node/images.sh", log),
    script("hack/node/operator-image.sh", log),
  ]);
  // After the operator's: both use the private engine, and the first to start it stops it.
  const proxy = await script("hack/proxy-image.sh", log);
  const env = Object.fromEntries(
    readFileSync(join(imagesDir, "images.env"), "utf8")
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => l.split("=", 2) as [string, string]),
  );
  const [operatorTarball = "", operatorImage = ""] = operator.split(" ");
  const [proxyTarball = "", proxyImage = ""] = proxy.split(" ");
  return {
    pauseImage: env.PAUSE_IMAGE ?? "",
    mlserverImage: env.MLSERVER_IMAGE ?? "",
    operatorImage,
    proxyImage,
    tarballs: [join(imagesDir, "pause.tar"), join(imagesDir, "mlserver.tar"), operatorTarball, proxyTarball],
  };
}

export interface RealNodeInfo {
  name: string;
  images: NodeImages;
  podCidr: string;
  serviceCidr: string;
}

/**
 * Starts the real node in the cluster in `clusterDir`, or returns the one
 * already running there. Throws with the reason when this machine cannot run
 * it (see realNodeUnsupported).
 */
export async function startRealNodeInDir(
  clusterDir: string,
  binDir: string,
  log: (line: string) => void = console.log,
): Promise<RealNodeInfo> {
  const unsupported = realNodeUnsupported();
  if (unsupported) throw new Error(`cannot start a real node here: ${unsupported}`);
  const dir = resolve(clusterDir);
  const state = readState(dir);
  if (!state?.ready) throw new Error(`no running cluster in ${dir}`);
  const images = await buildNodeImages(log);
  const net = nodeNetwork(state.nodeSlot);
  const info = { name: REAL_NODE_NAME, images, podCidr: net.podCidr, serviceCidr: net.serviceCidr };
  const running = state.realNode && liveComponents(state).some((c) => c.name === "kubelet");
  if (running) return info;
  const nodeState = nodeLayoutState(state.nodeSlot, dir);
  const save = () => writeFileSync(statePath(dir), `${JSON.stringify(state, null, 2)}\n`);
  // Listed before anything starts, so a crash half-way is still cleaned up.
  state.realNode = nodeState;
  save();
  const pki = pkiIn(join(dir, "pki"));
  const conn = apiConnection(state.apiserverUrl, pki.caCert, pki.clients.admin.cert, pki.clients.admin.key);
  const nodeComponents = new Set<number>();
  try {
    await startRealNode({
      state: nodeState,
      binDir,
      apiserverPort: state.ports.apiserver,
      caCert: pki.caCert,
      kubeconfig: (client, server) => kubeconfigFor(pki, client, server),
      kubeletServing: pki.kubeletServing,
      images: { pauseImage: images.pauseImage, tarballs: images.tarballs },
      conn,
      log,
      onStarted: (c) => {
        detach(c);
        nodeComponents.add(c.pid);
        state.components.push({ name: c.name, binary: c.binary, pid: c.pid, logPath: c.logPath });
        save();
      },
    });
  } catch (err) {
    // startRealNode has removed what it made; the cluster goes on without a node.
    delete state.realNode;
    state.components = state.components.filter((c) => !nodeComponents.has(c.pid));
    save();
    throw err;
  }
  return info;
}
