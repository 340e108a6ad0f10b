import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeApiServer, sendStatus, waitFor } from "../testing/fake-apiserver.ts";
import { type EventHandlers, Informer, type InformerOptions, waitForCacheSync } from "./informer.ts";
import { KubeClient } from "./kube.ts";
import type { KubeObject } from "./types.ts";

const COLL = "/api/v1/namespaces/ns/configmaps";
const ref = { apiVersion: "v1", kind: "ConfigMap", namespace: "ns" };
const cm = (name: string, v = "1"): KubeObject => ({ metadata: { name, namespace: "ns" }, data: { v } });

let fake: FakeApiServer;
let informer: Informer;
let events: string[];

function recorder(): EventHandlers<KubeObject> {
  return {
    onAdd: (o) => events.push(`add ${o.metadata?.name}`),
    onUpdate: (a, b) =>
      events.push(
        `update ${a.metadata?.name} ${a.data && (a.data as { v: string }).v}->${(b.data as { v: string }).v}`,
      ),
    onDelete: (o) => events.push(`delete ${o.metadata?.name}`),
  };
}

async function startInformer(opts: Partial<InformerOptions> = {}): Promise<Informer> {
  informer = new Informer({
    kube: new KubeClient(fake.kubeConfig()),
    ref,
    backoffBaseMs: 20,
    backoffCapMs: 200,
    random: () => 1,
    ...opts,
  });
  informer.addEventHandler(recorder());
  informer.start();
  expect(await informer.waitForSync()).toBe(true);
  return informer;
}

const watchRequests = () => fake.requests.filter((r) => r.query.get("watch"));
const listRequests = () => fake.requests.filter((r) => r.method === "GET" && !r.query.get("watch"));

beforeEach(async () => {
  fake = await new FakeApiServer().start();
  events = [];
});
afterEach(async () => {
  await informer?.stop();
  await fake.stop();
});

describe("Informer", () => {
  it("lists (paginated), syncs, then follows the watch", async () => {
    for (const n of ["a", "b", "c"]) fake.put(`${COLL}/${n}`, cm(n));
    await startInformer({ pageSize: 2 });
    expect(informer.hasSynced()).toBe(true);
    expect(listRequests()).toHaveLength(2);
    expect(informer.store.list("ns").map((o) => o.metadata?.name)).toEqual(["a", "b", "c"]);
    expect(informer.store.get("ns", "a")).toMatchObject({ apiVersion: "v1", kind: "ConfigMap" });
    await waitFor(() => fake.watcherCount() === 1);
    fake.put(`${COLL}/d`, cm("d"));
    fake.put(`${COLL}/a`, cm("a", "2"));
    fake.remove(`${COLL}/b`);
    await waitFor(() => events.length === 6);
    expect(events).toEqual(["add a", "add b", "add c", "add d", "update a 1->2", "delete b"]);
    expect(informer.store.keys().sort()).toEqual(["ns/a", "ns/c", "ns/d"]);
    expect(watchRequests()[0]?.query.get("resourceVersion")).toBe("103");
    expect(Number(watchRequests()[0]?.query.get("timeoutSeconds"))).toBeGreaterThanOrEqual(240);
  });

  it("passes listed and watched objects through transform before the store and the handlers", async () => {
    const seen: KubeObject[] = [];
    const dropData = (o: KubeObject): KubeObject => ({ ...o, data: { v: "trimmed" } });
    fake.put(`${COLL}/a`, cm("a"));
    await startInformer({ transform: dropData });
    informer.addEventHandler({ onAdd: (o) => seen.push(o), onUpdate: (_a, b) => seen.push(b) });
    await waitFor(() => fake.watcherCount() === 1);
    fake.put(`${COLL}/b`, cm("b"));
    fake.put(`${COLL}/a`, cm("a", "2"));
    await waitFor(() => seen.length === 3);
    expect(informer.store.get("ns", "a")?.data).toEqual({ v: "trimmed" });
    expect(informer.store.get("ns", "b")?.data).toEqual({ v: "trimmed" });
    expect(seen.map((o) => o.data)).toEqual([{ v: "trimmed" }, { v: "trimmed" }, { v: "trimmed" }]);
    // kind is still filled in after the transform
    expect(informer.store.get("ns", "b")).toMatchObject({ apiVersion: "v1", kind: "ConfigMap" });
  });

  it("resumes from the last resourceVersion after a dropped connection, without re-listing", async () => {
    fake.put(`${COLL}/a`, cm("a"));
    await startInformer();
    await waitFor(() => fake.watcherCount() === 1);
    fake.put(`${COLL}/a`, cm("a", "2"));
    await waitFor(() => events.length === 2);
    fake.dropWatches();
    fake.put(`${COLL}/b`, cm("b")); // happens while disconnected
    await waitFor(() => events.length === 3);
    expect(events).toEqual(["add a", "update a 1->2", "add b"]);
    expect(listRequests()).toHaveLength(1);
    expect(watchRequests()[1]?.query.get("resourceVersion")).toBe("102");
  });

  it("re-lists on 410 Gone and emits the differences", async () => {
    fake.put(`${COLL}/keep`, cm("keep"));
    fake.put(`${COLL}/change`, cm("change"));
    fake.put(`${COLL}/gone`, cm("gone"));
    await startInformer();
    await waitFor(() => fake.watcherCount() === 1);
    // Block watches while history is lost, so the next one must get 410.
    let blocked = true;
    fake.interceptors.push((r, res) => {
      if (!blocked || !r.query.get("watch")) return false;
      sendStatus(res, 503, "ServiceUnavailable", "down");
      return true;
    });
    fake.dropWatches();
    fake.put(`${COLL}/change`, cm("change", "2"));
    fake.remove(`${COLL}/gone`);
    fake.put(`${COLL}/new`, cm("new"));
    fake.compact();
    blocked = false;
    await waitFor(() => events.length === 6);
    expect(events.slice(3).sort()).toEqual(["add new", "delete gone", "update change 1->2"]);
    expect(listRequests()).toHaveLength(2);
  });

  it("re-lists on an ERROR watch event with code 410", async () => {
    fake.put(`${COLL}/a`, cm("a"));
    await startInformer();
    await waitFor(() => fake.watcherCount() === 1);
    fake.sendRaw({
      type: "ERROR",
      object: { kind: "Status", code: 410, reason: "Expired", message: "too old" },
    });
    await waitFor(() => listRequests().length === 2);
    expect(events).toEqual(["add a"]); // nothing changed: no spurious events
  });

  it("updates the resourceVersion from bookmarks", async () => {
    await startInformer();
    await waitFor(() => fake.watcherCount() === 1);
    fake.sendRaw({ type: "BOOKMARK", object: { kind: "ConfigMap", metadata: { resourceVersion: "4242" } } });
    await waitFor(() => informer.lastSyncResourceVersion() === "4242");
    fake.endWatches();
    await waitFor(() => watchRequests().length === 2);
    expect(watchRequests()[1]?.query.get("resourceVersion")).toBe("4242");
    expect(events).toEqual([]);
  });

  it("restarts a watch that stays silent past the stall timeout", async () => {
    await startInformer({ stallTimeoutMs: 100 });
    await waitFor(() => watchRequests().length >= 3, 3000);
    expect(listRequests()).toHaveLength(1);
  });

  it("backs off exponentially on repeated errors and never gives up", async () => {
    let failing = true;
    fake.interceptors.push((r, res) => {
      if (!failing || !r.query.get("watch")) return false;
      sendStatus(res, 500, "InternalError", "boom");
      return true;
    });
    fake.put(`${COLL}/a`, cm("a"));
    await startInformer();
    await waitFor(() => watchRequests().length >= 5, 3000);
    failing = false;
    await waitFor(() => fake.watcherCount() === 1, 3000);
    fake.put(`${COLL}/b`, cm("b"));
    await waitFor(() => events.includes("add b"));
  });

  it("spaces retries with growing delays (base 20 ms, cap 200 ms)", async () => {
    const stamps: number[] = [];
    fake.interceptors.push((r, res) => {
      if (!r.query.get("watch")) return false;
      stamps.push(Date.now());
      sendStatus(res, 500, "InternalError", "boom");
      return true;
    });
    await startInformer();
    await waitFor(() => stamps.length >= 6, 3000);
    const gaps = stamps.slice(1).map((t, i) => t - (stamps[i] ?? 0));
    // random()=1 → full delay: 20, 40, 80, 160, 200
    expect(gaps[0]).toBeGreaterThanOrEqual(15);
    expect(gaps[3]).toBeGreaterThanOrEqual(140);
    expect(gaps[4]).toBeLessThan(400);
  });

  it("resyncs cached objects to onUpdate without API calls", async () => {
    fake.put(`${COLL}/a`, cm("a"));
    await startInformer({ resyncMs: 50 });
    await waitFor(() => fake.watcherCount() === 1);
    const before = fake.requests.length;
    await waitFor(() => events.filter((e) => e === "update a 1->1").length >= 2);
    expect(fake.requests.length).toBe(before);
  });

  it("survives handler exceptions and replays adds to late handlers", async () => {
    fake.put(`${COLL}/a`, cm("a"));
    informer = new Informer({ kube: new KubeClient(fake.kubeConfig()), ref });
    informer.addEventHandler({
      onAdd: () => {
        throw new Error("handler bug");
      },
    });
    informer.addEventHandler(recorder());
    informer.start();
    await waitForCacheSync([informer]);
    await waitFor(() => fake.watcherCount() === 1);
    fake.put(`${COLL}/b`, cm("b"));
    await waitFor(() => events.length === 2);
    const late: string[] = [];
    informer.addEventHandler({ onAdd: (o) => late.push(String(o.metadata?.name)) });
    expect(late.sort()).toEqual(["a", "b"]);
  });

  it("stop() resolves, ends the watch, and makes no more requests", async () => {
    await startInformer();
    await waitFor(() => fake.watcherCount() === 1);
    await informer.stop();
    const count = fake.requests.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(fake.requests.length).toBe(count);
    await waitFor(() => fake.watcherCount() === 0);
    expect(await informer.waitForSync()).toBe(true);
  });

  it("waitForSync resolves false when stopped before syncing", async () => {
    fake.interceptors.push((_r, res) => {
      sendStatus(res, 500, "InternalError", "never");
      return true;
    });
    informer = new Informer({ kube: new KubeClient(fake.kubeConfig()), ref, backoffBaseMs: 10 });
    informer.start();
    const p = informer.waitForSync();
    await informer.stop();
    expect(await p).toBe(false);
  });
});
