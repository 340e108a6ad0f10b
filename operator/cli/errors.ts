// What the plugin prints when a request fails, worded like kubectl's own
// messages so a user recognises them and knows what to check: which server
// (from which kubeconfig and context), and for apiserver answers the reason.
import { KubeApiError } from "../runtime/kube.ts";

/** Where requests go: enough to tell the user which cluster was asked. */
export interface Target {
  server: string;
  context: string;
  kubeconfig: string;
}

/** Command-line misuse: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {}

function hostPort(server: string): string {
  try {
    const url = new URL(server);
    return url.port
      ? `${url.hostname}:${url.port}`
      : `${url.hostname}:${url.protocol === "http:" ? 80 : 443}`;
  } catch {
    return server;
  }
}

const TLS_CODES = /^(CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_|ERR_TLS|ERR_SSL|HOSTNAME_MISMATCH)/;

/** The message for a failed request; `undefined` target when no kubeconfig was read. */
export function describeError(err: unknown, target?: Target): string {
  if (err instanceof KubeApiError) {
    if (err.status === 401) return "error: You must be logged in to the server (Unauthorized)";
    const hint =
      err.status === 404 && /could not find the requested resource/.test(err.message)
        ? "; are the modelops.io CRDs installed in this cluster?"
        : "";
    return `Error from server (${err.reason}): ${err.message}${hint}`;
  }
  const code = (err as NodeJS.ErrnoException)?.code ?? "";
  const message = (err as Error)?.message ?? String(err);
  if (!target) return `error: ${message}`;
  const where = `kubeconfig ${target.kubeconfig}, context ${JSON.stringify(target.context)}`;
  const server = hostPort(target.server);
  if (code === "ECONNREFUSED")
    return `The connection to the server ${server} was refused - did you specify the right host or port? (${where})`;
  if (code === "ENOTFOUND" || code === "EAI_AGAIN")
    return `Unable to connect to the server ${server}: no such host (${where})`;
  if (TLS_CODES.test(code))
    return `Unable to connect to the server ${server}: TLS: ${message} (${where}; check the cluster's certificate-authority-data)`;
  if (["ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET", "EPIPE"].includes(code))
    return `Unable to connect to the server ${server}: ${message} (${where}; is the cluster running and reachable?)`;
  return `error: ${message}`;
}
