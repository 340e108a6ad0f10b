// The real node's network: one network namespace per cluster that the
// harness creates, joined to the host by a veth pair. Everything the node
// runs (containerd, the pods' bridge, kube-proxy's iptables rules, kubelet)
// lives inside it; the host only gets routes for the node's pod and Service
// ranges through the veth, so the load generator, Prometheus and the
// apiserver reach pods as they would in a cluster. The namespace has no
// default route: nothing in it can reach any address but the host's end of
// the link. Deleting the namespace removes the veth pair, the bridge, the
// iptables rules and, with the host's end of the link, the host routes.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Addresses of one cluster's node network, all derived from its slot. */
export interface NodeNetwork {
  slot: number;
  /** Network namespace name (also in /run/netns). */
  netns: string;
  /** The host's end of the veth pair (the node's end is eth0 in the namespace). */
  hostInterface: string;
  /** Host end of the /30 link: kubelet reaches the apiserver relay and pods reach CoreDNS here. */
  hostIp: string;
  /** The node's InternalIP. */
  nodeIp: string;
  linkCidr: string;
  /** The node's pods (the bridge's range). */
  podCidr: string;
  /** The cluster's Services (--service-cluster-ip-range). */
  serviceCidr: string;
  /** The `kubernetes` Service's ClusterIP, first of serviceCidr (in the apiserver's certificate). */
  kubernetesServiceIp: string;
}

const SLOTS = 200;

export function nodeNetwork(slot: number): NodeNetwork {
  if (!Number.isInteger(slot) || slot < 1 || slot > SLOTS)
    throw new Error(`node network slot ${slot} out of range`);
  return {
    slot,
    netns: `modelops-node-${slot}`,
    hostInterface: `mo-node-${slot}`,
    hostIp: `10.231.${slot}.1`,
    nodeIp: `10.231.${slot}.2`,
    linkCidr: `10.231.${slot}.0/30`,
    podCidr: `10.245.${slot}.0/24`,
    serviceCidr: `10.96.${slot}.0/24`,
    kubernetesServiceIp: `10.96.${slot}.1`,
  };
}

/** Where a cluster reserves its slot from its start, before its node (if any) creates the namespace. */
const SLOT_DIR = "/run/modelops/slots";

/**
 * A slot for a new cluster in `dir`: derived from the directory (so a
 * restarted dev cluster keeps its addresses) and moved on while taken.
 */
export function chooseSlot(dir: string, taken: (slot: number) => boolean): number {
  const start = createHash("sha256").update(dir).digest().readUInt16BE(0) % SLOTS;
  for (let i = 0; i < SLOTS; i++) {
    const slot = ((start + i) % SLOTS) + 1;
    if (!taken(slot)) return slot;
  }
  throw new Error(`all ${SLOTS} node network slots are in use (ip netns list; ${SLOT_DIR})`);
}

/** Chooses a slot no other cluster on this machine holds, and holds it for `dir`. */
export function reserveSlot(dir: string): number {
  const slot = chooseSlot(dir, (s) => slotInUse(s, dir));
  reserve(slot, dir);
  return slot;
}

function reserve(slot: number, dir: string): void {
  try {
    mkdirSync(SLOT_DIR, { recursive: true });
    writeFileSync(join(SLOT_DIR, String(slot)), dir);
  } catch {
    // Not root: no real node can start here anyway (realNodeUnsupported).
  }
}

/** Held by another cluster whose directory still exists, or by a namespace or interface of this harness. */
function slotInUse(slot: number, dir: string): boolean {
  const net = nodeNetwork(slot);
  const marker = join(SLOT_DIR, String(slot));
  const owner = existsSync(marker) ? readFileSync(marker, "utf8") : undefined;
  if (owner !== undefined && owner !== dir && existsSync(join(owner, "state.json"))) return true;
  if (owner === dir) return false;
  return existsSync(`/run/netns/${net.netns}`) || existsSync(`/sys/class/net/${net.hostInterface}`);
}

async function ip(args: string[]): Promise<void> {
  try {
    await run("ip", args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`ip ${args.join(" ")}: ${stderr || String(err)}`);
  }
}

async function inNetns(net: NodeNetwork, cmd: string[]): Promise<void> {
  await ip(["netns", "exec", net.netns, ...cmd]);
}

/**
 * The command prefix that runs a node component in the namespace. nsenter
 * switches only the network namespace: `ip netns exec` would also give each
 * component a private mount namespace, and containerd must see the volumes
 * kubelet mounts.
 */
export function netnsCommand(net: NodeNetwork): string[] {
  return ["nsenter", `--net=/run/netns/${net.netns}`, "--"];
}

/**
 * Creates the namespace, the link and the host routes. Fails, touching
 * nothing, if the namespace exists (another cluster's); once it has created
 * the namespace, a later failure removes what it made.
 */
export async function createNodeNetwork(net: NodeNetwork): Promise<void> {
  await ip(["netns", "add", net.netns]);
  try {
    await configureNodeNetwork(net);
  } catch (err) {
    await deleteNodeNetwork(net);
    throw err;
  }
}

async function configureNodeNetwork(net: NodeNetwork): Promise<void> {
  await ip(["link", "add", net.hostInterface, "type", "veth", "peer", "name", "eth0", "netns", net.netns]);
  await ip(["addr", "add", `${net.hostIp}/30`, "dev", net.hostInterface]);
  await ip(["link", "set", net.hostInterface, "up"]);
  await ip(["-n", net.netns, "addr", "add", `${net.nodeIp}/30`, "dev", "eth0"]);
  await ip(["-n", net.netns, "link", "set", "eth0", "up"]);
  await ip(["-n", net.netns, "link", "set", "lo", "up"]);
  // Routing between eth0 and the pods' bridge, and iptables seeing bridged
  // traffic (a pod calling a Service whose endpoint is on the same bridge).
  await inNetns(net, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
  await inNetns(net, ["sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1"]);
  for (const cidr of [net.podCidr, net.serviceCidr]) {
    await ip(["route", "add", cidr, "via", net.nodeIp, "dev", net.hostInterface]);
  }
}

/** Removes the namespace and the host's end of the link (and with it the routes). Idempotent. */
export async function deleteNodeNetwork(net: NodeNetwork): Promise<void> {
  if (existsSync(`/run/netns/${net.netns}`)) await ip(["netns", "delete", net.netns]);
  if (existsSync(`/sys/class/net/${net.hostInterface}`)) await ip(["link", "delete", net.hostInterface]);
}

/** Namespaces this harness created (for a reaper that finds no state file). */
export function harnessNamespaces(): string[] {
  if (!existsSync("/run/netns")) return [];
  return readdirSync("/run/netns").filter((n) => n.startsWith("modelops-node-"));
}
