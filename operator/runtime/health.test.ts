import { describe, expect, it } from "vitest";
import { parseBindAddress, startHealthServer } from "./health.ts";
import { counterOn, createRegistry } from "./metrics.ts";

describe("parseBindAddress", () => {
  it.each([
    ["127.0.0.1:8080", { host: "127.0.0.1", port: 8080 }],
    [":8443", { host: "0.0.0.0", port: 8443 }],
    ["[::1]:9", { host: "::1", port: 9 }],
    ["localhost:0", { host: "localhost", port: 0 }],
  ])("%s", (input, want) => {
    expect(parseBindAddress(input)).toEqual(want);
  });
  it("rejects garbage", () => {
    expect(() => parseBindAddress("nope")).toThrow(/invalid bind address/);
  });
});

describe("startHealthServer", () => {
  it("serves /metrics, /healthz and /readyz", async () => {
    const registry = createRegistry();
    counterOn(registry, { name: "modelops_test_total", help: "t" }).inc();
    let ready = false;
    const server = await startHealthServer({ bindAddress: "127.0.0.1:0", registry, ready: () => ready });
    if (!server) throw new Error("expected a server");
    const base = `http://${server.address}`;
    try {
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
      ready = true;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.headers.get("content-type")).toContain("text/plain");
      const body = await metrics.text();
      expect(body).toContain("modelops_test_total 1");
      expect(body).toContain("process_cpu_user_seconds_total");
      expect((await fetch(`${base}/nope`)).status).toBe(404);
      expect((await fetch(`${base}/healthz`, { method: "POST" })).status).toBe(405);
    } finally {
      await server.close();
    }
  });

  it("reports unhealthy when the live check fails", async () => {
    const server = await startHealthServer({
      bindAddress: "127.0.0.1:0",
      registry: createRegistry({ defaultMetrics: false }),
      ready: () => true,
      live: () => false,
    });
    try {
      expect((await fetch(`http://${server?.address}/healthz`)).status).toBe(503);
    } finally {
      await server?.close();
    }
  });

  it("is disabled by bind address 0", async () => {
    expect(
      await startHealthServer({ bindAddress: "0", registry: createRegistry(), ready: () => true }),
    ).toBeUndefined();
  });
});
