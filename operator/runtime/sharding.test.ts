import { describe, expect, it } from "vitest";
import type { EventHandlers } from "./informer.ts";
import { leaseNameFor, ownedByCached, parseLabelSelector, SHARD_LABEL, selectedOnly } from "./sharding.ts";
import { Store } from "./store.ts";
import type { KubeObject } from "./types.ts";

const obj = (name: string, labels?: Record<string, string>): KubeObject => ({
  apiVersion: "v1",
  kind: "Thing",
  metadata: { namespace: "ns", name, ...(labels ? { labels } : {}) },
});

function recorder() {
  const seen: string[] = [];
  const handlers: EventHandlers<KubeObject> = {
    onAdd: (o) => seen.push(`add ${o.metadata?.name}`),
    onUpdate: (_old, o) => seen.push(`update ${o.metadata?.name}`),
    onDelete: (o) => seen.push(`delete ${o.metadata?.name}`),
  };
  return { seen, handlers };
}

describe("parseLabelSelector", () => {
  it("matches a shard's equality selector and the main instance's absence selector as the API server does", () => {
    const shard = parseLabelSelector(`${SHARD_LABEL}=shard1`);
    const main = parseLabelSelector(`!${SHARD_LABEL}`);
    expect(shard.matches({ [SHARD_LABEL]: "shard1" })).toBe(true);
    expect(shard.matches({ [SHARD_LABEL]: "shard2" })).toBe(false);
    expect(shard.matches(undefined)).toBe(false);
    expect(main.matches(undefined)).toBe(true);
    expect(main.matches({ [SHARD_LABEL]: "shard1" })).toBe(false);
  });

  it("supports set-based requirements, != and comma-joined requirements", () => {
    const sel = parseLabelSelector("team in (a, b), tier notin (gpu), env!=prod, owner");
    expect(sel.matches({ team: "a", owner: "x" })).toBe(true);
    expect(sel.matches({ team: "c", owner: "x" })).toBe(false);
    expect(sel.matches({ team: "b", tier: "gpu", owner: "x" })).toBe(false);
    expect(sel.matches({ team: "b", env: "prod", owner: "x" })).toBe(false);
    expect(sel.matches({ team: "b" })).toBe(false);
    expect(parseLabelSelector("a==b").matches({ a: "b" })).toBe(true);
  });

  it("refuses what the API server would refuse", () => {
    expect(() => parseLabelSelector("")).toThrow(/empty/);
    expect(() => parseLabelSelector("a=b c")).toThrow(/invalid/);
    expect(() => parseLabelSelector("modelops.io/shard=sh@rd")).toThrow(/bad value/);
    expect(() => parseLabelSelector("-bad")).toThrow(/bad key/);
  });
});

describe("leaseNameFor", () => {
  it("keeps the unsharded name, takes an explicit id, and gives distinct selectors distinct Leases", () => {
    expect(leaseNameFor(undefined)).toBe("modelops-operator-leader");
    const a = parseLabelSelector(`${SHARD_LABEL}=shard1`);
    const b = parseLabelSelector(`${SHARD_LABEL}=shard2`);
    expect(leaseNameFor(a, "mine")).toBe("mine");
    expect(leaseNameFor(a)).toMatch(/^modelops-operator-leader-[0-9a-f]{10}$/);
    expect(leaseNameFor(a)).not.toBe(leaseNameFor(b));
    expect(leaseNameFor(a)).toBe(leaseNameFor(parseLabelSelector(`${SHARD_LABEL}=shard1`)));
  });
});

describe("selectedOnly", () => {
  it("passes every event through when unsharded", () => {
    const { seen, handlers } = recorder();
    expect(selectedOnly(undefined, handlers)).toBe(handlers);
    expect(seen).toEqual([]);
  });

  it("passes only matching objects, and the update that moves one out of the shard", () => {
    const { seen, handlers } = recorder();
    const h = selectedOnly(parseLabelSelector(`${SHARD_LABEL}=shard1`), handlers);
    const mine = obj("mine", { [SHARD_LABEL]: "shard1" });
    const theirs = obj("theirs", { [SHARD_LABEL]: "shard2" });
    h.onAdd?.(mine);
    h.onAdd?.(theirs);
    h.onUpdate?.(theirs, theirs);
    h.onUpdate?.(mine, obj("mine", { [SHARD_LABEL]: "shard2" }));
    h.onDelete?.(theirs);
    h.onDelete?.(mine);
    expect(seen).toEqual(["add mine", "update mine", "delete mine"]);
  });
});

describe("ownedByCached", () => {
  it("wakes only for owned objects whose owner this shard caches", () => {
    const { seen, handlers } = recorder();
    const owners = new Store<KubeObject>();
    owners.set({ ...obj("md-a"), apiVersion: "modelops.io/v1alpha1", kind: "ModelDeployment" });
    const owned = (name: string, owner: string): KubeObject => ({
      ...obj(name),
      metadata: {
        namespace: "ns",
        name,
        ownerReferences: [
          {
            apiVersion: "modelops.io/v1alpha1",
            kind: "ModelDeployment",
            name: owner,
            uid: "u",
            controller: true,
          },
        ],
      },
    });
    const h = ownedByCached(parseLabelSelector("x"), owners, "ModelDeployment", "modelops.io", handlers);
    h.onAdd?.(owned("dep-a", "md-a"));
    h.onAdd?.(owned("dep-b", "md-b"));
    h.onAdd?.(obj("orphan"));
    h.onUpdate?.(owned("dep-b", "md-b"), owned("dep-b", "md-b"));
    h.onDelete?.(owned("dep-a", "md-a"));
    expect(seen).toEqual(["add dep-a", "delete dep-a"]);
  });
});
