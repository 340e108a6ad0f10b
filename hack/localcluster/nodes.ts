// The fake nodes kwok manages, and the readiness checks that make the cluster
// usable for plain pods: Ready nodes without the not-ready taint, and the
// default ServiceAccount that pod admission requires.
import { type ApiConnection, apiRequest, getJson } from "./api.ts";
import { kwokNodeAnnotation } from "./components.ts";

export const kwokNodeLabel = { type: "kwok" } as const;

export function nodeName(i: number): string {
  return `kwok-node-${i}`;
}

function nodeManifest(i: number): unknown {
  const name = nodeName(i);
  const resources = { cpu: "32", memory: "256Gi", pods: "110" };
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      annotations: { [kwokNodeAnnotation]: "fake", "node.alpha.kubernetes.io/ttl": "0" },
      labels: {
        ...kwokNodeLabel,
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
      },
    },
    // Each node gets its own pod range, so kwok gives pods distinct IPs per node.
    spec: { podCIDR: `10.244.${i}.0/24`, podCIDRs: [`10.244.${i}.0/24`] },
    // Nodes may carry status on create; kwok's node-initialize keeps it.
    status: {
      allocatable: resources,
      capacity: resources,
      addresses: [
        { type: "InternalIP", address: `172.30.0.${i + 1}` },
        { type: "Hostname", address: name },
      ],
    },
  };
}

/** Creates the nodes; ones that already exist (a restarted dev cluster) are fine. */
export async function createNodes(conn: ApiConnection, count: number): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const res = await apiRequest(conn, "POST", "/api/v1/nodes", nodeManifest(i));
      if (res.status !== 201 && res.status !== 409) {
        throw new Error(`creating node ${nodeName(i)}: HTTP ${res.status}: ${res.body}`);
      }
    }),
  );
}

interface NodeList {
  items: Array<{
    metadata: { name: string };
    spec?: { taints?: Array<{ key: string }> };
    status?: { conditions?: Array<{ type: string; status: string }> };
  }>;
}

const blockingTaints = new Set(["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]);

/**
 * Resolves once `count` kwok nodes are Ready and schedulable; throws (for the
 * poller to report) naming the ones that are not.
 */
export async function nodesReady(conn: ApiConnection, count: number): Promise<true | undefined> {
  const list = await getJson<NodeList>(conn, "/api/v1/nodes?labelSelector=type%3Dkwok");
  if (!list) return undefined;
  const pending = list.items
    .filter((n) => {
      const ready = n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
      const tainted = n.spec?.taints?.some((t) => blockingTaints.has(t.key));
      return !ready || tainted;
    })
    .map((n) => n.metadata.name);
  const readyCount = list.items.length - pending.length;
  if (readyCount >= count) return true;
  throw new Error(
    `${readyCount}/${count} nodes ready${pending.length ? `; not yet: ${pending.join(", ")}` : ""}`,
  );
}

export async function defaultServiceAccountExists(conn: ApiConnection): Promise<true | undefined> {
  const sa = await getJson(conn, "/api/v1/namespaces/default/serviceaccounts/default");
  return sa === undefined ? undefined : true;
}
