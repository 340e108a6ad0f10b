import http from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeApiServer, sendStatus, waitFor } from "../testing/fake-apiserver.ts";
import { isConflict, isNotFound, KubeApiError, KubeClient, type WatchEvent } from "./kube.ts";
import { createRegistry, metricValue } from "./metrics.ts";
import type { KubeObject } from "./types.ts";

const cmRef = { apiVersion: "v1", kind: "ConfigMap", namespace: "ns" };
const cm = (name: string, data: Record<string, string> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "ns", labels: { app: name } },
  data,
});

let fake: FakeApiServer;
let kube: KubeClient;
const registry = createRegistry({ defaultMetrics: false });

beforeEach(async () => {
  fake = await new FakeApiServer().start();
  kube = new KubeClient(fake.kubeConfig(), { registry });
});
afterEach(async () => fake.stop());

describe("KubeClient", () => {
  it("reuses its connection to the apiserver across requests (keep-alive)", async () => {
    let connections = 0;
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ kind: "Namespace", metadata: { name: "default" } }));
    });
    server.on("connection", () => connections++);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const kc = new KubeConfig();
    const address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    kc.loadFromClusterAndUser({ name: "c", server: address, skipTLSVerify: true }, { name: "u", token: "t" });
    const client = new KubeClient(kc);
    try {
      for (let i = 0; i < 20; i++) await client.get({ apiVersion: "v1", kind: "Namespace", name: "default" });
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    expect(connections).toBe(1);
  });

  it("creates, gets, updates, patches and deletes", async () => {
    const created = await kube.create(cm("a", { k: "1" }), { fieldManager: "t" });
    expect(created.metadata?.resourceVersion).toBeTruthy();
    expect(fake.requests.at(-1)?.query.get("fieldManager")).toBe("t");
    const got = await kube.get({ ...cmRef, name: "a" });
    expect(got.data).toEqual({ k: "1" });
    await kube.update({ ...got, data: { k: "2" } });
    const patched = await kube.mergePatch({ ...cmRef, name: "a" }, { data: { j: "3" } });
    expect(patched.data).toEqual({ k: "2", j: "3" });
    await kube.delete({ ...cmRef, name: "a" });
    await expect(kube.get({ ...cmRef, name: "a" })).rejects.toSatisfy(isNotFound);
    await kube.delete({ ...cmRef, name: "a" }, { ignoreNotFound: true });
    expect(await kube.getOrUndefined({ ...cmRef, name: "a" })).toBeUndefined();
  });

  it("sends server-side apply as PATCH apply-patch with fieldManager and force", async () => {
    await kube.apply(cm("b"), { fieldManager: "mgr" });
    const req = fake.requests.at(-1);
    expect(req?.method).toBe("PATCH");
    expect(req?.contentType).toBe("application/apply-patch+yaml");
    expect(req?.query.get("fieldManager")).toBe("mgr");
    expect(req?.query.get("force")).toBe("true");
    await kube.apply({ ...cm("b"), status: { x: 1 } }, { fieldManager: "mgr", subresource: "status" });
    expect(fake.requests.at(-1)?.path).toBe("/api/v1/namespaces/ns/configmaps/b/status");
  });

  it("turns a rejection into KubeApiError with status, reason and message", async () => {
    await kube.create(cm("c"));
    const err = await kube.create(cm("c")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ status: 409, reason: "AlreadyExists", message: '"c" already exists' });
    expect(isConflict(err)).toBe(true);
  });

  it("handles a non-JSON error body", async () => {
    fake.interceptors.push((_r, res) => {
      res.writeHead(503);
      res.end("overloaded");
      return true;
    });
    await expect(kube.get({ ...cmRef, name: "x" })).rejects.toMatchObject({
      status: 503,
      message: "overloaded",
    });
  });

  it("lists with label selector and pagination", async () => {
    for (const n of ["a", "b", "c", "d", "e"]) await kube.create(cm(n));
    const page = await kube.list(cmRef, { limit: 2 });
    expect(page.items).toHaveLength(2);
    expect(page.continue).toBe("2");
    const all = await kube.listAll(cmRef, { limit: 2 });
    expect(all.items.map((i) => i.metadata?.name)).toEqual(["a", "b", "c", "d", "e"]);
    expect(all.resourceVersion).toBe(fake.currentRv());
    const sel = await kube.list(cmRef, { labelSelector: "app=c" });
    expect(sel.items.map((i) => i.metadata?.name)).toEqual(["c"]);
  });

  it("counts requests per verb, in memory and in the registry", async () => {
    const before = (await metricValue(registry, "modelops_kube_requests_total", { verb: "create" })) ?? 0;
    await kube.create(cm("z"));
    await kube.get({ ...cmRef, name: "z" });
    expect(kube.requestCounts.create).toBe(1);
    expect(kube.requestCounts.get).toBe(1);
    expect(kube.writeCount()).toBe(1);
    expect(await metricValue(registry, "modelops_kube_requests_total", { verb: "create" })).toBe(before + 1);
  });

  it("streams watch events and resolves when the server ends the stream", async () => {
    const events: WatchEvent[] = [];
    const { resourceVersion } = await kube.list(cmRef);
    const done = kube.watch(cmRef, { resourceVersion }, (e) => {
      events.push(e);
      if (events.length === 2) fake.endWatches();
    });
    await waitFor(() => fake.watcherCount() === 1);
    await kube.create(cm("w1"));
    await kube.create(cm("w2"));
    await done;
    expect(events.map((e) => [e.type, e.object.metadata?.name])).toEqual([
      ["ADDED", "w1"],
      ["ADDED", "w2"],
    ]);
    const q = fake.requests.find((r) => r.query.get("watch"));
    expect(q?.query.get("allowWatchBookmarks")).toBe("true");
    expect(q?.query.get("resourceVersion")).toBe(resourceVersion);
  });

  it("rejects a watch with 410 as KubeApiError", async () => {
    await kube.create(cm("x"));
    fake.compact();
    await expect(kube.watch(cmRef, { resourceVersion: "1" }, () => {})).rejects.toMatchObject({
      status: 410,
    });
  });

  it("rejects when the watch connection is cut, resolves when aborted", async () => {
    const cut = kube.watch(cmRef, {}, () => {});
    await waitFor(() => fake.watcherCount() === 1);
    fake.dropWatches();
    await expect(cut).rejects.toBeTruthy();
    const ac = new AbortController();
    const aborted = kube.watch(cmRef, {}, () => {}, ac.signal);
    await waitFor(() => fake.watcherCount() === 1);
    ac.abort();
    await expect(aborted).resolves.toBeUndefined();
  });

  it("times out plain requests", async () => {
    const slow = new KubeClient(fake.kubeConfig(), { timeoutMs: 50 });
    fake.interceptors.push(() => true); // never answers
    await expect(slow.get({ ...cmRef, name: "x" })).rejects.toBeTruthy();
  });

  it("passes the bearer token", async () => {
    let auth = "";
    fake.interceptors.push((_r, res) => {
      auth = String(res.req.headers.authorization);
      sendStatus(res, 404, "NotFound", "nope");
      return true;
    });
    await kube.getOrUndefined({ ...cmRef, name: "q" });
    expect(auth).toBe("Bearer t");
  });
});
