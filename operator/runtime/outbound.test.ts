import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { fencedRange, OutboundRefused, outboundPolicy, refusal, send } from "./outbound.ts";

// "pinned.test" exists only in this resolver: a request that reaches the server
// connected to the address the fence checked, not to a second DNS answer.
vi.mock("node:dns/promises", async (original) => {
  const real = await original<typeof import("node:dns/promises")>();
  return {
    ...real,
    lookup: (host: string, opts: object) =>
      host === "pinned.test"
        ? Promise.resolve([{ address: "127.0.0.1", family: 4 }])
        : real.lookup(host, opts),
  };
});

const cluster = outboundPolicy({ serviceCidr: "10.96.0.0/12,fd00:10:96::/112", podCidr: "10.244.0.0/16" });

describe("fencedRange", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.3.4.5", "loopback"],
    ["::1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["169.254.169.254", "link-local (cloud metadata)"],
    ["::ffff:169.254.169.254", "link-local (cloud metadata)"],
    ["fe80::1", "link-local"],
    ["0.0.0.0", "unspecified"],
    ["::", "unspecified"],
    ["10.96.0.1", "cluster Service"],
    ["fd00:10:96::a", "cluster Service"],
    ["10.244.3.7", "cluster pod"],
    ["10.0.0.1", undefined],
    ["192.168.1.10", undefined],
    ["93.184.216.34", undefined],
    ["2606:2800:220:1::1", undefined],
  ])("%s is %s", (address, what) => {
    expect(fencedRange(address, cluster)).toBe(what);
  });
});

describe("refusal", () => {
  const none = outboundPolicy();
  const allowing = outboundPolicy({ allow: "prometheus.local, 127.0.0.1, 10.96.0.0/16, [::1]" });
  it.each([
    // url, resolved addresses, policy, refused?
    ["https://hooks.example.com/x", ["93.184.216.34"], none, undefined],
    [
      "https://metadata.example/x",
      ["169.254.169.254"],
      none,
      /it resolves to 169\.254\.169\.254, a link-local \(cloud metadata\) address/,
    ],
    ["https://169.254.169.254/latest", ["169.254.169.254"], none, /169\.254\.169\.254: it is a link-local/],
    ["https://rebind.example/x", ["93.184.216.34", "127.0.0.1"], none, /resolves to 127\.0\.0\.1.*loopback/],
    ["https://kube-dns.svc/x", ["10.96.0.10"], cluster, /cluster Service address/],
    ["http://hooks.example.com/x", ["93.184.216.34"], none, /over plain http: use https, or allow it with/],
    ["file:///etc/passwd", [], none, /only https/],
    ["http://127.0.0.1:9000/x", ["127.0.0.1"], allowing, undefined],
    ["http://[::1]:9000/x", ["::1"], allowing, undefined],
    ["http://prometheus.local:9090", ["127.0.0.1", "::1"], allowing, undefined],
    [
      "https://10.96.0.10/x",
      ["10.96.0.10"],
      outboundPolicy({ ...cluster, allow: "10.96.0.0/16" }),
      undefined,
    ],
    [
      "https://10.97.0.10/x",
      ["10.97.0.10"],
      outboundPolicy({ serviceCidr: "10.96.0.0/12", allow: "10.96.0.0/16" }),
      /cluster Service/,
    ],
    ["http://127.0.0.2/x", ["127.0.0.2"], allowing, /loopback/],
  ])("%s resolving to %j", (url, addresses, policy, expected) => {
    const why = refusal(new URL(url), addresses, policy);
    if (expected === undefined) expect(why).toBeUndefined();
    else expect(why).toMatch(expected);
    if (why && !/only https/.test(why)) expect(why).toContain("--outbound-allow");
  });

  it("rejects malformed flag values, naming the flag", () => {
    expect(() => outboundPolicy({ allow: "10.0.0.0/99" })).toThrow(/--outbound-allow: "10.0.0.0\/99"/);
    expect(() => outboundPolicy({ allow: "http://x" })).toThrow(/--outbound-allow/);
    expect(() => outboundPolicy({ serviceCidr: "10.96.0.0/abc" })).toThrow(/--service-cidr/);
    expect(() => outboundPolicy({ podCidr: "pods" })).toThrow(/--pod-cidr/);
  });
});

describe("send", () => {
  let server: Server;
  let port: number;
  const calls: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      calls.push(req.url ?? "");
      if (req.url === "/redirect") res.writeHead(302, { location: "/secret" }).end();
      else if (req.url === "/huge") res.end("x".repeat(2048));
      else if (req.url === "/slow") setTimeout(() => res.end("late"), 1000);
      else res.end("ok");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((r) => server.close(r)));
  const get = { method: "GET", headers: {} };

  it("refuses loopback before any request arrives, by address and by a name that resolves to it", async () => {
    const before = calls.length;
    const policy = outboundPolicy();
    await expect(send(`http://127.0.0.1:${port}/a`, get, { policy })).rejects.toBeInstanceOf(OutboundRefused);
    // Other spellings of 127.0.0.1: the URL parser normalizes them before the check.
    for (const host of ["0x7f.1", "2130706433", "0177.0.0.1", "[::ffff:127.0.0.1]"]) {
      await expect(send(`http://${host}:${port}/a`, get, { policy })).rejects.toThrow(/loopback/);
    }
    await expect(send(`http://localhost:${port}/a`, get, { policy })).rejects.toThrow(
      /localhost: it resolves to .*loopback/,
    );
    expect(calls.length).toBe(before);
  });

  it("sends when allowed, to the checked address", async () => {
    for (const allow of ["127.0.0.1", "127.0.0.0/8", "localhost"]) {
      const policy = outboundPolicy({ allow: `${allow},::1` });
      const host = allow === "localhost" ? "localhost" : "127.0.0.1";
      const res = await send(`http://${host}:${port}/ok`, get, { policy });
      expect(res).toMatchObject({ status: 200, body: "ok" });
    }
  });

  it("connects to the address it checked (no second resolution a rebinding DNS could answer)", async () => {
    const res = await send(`http://pinned.test:${port}/ok`, get, {
      policy: outboundPolicy({ allow: "127.0.0.1" }),
    });
    expect(res).toMatchObject({ status: 200, body: "ok" });
    await expect(send(`http://pinned.test:${port}/ok`, get, { policy: outboundPolicy() })).rejects.toThrow(
      /pinned\.test: it resolves to 127\.0\.0\.1, a loopback address/,
    );
  });

  it("does not follow redirects", async () => {
    const before = calls.length;
    const res = await send(`http://127.0.0.1:${port}/redirect`, get, {
      policy: outboundPolicy({ allow: "127.0.0.1" }),
    });
    expect(res.status).toBe(302);
    expect(calls.slice(before)).toEqual(["/redirect"]);
  });

  it("limits the answer's size and the time to answer", async () => {
    await expect(send(`http://127.0.0.1:${port}/huge`, get, { maxResponseBytes: 1024 })).rejects.toThrow(
      /larger than 1024 bytes/,
    );
    await expect(send(`http://127.0.0.1:${port}/slow`, get, { timeoutMs: 100 })).rejects.toMatchObject({
      name: "TimeoutError",
    });
  });
});
