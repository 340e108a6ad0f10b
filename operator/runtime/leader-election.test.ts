import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeApiServer, sendStatus, waitFor } from "../testing/fake-apiserver.ts";
import { KubeClient } from "./kube.ts";
import { isExpired, type LeaderElectionOptions, LeaderElector, type Lease } from "./leader-election.ts";
import { createRegistry, metricValue } from "./metrics.ts";
import { microTime } from "./time.ts";

const LEASE = "/apis/coordination.k8s.io/v1/namespaces/sys/leases/op";
let fake: FakeApiServer;
let kube: KubeClient;
const stops: AbortController[] = [];

function elector(identity: string, extra: Partial<LeaderElectionOptions> = {}) {
  const state = { started: 0, stopped: 0, signal: undefined as AbortSignal | undefined };
  const le = new LeaderElector({
    kube,
    namespace: "sys",
    name: "op",
    identity,
    leaseDurationMs: 1000,
    renewDeadlineMs: 300,
    retryPeriodMs: 50,
    onStartedLeading: (signal) => {
      state.started++;
      state.signal = signal;
    },
    onStoppedLeading: () => {
      state.stopped++;
    },
    ...extra,
  });
  const ac = new AbortController();
  stops.push(ac);
  const done = le.run(ac.signal);
  return { le, state, ac, done };
}

const lease = () => fake.getObject(LEASE) as Lease | undefined;

beforeEach(async () => {
  fake = await new FakeApiServer().start();
  kube = new KubeClient(fake.kubeConfig());
});
afterEach(async () => {
  for (const s of stops.splice(0)) s.abort();
  await fake.stop();
});

describe("LeaderElector", () => {
  it("creates the lease, leads, renews, and reports the metric", async () => {
    const registry = createRegistry({ defaultMetrics: false });
    const a = elector("a", { registry });
    await waitFor(() => a.state.started === 1);
    expect(a.le.isLeader()).toBe(true);
    expect(lease()?.spec).toMatchObject({
      holderIdentity: "a",
      leaseDurationSeconds: 1,
      leaseTransitions: 0,
    });
    expect(lease()?.spec?.renewTime).toMatch(/\.\d{6}Z$/);
    expect(await metricValue(registry, "leader_election_master_status", { name: "op" })).toBe(1);
    const firstRenew = lease()?.spec?.renewTime;
    await waitFor(() => lease()?.spec?.renewTime !== firstRenew);
    a.ac.abort();
    await a.done;
    expect(a.state.stopped).toBe(1);
    expect(a.state.signal?.aborted).toBe(true);
    expect(await metricValue(registry, "leader_election_master_status", { name: "op" })).toBe(0);
  });

  it("lets only one candidate lead, and hands over at once on release", async () => {
    const a = elector("a");
    await waitFor(() => a.state.started === 1);
    const b = elector("b");
    await new Promise((r) => setTimeout(r, 200));
    expect(b.state.started).toBe(0);
    a.ac.abort();
    await a.done;
    expect(lease()?.spec?.holderIdentity).not.toBe("a");
    const released = Date.now();
    await waitFor(() => b.state.started === 1);
    expect(Date.now() - released).toBeLessThan(800); // well before the 1 s lease expiry
    expect(lease()?.spec).toMatchObject({ holderIdentity: "b", leaseTransitions: 1 });
  });

  it("takes over an expired lease but not a live one", async () => {
    const old = microTime(new Date(Date.now() - 60_000));
    fake.put(LEASE, {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "op", namespace: "sys" },
      spec: { holderIdentity: "ghost", leaseDurationSeconds: 15, renewTime: old, leaseTransitions: 3 },
    });
    const a = elector("a");
    await waitFor(() => a.state.started === 1);
    expect(lease()?.spec).toMatchObject({ holderIdentity: "a", leaseTransitions: 4 });

    fake.put(LEASE, {
      ...lease(),
      spec: { holderIdentity: "live", leaseDurationSeconds: 15, renewTime: microTime(new Date()) },
    });
    await waitFor(() => a.state.stopped === 1); // sees the foreign holder and steps down
    expect(a.le.isLeader()).toBe(false);
    await a.done;
  });

  it("steps down when renewals fail past the renew deadline", async () => {
    const a = elector("a");
    await waitFor(() => a.state.started === 1);
    fake.interceptors.push((r, res) => {
      if (r.method !== "PUT") return false;
      sendStatus(res, 500, "InternalError", "etcd unavailable");
      return true;
    });
    await a.done; // run returns after losing leadership
    expect(a.state.stopped).toBe(1);
    expect(a.state.signal?.aborted).toBe(true);
    expect(a.le.isLeader()).toBe(false);
  });

  it("treats a 409 on write as losing the race", async () => {
    fake.interceptors.push((r, res) => {
      if (r.method !== "POST") return false;
      sendStatus(res, 409, "AlreadyExists", "raced");
      return true;
    });
    const a = elector("a");
    await new Promise((r) => setTimeout(r, 150));
    expect(a.state.started).toBe(0);
    fake.interceptors.length = 0;
    await waitFor(() => a.state.started === 1);
  });

  it("release() is a no-op when not holding", async () => {
    const le = new LeaderElector({ kube, namespace: "sys", name: "op", onStartedLeading: () => {} });
    expect(le.identity).toMatch(/_[0-9a-f-]{36}$/);
    expect(await le.release()).toBe(false);
  });
});

describe("isExpired", () => {
  it("compares renewTime + duration with now", () => {
    const t = Date.parse("2025-01-01T00:00:00Z");
    const spec = { renewTime: "2025-01-01T00:00:00.000000Z", leaseDurationSeconds: 15 };
    expect(isExpired(spec, t + 14_000)).toBe(false);
    expect(isExpired(spec, t + 15_001)).toBe(true);
    expect(isExpired({}, t)).toBe(true);
    expect(isExpired({ renewTime: "garbage" }, t)).toBe(true);
  });
});
