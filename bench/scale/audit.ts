// Counting a controller's API requests per phase from the apiserver's audit
// log (Metadata level for every request, hack/localcluster/components.ts). Both
// controllers run as the same user, `modelops-operator`, on their own clusters.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

export const writeVerbs = ["create", "update", "patch", "delete", "deletecollection"] as const;

export interface Window {
  startMs: number;
  endMs: number;
}

/**
 * Requests keyed "verb resource[/subresource]" (e.g. "patch modeldeployments/status"),
 * one map per window (a request counts in every window its receipt falls in).
 */
export async function requestsByKind(
  auditLogPath: string,
  username: string,
  windows: Window[],
): Promise<Array<Map<string, number>>> {
  const counts = windows.map(() => new Map<string, number>());
  const lines = createInterface({
    input: createReadStream(auditLogPath),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  for await (const line of lines) {
    if (!line.includes(username)) continue; // cheap filter before parsing
    const e = JSON.parse(line) as {
      stage: string;
      verb: string;
      user: { username: string };
      requestReceivedTimestamp: string;
      objectRef?: { resource?: string; subresource?: string };
    };
    // Watches log ResponseStarted too; count each request once, when it completes.
    if (e.stage !== "ResponseComplete" || e.user.username !== username) continue;
    const t = Date.parse(e.requestReceivedTimestamp);
    const ref = e.objectRef ?? {};
    const key = `${e.verb} ${ref.resource ?? e.verb}${ref.subresource ? `/${ref.subresource}` : ""}`;
    windows.forEach((w, i) => {
      if (t >= w.startMs && t < w.endMs) counts[i]?.set(key, (counts[i]?.get(key) ?? 0) + 1);
    });
  }
  return counts;
}

const verbOf = (key: string) => key.split(" ")[0] ?? "";

export function isWrite(key: string): boolean {
  return (writeVerbs as readonly string[]).includes(verbOf(key));
}

export function writes(requests: Map<string, number>): number {
  return [...requests].reduce((sum, [key, n]) => sum + (isWrite(key) ? n : 0), 0);
}

export function total(requests: Map<string, number>): number {
  return [...requests.values()].reduce((a, b) => a + b, 0);
}

/** "create deployments 100, patch services 200", largest first; only writes. */
export function describeWrites(requests: Map<string, number>): string {
  const parts = [...requests].filter(([k]) => isWrite(k)).sort((a, b) => b[1] - a[1]);
  return parts.map(([k, n]) => `${k} ${n}`).join(", ") || "none";
}
