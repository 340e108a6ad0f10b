// A second kube-apiserver on the same etcd, for the moment the cluster's own
// apiserver is down (see restartComponent's whileDown): changes made through
// it happen while every client of the real one is disconnected, as with an
// HA control plane whose other instances keep serving writes. That makes
// "what changed during the outage" deterministic instead of a race with the
// clients' reconnect.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { apiConnection, apiRequest } from "../../hack/localcluster/api.ts";
import {
  freePorts,
  pollUntil,
  startComponent,
  stopComponents,
  track,
  untrack,
} from "../../hack/localcluster/procs.ts";
import type { DownComponent } from "./restart-component.ts";

/** The real apiserver's flags with its own port and audit log, so the two never share a file. */
function standInArgs(args: string[], port: number, dir: string): string[] {
  return args.map((a) => {
    if (a.startsWith("--secure-port=")) return `--secure-port=${port}`;
    if (a.startsWith("--audit-log-path=")) return `--audit-log-path=${join(dir, "standin-audit.log")}`;
    return a;
  });
}

/**
 * Starts a stand-in for the down kube-apiserver, runs `fn` with an admin
 * kubeconfig pointing at it, and stops it (also when `fn` throws).
 */
export async function withStandInApiserver(
  down: DownComponent,
  fn: (kubeconfig: string) => Promise<void>,
  log: (line: string) => void = () => {},
): Promise<void> {
  if (down.name !== "kube-apiserver") throw new Error(`no stand-in for ${down.name}`);
  const dir = down.state.dir;
  const [port] = await freePorts(1);
  const url = `https://127.0.0.1:${port}`;
  const c = startComponent(
    "kube-apiserver",
    down.binary,
    standInArgs(down.args, port ?? 0, dir),
    join(dir, "logs", "kube-apiserver-standin.log"),
  );
  track([c]);
  try {
    const pki = join(dir, "pki");
    const conn = apiConnection(
      url,
      join(pki, "ca.crt"),
      join(pki, "client-admin.crt"),
      join(pki, "client-admin.key"),
    );
    const ready = async () => ((await apiRequest(conn, "GET", "/readyz")).status === 200 ? true : undefined);
    await pollUntil("stand-in kube-apiserver ready", ready, { timeoutMs: 60_000, watch: [c], log });
    // Same credentials and CA as the admin kubeconfig; only the server differs.
    const kubeconfig = join(dir, "standin.kubeconfig");
    const admin = readFileSync(down.state.kubeconfig, "utf8");
    writeFileSync(kubeconfig, admin.replaceAll(down.state.apiserverUrl, url));
    log(`[cluster] stand-in kube-apiserver ready at ${url}`);
    await fn(kubeconfig);
  } finally {
    await stopComponents([c], 1000);
    untrack([c]);
  }
}
