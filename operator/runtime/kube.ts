import http from "node:http";
import https from "node:https";
import { createInterface } from "node:readline";
import type { Counter, Registry } from "prom-client";
import type { ApiAccess } from "./kubeconfig.ts";
import { counterOn } from "./metrics.ts";
import { collectionRefOf, type ResourceRef, refOf, resourcePath } from "./paths.ts";
import type { KubeObject } from "./types.ts";

/** An apiserver rejection (or a transport failure, with status 0). */
export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly details: unknown;

  constructor(status: number, reason: string, message: string, details?: unknown) {
    super(message);
    this.name = "KubeApiError";
    this.status = status;
    this.reason = reason;
    this.details = details;
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 404;
}
export function isConflict(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 409;
}
export function isGone(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 410;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
  continue?: string;
}

export interface WatchEvent<T = KubeObject> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T;
}

export interface WatchOptions {
  resourceVersion?: string;
  timeoutSeconds?: number;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface ApplyOptions {
  fieldManager: string;
  force?: boolean;
  subresource?: "status";
}

export interface KubeClientOptions {
  registry?: Registry;
  /** Per-request timeout for everything but watches. Default 30 s. */
  timeoutMs?: number;
}

interface SendOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "apply" | "delete";

/**
 * A thin, path-based REST client. It is generic because the operator handles
 * its own CRDs and core kinds alike; typed wrappers would add nothing here.
 */
export class KubeClient {
  /** Requests sent per verb since creation; lets tests assert "no writes". */
  readonly requestCounts: Record<Verb, number> = {
    get: 0,
    list: 0,
    watch: 0,
    create: 0,
    update: 0,
    patch: 0,
    apply: 0,
    delete: 0,
  };
  private readonly kc: ApiAccess;
  private readonly timeoutMs: number;
  private readonly counter: Counter<"verb" | "code"> | undefined;

  constructor(kc: ApiAccess, opts: KubeClientOptions = {}) {
    this.kc = kc;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.counter = opts.registry
      ? counterOn(opts.registry, {
          name: "modelops_kube_requests_total",
          help: "Requests sent to the Kubernetes apiserver, by verb and HTTP status code.",
          labelNames: ["verb", "code"],
        })
      : undefined;
  }

  /** Total of create/update/patch/apply/delete requests sent. */
  writeCount(): number {
    const c = this.requestCounts;
    return c.create + c.update + c.patch + c.apply + c.delete;
  }

  async get<T extends KubeObject = KubeObject>(ref: ResourceRef, signal?: AbortSignal): Promise<T> {
    return (await this.send("get", "GET", resourcePath(ref), { signal })) as T;
  }

  /** Like get, but undefined instead of a 404 error. */
  async getOrUndefined<T extends KubeObject = KubeObject>(
    ref: ResourceRef,
    signal?: AbortSignal,
  ): Promise<T | undefined> {
    try {
      return await this.get<T>(ref, signal);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async list<T extends KubeObject = KubeObject>(
    ref: ResourceRef,
    opts: ListOptions = {},
    signal?: AbortSignal,
  ): Promise<ListResult<T>> {
    const query = { ...opts };
    const res = (await this.send("list", "GET", resourcePath(ref), { query, signal })) as {
      items?: T[];
      metadata?: { resourceVersion?: string; continue?: string };
    };
    return {
      items: res.items ?? [],
      resourceVersion: res.metadata?.resourceVersion ?? "",
      continue: res.metadata?.continue || undefined,
    };
  }

  /** Lists every page (limit/continue) and returns the last page's resourceVersion. */
  async listAll<T extends KubeObject = KubeObject>(
    ref: ResourceRef,
    opts: ListOptions = {},
    signal?: AbortSignal,
  ): Promise<ListResult<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion = "";
    do {
      const page = await this.list<T>(ref, { ...opts, continue: cont }, signal);
      items.push(...page.items);
      resourceVersion = page.resourceVersion;
      cont = page.continue;
    } while (cont);
    return { items, resourceVersion };
  }

  async create<T extends KubeObject>(obj: T, opts: { fieldManager?: string } = {}): Promise<T> {
    const path = resourcePath(collectionRefOf(obj));
    const query = { fieldManager: opts.fieldManager };
    return (await this.send("create", "POST", path, { query, body: obj })) as T;
  }

  /** PUT; carries metadata.resourceVersion for optimistic concurrency (409 on race). */
  async update<T extends KubeObject>(obj: T, opts: { fieldManager?: string } = {}): Promise<T> {
    const query = { fieldManager: opts.fieldManager };
    return (await this.send("update", "PUT", resourcePath(refOf(obj)), { query, body: obj })) as T;
  }

  /** Server-side apply. JSON is valid YAML, so the body is plain JSON. */
  async apply<T extends KubeObject>(obj: T, opts: ApplyOptions): Promise<T> {
    const path = resourcePath(refOf(obj, opts.subresource));
    const query = { fieldManager: opts.fieldManager, force: opts.force ?? true };
    const contentType = "application/apply-patch+yaml";
    return (await this.send("apply", "PATCH", path, { query, body: obj, contentType })) as T;
  }

  async mergePatch<T extends KubeObject = KubeObject>(
    ref: ResourceRef,
    patch: unknown,
    opts: { fieldManager?: string } = {},
  ): Promise<T> {
    const query = { fieldManager: opts.fieldManager };
    const contentType = "application/merge-patch+json";
    return (await this.send("patch", "PATCH", resourcePath(ref), { query, body: patch, contentType })) as T;
  }

  async delete(
    ref: ResourceRef,
    opts: { ignoreNotFound?: boolean; propagationPolicy?: "Foreground" | "Background" | "Orphan" } = {},
  ): Promise<void> {
    const body = opts.propagationPolicy
      ? { apiVersion: "v1", kind: "DeleteOptions", propagationPolicy: opts.propagationPolicy }
      : undefined;
    try {
      await this.send("delete", "DELETE", resourcePath(ref), { body });
    } catch (err) {
      if (!(opts.ignoreNotFound && isNotFound(err))) throw err;
    }
  }

  /**
   * Streams watch events until the server closes the stream (resolves), the
   * signal aborts (resolves), or the request/stream fails (rejects; a non-200
   * answer becomes a KubeApiError, e.g. 410 when the resourceVersion is too old).
   */
  async watch<T extends KubeObject = KubeObject>(
    ref: ResourceRef | string,
    opts: WatchOptions,
    onEvent: (event: WatchEvent<T>) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const path = typeof ref === "string" ? ref : resourcePath(ref);
    const query = { watch: 1, allowWatchBookmarks: true, ...opts };
    let res: http.IncomingMessage;
    try {
      res = await this.open("watch", "GET", path, { query, signal });
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    }
    if (res.statusCode !== 200) throw await this.errorFrom(res);
    try {
      const lines = createInterface({ input: res, crlfDelay: Number.POSITIVE_INFINITY });
      for await (const line of lines) {
        if (line.trim() === "") continue;
        onEvent(JSON.parse(line) as WatchEvent<T>);
      }
      // readline ends quietly when the socket is cut mid-stream; surface that.
      if (!res.complete && !signal?.aborted) throw new KubeApiError(0, "ConnectionReset", "watch stream cut");
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    } finally {
      res.destroy();
    }
  }

  private async send(verb: Verb, method: string, path: string, opts: SendOptions): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const res = await this.open(verb, method, path, { ...opts, signal });
    if ((res.statusCode ?? 0) >= 300) throw await this.errorFrom(res);
    const text = await readBody(res);
    return text ? JSON.parse(text) : {};
  }

  private async open(
    verb: Verb,
    method: string,
    path: string,
    opts: SendOptions,
  ): Promise<http.IncomingMessage> {
    this.requestCounts[verb]++;
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    const url = new URL(cluster.server.replace(/\/+$/, "") + path);
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    // Re-applied per request so rotated/exec tokens are picked up; the agent is cached by the ApiAccess.
    const reqOpts: https.RequestOptions = { method, headers: {} };
    await this.kc.applyToHTTPSOptions(reqOpts);
    reqOpts.agent = keepAliveAgent(reqOpts.agent);
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = { accept: "application/json", "user-agent": "modelops-operator" };
    if (body !== undefined) headers["content-type"] = opts.contentType ?? "application/json";
    Object.assign(reqOpts.headers as object, headers);
    const mod = url.protocol === "http:" ? http : https;
    try {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = mod.request(url, { ...reqOpts, signal: opts.signal }, resolve);
        req.on("error", reject);
        req.end(body);
      });
      this.counter?.inc({ verb, code: String(res.statusCode) });
      return res;
    } catch (err) {
      this.counter?.inc({ verb, code: "<error>" });
      throw err;
    }
  }

  private async errorFrom(res: http.IncomingMessage): Promise<KubeApiError> {
    const status = res.statusCode ?? 0;
    const text = await readBody(res).catch(() => "");
    try {
      const s = JSON.parse(text) as { reason?: string; message?: string; details?: unknown };
      return new KubeApiError(status, s.reason ?? "Unknown", s.message ?? text, s.details);
    } catch {
      return new KubeApiError(status, http.STATUS_CODES[status] ?? "Unknown", text || `HTTP ${status}`);
    }
  }
}

const keepAliveAgents = new WeakMap<object, http.Agent>();

/**
 * client-node's cached agent is a plain http(s).Agent without keep-alive, so
 * every request would open (and for https, handshake) a new connection: 200
 * GETs took 200 TLS connections and 3 ms of CPU each. This one, built once
 * per such agent with the same TLS options, reuses them. Proxy agents (other
 * classes) are left as they are.
 */
function keepAliveAgent(agent: RequestOptionsAgent): RequestOptionsAgent {
  if (!agent || (agent.constructor !== https.Agent && agent.constructor !== http.Agent)) return agent;
  const plain = agent as http.Agent & { options?: https.AgentOptions; keepAlive?: boolean };
  if (plain.keepAlive) return agent;
  let reused = keepAliveAgents.get(agent);
  if (!reused) {
    const options = { ...plain.options, keepAlive: true };
    reused = agent.constructor === https.Agent ? new https.Agent(options) : new http.Agent(options);
    keepAliveAgents.set(agent, reused);
  }
  return reused;
}

type RequestOptionsAgent = https.RequestOptions["agent"];

async function readBody(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
