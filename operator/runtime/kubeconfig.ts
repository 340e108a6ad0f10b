// How the operator reaches the apiserver: the in-cluster service account, or
// a kubeconfig file. A small loader of its own, because importing
// @kubernetes/client-node for its KubeConfig alone costs the process about
// 85 MiB of resident memory; kubeconfigs whose user runs an exec plugin or an
// auth provider (cloud logins) still go through client-node, loaded only then.
import { readFileSync, statSync } from "node:fs";
import https from "node:https";
import { dirname, isAbsolute, join } from "node:path";
import yaml from "js-yaml";

/** All KubeClient needs of a kubeconfig; client-node's KubeConfig has the same shape. */
export interface ApiAccess {
  getCurrentCluster(): { server: string } | null;
  /** Sets the TLS agent and credentials of one request; called per request so rotated tokens are read. */
  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void>;
}

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** How long a token read from a file is used before the file is read again (client-go: one minute). */
const TOKEN_FILE_TTL_MS = 60_000;

/** The kubeconfig at `file` (or $KUBECONFIG), else the in-cluster service account. */
export async function loadApiAccess(file = process.env.KUBECONFIG): Promise<ApiAccess> {
  if (!file) return inClusterAccess();
  return kubeconfigAccess(file) ?? (await clientNodeAccess(file));
}

export function inClusterAccess(env = process.env, dir = SERVICE_ACCOUNT_DIR): ApiAccess {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port)
    throw new Error(
      "no kubeconfig given (--kubeconfig or $KUBECONFIG) and not in a cluster (KUBERNETES_SERVICE_HOST is unset)",
    );
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  return new StaticAccess(
    server,
    { ca: readFileSync(join(dir, "ca.crt")) },
    tokenFromFile(join(dir, "token")),
  );
}

type Fields = Record<string, unknown>;
interface KubeconfigFile {
  "current-context"?: string;
  clusters?: Fields[];
  contexts?: Fields[];
  users?: Fields[];
}

/**
 * A kubeconfig with certificates, a token or basic auth, and impersonation
 * (`as`, `as-groups`); undefined when its user needs an exec plugin or auth
 * provider (client-node runs those).
 */
export function kubeconfigAccess(file: string): ApiAccess | undefined {
  const config = (yaml.load(readFileSync(file, "utf8")) ?? {}) as KubeconfigFile;
  // Paths in a kubeconfig are relative to its own directory.
  const resolvePath = (path: string) => (isAbsolute(path) ? path : join(dirname(file), path));
  const named = (list: Fields[] | undefined, name: unknown, what: string): Fields | undefined =>
    list?.find((e) => e.name === name)?.[what] as Fields | undefined;
  const context = named(config.contexts, config["current-context"], "context");
  const cluster = named(config.clusters, context?.cluster, "cluster");
  if (!context || !cluster?.server)
    throw new Error(`${file}: no server for the current context "${config["current-context"] ?? ""}"`);
  const user = named(config.users, context.user, "user") ?? {};
  if ("exec" in user || "auth-provider" in user) return undefined;
  const u = user as Record<string, string | undefined>;

  const material = (data: unknown, path: unknown): Buffer | undefined => {
    if (typeof data === "string") return Buffer.from(data, "base64");
    if (typeof path === "string") return readFileSync(resolvePath(path));
    return undefined;
  };
  const tls: https.AgentOptions = {
    ca: material(cluster["certificate-authority-data"], cluster["certificate-authority"]),
    cert: material(u["client-certificate-data"], u["client-certificate"]),
    key: material(u["client-key-data"], u["client-key"]),
    rejectUnauthorized: cluster["insecure-skip-tls-verify"] !== true,
    servername: cluster["tls-server-name"] as string | undefined,
  };
  let authorization: () => string | undefined = () => undefined;
  if (u.token) authorization = () => `Bearer ${u.token}`;
  else if (u.tokenFile) authorization = tokenFromFile(resolvePath(u.tokenFile));
  else if (u.username)
    authorization = () => `Basic ${Buffer.from(`${u.username}:${u.password ?? ""}`).toString("base64")}`;
  const headers: Record<string, string | string[]> = {};
  if (u.as) headers["impersonate-user"] = u.as;
  const groups = (user as { "as-groups"?: string[] })["as-groups"];
  if (groups?.length) headers["impersonate-group"] = groups;
  return new StaticAccess(String(cluster.server), tls, authorization, headers);
}

async function clientNodeAccess(file: string): Promise<ApiAccess> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return kc;
}

/** A bearer token read from a file, read again once a minute (projected tokens rotate). */
export function tokenFromFile(path: string, now = Date.now): () => string {
  let token = "";
  let readAt = Number.NEGATIVE_INFINITY;
  let mtime = 0;
  return () => {
    if (now() - readAt >= TOKEN_FILE_TTL_MS) {
      const changed = statSync(path).mtimeMs;
      if (changed !== mtime || !token) token = readFileSync(path, "utf8").trim();
      mtime = changed;
      readAt = now();
    }
    return `Bearer ${token}`;
  };
}

class StaticAccess implements ApiAccess {
  private readonly cluster: { server: string };
  /** One keep-alive agent for every request: TLS handshakes happen once per connection. */
  private readonly agent: https.Agent;
  private readonly authorization: () => string | undefined;
  /** Impersonation (the user's `as` and `as-groups`). */
  private readonly headers: Record<string, string | string[]>;

  constructor(
    server: string,
    tls: https.AgentOptions,
    authorization: () => string | undefined,
    headers: Record<string, string | string[]> = {},
  ) {
    this.cluster = { server };
    this.authorization = authorization;
    this.headers = headers;
    this.agent = new https.Agent({ ...tls, keepAlive: true });
  }

  getCurrentCluster(): { server: string } {
    return this.cluster;
  }

  async applyToHTTPSOptions(opts: https.RequestOptions): Promise<void> {
    if (this.cluster.server.startsWith("https:")) opts.agent = this.agent;
    const auth = this.authorization();
    opts.headers = { ...opts.headers, ...this.headers, ...(auth ? { authorization: auth } : {}) };
  }
}
