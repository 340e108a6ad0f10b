import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeApiServer } from "../testing/fake-apiserver.ts";
import { enforceResourceVersion } from "../testing/resource-version.ts";
import { applyIfChanged, applyStatusIfChanged, canonicalJson, needsApply } from "./apply.ts";
import { KubeClient } from "./kube.ts";
import type { KubeObject } from "./types.ts";

describe("needsApply", () => {
  it.each([
    ["equal scalars", { a: 1 }, { a: 1 }, false],
    ["different scalar", { a: 1 }, { a: 2 }, true],
    ["type differs", { a: "1" }, { a: 1 }, true],
    ["extra live fields ignored", { a: 1 }, { a: 1, b: 2 }, false],
    ["missing in live", { a: 1 }, { b: 2 }, true],
    ["nested subset", { s: { r: 2 } }, { s: { r: 2, d: "x" } }, false],
    ["nested differs", { s: { r: 2 } }, { s: { r: 3 } }, true],
    ["array equal with defaults inside", { c: [{ n: "a" }] }, { c: [{ n: "a", p: "Always" }] }, false],
    ["array element differs", { c: [{ n: "a" }] }, { c: [{ n: "b" }] }, true],
    ["array length differs", { c: [1, 2] }, { c: [1, 2, 3] }, true],
    ["array order matters", { c: [1, 2] }, { c: [2, 1] }, true],
    ["array vs object", { c: [] }, { c: {} }, true],
    ["object vs scalar", { c: { a: 1 } }, { c: 5 }, true],
    ["empty desired object", { c: {} }, { c: { a: 1 } }, false],
    ["empty desired object, live missing", { c: {} }, {}, true],
    ["null desired matches missing", { a: null }, {}, false],
    ["null desired vs present", { a: null }, { a: 1 }, true],
    ["undefined desired ignored", { a: undefined }, { a: 1 }, false],
    ["apiVersion/kind ignored at top", { apiVersion: "v1", kind: "X", a: 1 }, { a: 1 }, false],
    ["live missing entirely", { a: 1 }, undefined, true],
    ["booleans", { a: false }, { a: false }, false],
    ["boolean vs missing", { a: false }, {}, true],
  ])("%s", (_name, desired, live, expected) => {
    expect(needsApply(desired, live)).toBe(expected);
  });

  it("is false for any object against itself or a superset of itself", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.dictionary(fc.string(), fc.jsonValue()), (value, extra) => {
        const desired = { x: value };
        expect(needsApply(desired, structuredClone(desired))).toBe(false);
        expect(needsApply(desired, { ...extra, ...structuredClone(desired) })).toBe(false);
      }),
    );
  });
});

describe("canonicalJson", () => {
  it("sorts keys and drops undefined", () => {
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: undefined }] })).toBe('{"a":[{"d":1}],"b":1}');
  });
});

describe("applyIfChanged", () => {
  let fake: FakeApiServer;
  let kube: KubeClient;
  beforeEach(async () => {
    fake = await new FakeApiServer().start();
    kube = new KubeClient(fake.kubeConfig());
  });
  afterEach(async () => fake.stop());

  const desired = (data: Record<string, string>): KubeObject => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "c", namespace: "n", labels: { a: "1" } },
    data,
  });

  const withHash = { fieldManager: "m", hashAnnotation: "example.com/applied-hash" };

  it("applies when missing or changed, and writes nothing when unchanged", async () => {
    const first = await applyIfChanged(kube, desired({ k: "v" }), undefined, withHash);
    expect(first?.metadata?.annotations?.["example.com/applied-hash"]).toMatch(/^[0-9a-f]{16}$/);
    expect(kube.requestCounts.apply).toBe(1);
    expect(await applyIfChanged(kube, desired({ k: "v" }), first, withHash)).toBeUndefined();
    expect(kube.requestCounts.apply).toBe(1);
    await applyIfChanged(kube, desired({ k: "w" }), first, withHash);
    expect(kube.requestCounts.apply).toBe(2);
  });

  it("detects a field desired stopped setting through the hash annotation", async () => {
    const live = await applyIfChanged(kube, desired({ k: "v", gone: "x" }), undefined, withHash);
    await applyIfChanged(kube, desired({ k: "v" }), live, withHash);
    expect(kube.requestCounts.apply).toBe(2);
  });

  it("without the hash, a removed field is not detected (documented limit)", async () => {
    const opts = { fieldManager: "m" };
    const live = await applyIfChanged(kube, desired({ k: "v", gone: "x" }), undefined, opts);
    expect(await applyIfChanged(kube, desired({ k: "v" }), live, opts)).toBeUndefined();
  });

  it("applies status through the subresource only when changed", async () => {
    const live = await kube.create(desired({}));
    await applyStatusIfChanged(kube, live, { phase: "Ready" }, { fieldManager: "m" });
    expect(fake.requests.at(-1)?.path).toBe("/api/v1/namespaces/n/configmaps/c/status");
    const after = await kube.get({ apiVersion: "v1", kind: "ConfigMap", namespace: "n", name: "c" });
    expect(after.status).toEqual({ phase: "Ready" });
    expect(
      await applyStatusIfChanged(kube, after, { phase: "Ready" }, { fieldManager: "m" }),
    ).toBeUndefined();
    expect(kube.requestCounts.apply).toBe(1);
  });
});

describe("applyStatusIfChanged from a stale object", () => {
  let fake: FakeApiServer;
  let kube: KubeClient;
  beforeEach(async () => {
    fake = await new FakeApiServer().start();
    enforceResourceVersion(fake);
    kube = new KubeClient(fake.kubeConfig());
  });
  afterEach(async () => fake.stop());

  const ref = { apiVersion: "v1", kind: "ConfigMap", namespace: "n", name: "c" };
  const created = () =>
    kube.create<KubeObject>({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "n" } });

  it("is refused with 409 when status changed since the object was read", async () => {
    const read = await created();
    await applyStatusIfChanged(kube, read, { handled: "a" }, { fieldManager: "m" });
    const stale = applyStatusIfChanged(kube, read, { handled: "b" }, { fieldManager: "m" });
    await expect(stale).rejects.toMatchObject({ status: 409 });
    expect((await kube.get(ref)).status).toEqual({ handled: "a" });
  });

  it("is written when only metadata or spec changed since, since the status read is still the latest", async () => {
    const read = await created();
    await kube.mergePatch(ref, { metadata: { annotations: { new: "value" } } });
    const written = await applyStatusIfChanged(kube, read, { handled: "a" }, { fieldManager: "m" });
    expect(written?.status).toEqual({ handled: "a" });
  });
});
