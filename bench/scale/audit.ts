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

/** Requests by verb, one map per window (a request counts in every window its receipt falls in). */
export async function requestsByVerb(
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
    };
    // Watches log ResponseStarted too; count each request once, when it completes.
    if (e.stage !== "ResponseComplete" || e.user.username !== username) continue;
    const t = Date.parse(e.requestReceivedTimestamp);
    windows.forEach((w, i) => {
      if (t >= w.startMs && t < w.endMs) counts[i]?.set(e.verb, (counts[i]?.get(e.verb) ?? 0) + 1);
    });
  }
  return counts;
}

export function writes(byVerb: Map<string, number>): number {
  return writeVerbs.reduce((sum, v) => sum + (byVerb.get(v) ?? 0), 0);
}
