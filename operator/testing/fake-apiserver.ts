// Test support: a tiny in-memory apiserver over node:http that speaks enough
// REST (get/list/watch/create/update/merge-patch/apply/delete) for unit tests
// of the runtime machinery. It is not a conformance fake: apply is a deep
// merge, selectors are equality-only, there is no admission or defaulting.
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import type { KubeObject } from "../runtime/types.ts";

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  contentType: string;
}

/** Return true when the interceptor answered the request itself. */
export type Interceptor = (req: FakeRequest, res: http.ServerResponse) => boolean;

interface LoggedEvent {
  rv: number;
  collection: string;
  namespace: string;
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: KubeObject;
}

interface Watcher {
  collection: string;
  namespace: string;
  res: http.ServerResponse;
}

interface ParsedPath {
  collection: string; // "apps/v1/deployments"
  namespace: string; // "" = all namespaces / cluster-scoped
  name: string;
  subresource: string;
}

export function parseApiPath(path: string): ParsedPath {
  const segs = path.split("/").filter(Boolean).map(decodeURIComponent);
  const gv = segs[0] === "api" ? segs.splice(0, 2).slice(1) : segs.splice(0, 3).slice(1);
  let namespace = "";
  if (segs[0] === "namespaces" && segs.length >= 3) {
    namespace = segs[1] ?? "";
    segs.splice(0, 2);
  }
  const [plural = "", name = "", subresource = ""] = segs;
  return { collection: `${gv.join("/")}/${plural}`, namespace, name, subresource };
}

export class FakeApiServer {
  readonly requests: FakeRequest[] = [];
  readonly interceptors: Interceptor[] = [];
  private readonly objects = new Map<string, KubeObject>();
  private readonly log: LoggedEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  private rv = 100;
  private oldestRv = 0;
  private server: http.Server | undefined;
  port = 0;

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.dropWatches();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromClusterAndUser(
      { name: "fake", server: `http://127.0.0.1:${this.port}`, skipTLSVerify: true },
      { name: "fake", token: "t" },
    );
    return kc;
  }

  /** Forgets the event history so watches from older resourceVersions get 410. */
  compact(): void {
    this.oldestRv = this.rv;
    this.log.length = 0;
  }

  /** Cuts every open watch connection (as a load balancer would). */
  dropWatches(): void {
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
  }

  /** Ends every open watch cleanly (as the server-side timeout would). */
  endWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  watcherCount(): number {
    return this.watchers.size;
  }

  /** Sends a raw event line to every open watch (e.g. BOOKMARK or ERROR). */
  sendRaw(event: unknown): void {
    for (const w of this.watchers) w.res.write(`${JSON.stringify(event)}\n`);
  }

  currentRv(): string {
    return String(this.rv);
  }

  /** Stores an object directly (no request recorded) and notifies watchers. */
  put(path: string, obj: KubeObject): KubeObject {
    const p = parseApiPath(path);
    const key = `${p.collection}/${p.namespace}/${p.name}`;
    const existed = this.objects.has(key);
    const stored = this.stamp(obj, this.objects.get(key));
    this.objects.set(key, stored);
    this.emit(p, existed ? "MODIFIED" : "ADDED", stored);
    return stored;
  }

  remove(path: string): void {
    const p = parseApiPath(path);
    const key = `${p.collection}/${p.namespace}/${p.name}`;
    const obj = this.objects.get(key);
    if (!obj) return;
    this.objects.delete(key);
    this.rv++;
    this.emit(p, "DELETED", { ...obj, metadata: { ...obj.metadata, resourceVersion: String(this.rv) } });
  }

  getObject(path: string): KubeObject | undefined {
    const p = parseApiPath(path);
    return this.objects.get(`${p.collection}/${p.namespace}/${p.name}`);
  }

  private stamp(obj: KubeObject, prev: KubeObject | undefined): KubeObject {
    this.rv++;
    const meta = { ...obj.metadata };
    meta.resourceVersion = String(this.rv);
    meta.uid = prev?.metadata?.uid ?? meta.uid ?? randomUUID();
    meta.creationTimestamp = prev?.metadata?.creationTimestamp ?? new Date().toISOString();
    meta.generation = prev?.metadata?.generation ?? 1;
    return { ...obj, metadata: meta };
  }

  private emit(p: ParsedPath, type: LoggedEvent["type"], object: KubeObject): void {
    const ev = { rv: this.rv, collection: p.collection, namespace: p.namespace, type, object };
    this.log.push(ev);
    for (const w of this.watchers) this.deliver(w, ev);
  }

  private deliver(w: Watcher, ev: LoggedEvent): void {
    if (w.collection !== ev.collection) return;
    if (w.namespace && w.namespace !== ev.namespace) return;
    w.res.write(`${JSON.stringify({ type: ev.type, object: ev.object })}\n`);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const fr: FakeRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      body: text ? JSON.parse(text) : undefined,
      contentType: req.headers["content-type"] ?? "",
    };
    this.requests.push(fr);
    for (const i of this.interceptors) if (i(fr, res)) return;
    this.route(fr, res);
  }

  private route(fr: FakeRequest, res: http.ServerResponse) {
    const p = parseApiPath(fr.path);
    const key = `${p.collection}/${p.namespace}/${p.name}`;
    if (fr.method === "GET" && !p.name && fr.query.get("watch")) return this.watch(p, fr, res);
    if (fr.method === "GET" && !p.name) return this.list(p, fr, res);
    if (fr.method === "POST") return this.create(p, fr, res);
    const cur = this.objects.get(key);
    if (fr.method === "PATCH" && fr.contentType.includes("apply-patch"))
      return this.applyPatch(p, fr, res, cur);
    if (!cur) return sendStatus(res, 404, "NotFound", `${p.collection} "${p.name}" not found`);
    if (fr.method === "GET") return sendJson(res, 200, cur);
    if (fr.method === "DELETE") {
      this.remove(fr.path);
      return sendJson(res, 200, cur);
    }
    if (fr.method === "PUT") return this.update(p, fr, res, cur);
    if (fr.method === "PATCH")
      return sendJson(res, 200, this.put(fr.path, mergePatch(cur, fr.body) as KubeObject));
    sendStatus(res, 405, "MethodNotAllowed", fr.method);
  }

  private list(p: ParsedPath, fr: FakeRequest, res: http.ServerResponse) {
    const selector = parseSelector(fr.query.get("labelSelector"));
    const all = [...this.objects.entries()]
      .filter(([k]) => k.startsWith(`${p.collection}/${p.namespace}${p.namespace ? "/" : ""}`))
      .map(([, o]) => o)
      .filter((o) => Object.entries(selector).every(([k, v]) => o.metadata?.labels?.[k] === v));
    const start = Number(fr.query.get("continue") ?? 0);
    const limit = Number(fr.query.get("limit") ?? 0) || all.length;
    const items = all.slice(start, start + limit);
    const next = start + limit < all.length ? String(start + limit) : undefined;
    sendJson(res, 200, { metadata: { resourceVersion: this.currentRv(), continue: next }, items });
  }

  private watch(p: ParsedPath, fr: FakeRequest, res: http.ServerResponse) {
    const from = Number(fr.query.get("resourceVersion") ?? 0);
    if (from && from < this.oldestRv) return sendStatus(res, 410, "Expired", "too old resource version");
    res.writeHead(200, { "content-type": "application/json" });
    res.flushHeaders();
    const w: Watcher = { collection: p.collection, namespace: p.namespace, res };
    for (const ev of this.log) if (ev.rv > from) this.deliver(w, ev);
    this.watchers.add(w);
    res.on("close", () => this.watchers.delete(w));
  }

  private create(p: ParsedPath, fr: FakeRequest, res: http.ServerResponse) {
    const obj = fr.body as KubeObject;
    const name = obj.metadata?.name ?? `${obj.metadata?.generateName ?? "obj-"}${randomUUID().slice(0, 5)}`;
    const path = `${fr.path}/${encodeURIComponent(name)}`;
    if (this.getObject(path)) return sendStatus(res, 409, "AlreadyExists", `"${name}" already exists`);
    const withName = { ...obj, metadata: { ...obj.metadata, name, namespace: p.namespace || undefined } };
    sendJson(res, 201, this.put(path, withName));
  }

  private update(_p: ParsedPath, fr: FakeRequest, res: http.ServerResponse, cur: KubeObject) {
    const obj = fr.body as KubeObject;
    const rv = obj.metadata?.resourceVersion;
    if (rv && rv !== cur.metadata?.resourceVersion) {
      return sendStatus(res, 409, "Conflict", "the object has been modified; please apply your changes");
    }
    sendJson(res, 200, this.put(fr.path, obj));
  }

  private applyPatch(p: ParsedPath, fr: FakeRequest, res: http.ServerResponse, cur: KubeObject | undefined) {
    const objPath = fr.path.replace(/\/status$/, "");
    if (!cur && p.subresource) return sendStatus(res, 404, "NotFound", `"${p.name}" not found`);
    const body = fr.body as KubeObject;
    const patch = p.subresource === "status" ? { status: body.status } : body;
    const merged = mergePatch(cur ?? {}, patch) as KubeObject;
    sendJson(res, cur ? 200 : 201, this.put(objPath, merged));
  }
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target && typeof target === "object" && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function parseSelector(s: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (s ?? "").split(",").filter(Boolean)) {
    const [k = "", v = ""] = part.split("=");
    out[k] = v;
  }
  return out;
}

export function sendJson(res: http.ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

export function sendStatus(res: http.ServerResponse, code: number, reason: string, message: string): void {
  sendJson(res, code, { kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message });
}

/** Polls `cond` until true; for tests that wait on asynchronous machinery. */
export async function waitFor(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error("waitFor timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}
