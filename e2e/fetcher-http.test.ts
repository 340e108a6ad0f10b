// The artifact fetcher against local http(s) servers, run as the init
// container would run it (a separate node process, env only): archives over
// https with a test CA (NODE_EXTRA_CA_CERTS), checksums, the http policy,
// retries of truncated bodies and 5xx, size limits, and no query strings of
// presigned URLs in any output.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { directorySha256 } from "../operator/fetcher/checksum.ts";
import { sha256Hex } from "../operator/fetcher/sigv4.ts";
import { tgz, zip } from "../operator/testing/fetcher-archives.ts";
import { runFetcher } from "../operator/testing/fetcher-run.ts";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const routes = new Map<string, Handler>();
const hits = new Map<string, number>();
const route = (req: IncomingMessage, res: ServerResponse) => {
  const path = new URL(req.url ?? "/", "http://x").pathname;
  hits.set(path, (hits.get(path) ?? 0) + 1);
  const h = routes.get(path);
  if (h) h(req, res);
  else res.writeHead(404).end("not found");
};
const serve = (path: string, body: Buffer | string) =>
  routes.set(path, (_q, r) => r.writeHead(200, { "content-length": Buffer.byteLength(body) }).end(body));

let dir: string;
let httpsServer: https.Server;
let httpServer: http.Server;
let httpsBase: string;
let httpBase: string;
let caEnv: Record<string, string>;

const modelTree = [
  { name: "model/", type: "5" },
  { name: "model/MLmodel", data: "flavors: {}\n" },
  { name: "model/weights.bin", data: Buffer.alloc(70_000, 7) },
  { name: "model/current", type: "2", link: "weights.bin" },
];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fetcher-http-"));
  const key = join(dir, "key.pem");
  const cert = join(dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );
  caEnv = { NODE_EXTRA_CA_CERTS: cert };
  httpsServer = https.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, route);
  httpServer = http.createServer(route);
  await new Promise<void>((r) => httpsServer.listen(0, "127.0.0.1", r));
  await new Promise<void>((r) => httpServer.listen(0, "127.0.0.1", r));
  httpsBase = `https://127.0.0.1:${(httpsServer.address() as AddressInfo).port}`;
  httpBase = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;

  serve("/m.tar.gz", tgz(modelTree));
  serve(
    "/m.zip",
    zip([
      { name: "m/a.txt", data: "a" },
      { name: "m/b.txt", data: "b".repeat(5000), deflate: true },
    ]),
  );
  serve("/model.pt", zip([{ name: "archive/data.pkl", data: "x" }]));
  serve("/evil.tgz", tgz([{ name: "../../escape.txt", data: "x" }]));
  serve("/big.bin", Buffer.alloc(1000, 1));
  serve("/small.bin", "weights");
  // Declares 1000 bytes, sends 500, closes: always.
  routes.set("/truncated.bin", (_q, r) => {
    r.writeHead(200, { "content-length": 1000 });
    r.write(Buffer.alloc(500, 1));
    setTimeout(() => r.socket?.destroy(), 20);
  });
  // Truncated on the first request only.
  routes.set("/flaky.bin", (_q, r) => {
    r.writeHead(200, { "content-length": 1000 });
    if ((hits.get("/flaky.bin") ?? 0) === 1) {
      r.write(Buffer.alloc(500, 2));
      setTimeout(() => r.socket?.destroy(), 20);
    } else r.end(Buffer.alloc(1000, 2));
  });
  routes.set("/busy.bin", (_q, r) => {
    if ((hits.get("/busy.bin") ?? 0) <= 2) r.writeHead(503).end("busy");
    else r.writeHead(200).end("ok after 503s");
  });
  routes.set("/forbidden.bin", (_q, r) => r.writeHead(403).end("no"));
  routes.set("/to-http", (_q, r) => r.writeHead(302, { location: `${httpBase}/small.bin` }).end());
  routes.set("/to-small", (_q, r) => r.writeHead(302, { location: "/small.bin" }).end());
});

afterAll(async () => {
  await new Promise((r) => httpsServer?.close(r));
  await new Promise((r) => httpServer?.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let n = 0;
const destDir = () => join(dir, `dest-${++n}`);
const fetcher = (uri: string, extra: Record<string, string> = {}) => {
  const dest = destDir();
  return runFetcher({ ...caEnv, MODELOPS_ARTIFACT_URI: uri, MODELOPS_ARTIFACT_DEST: dest, ...extra }).then(
    (r) => ({ ...r, dest }),
  );
};

describe("fetcher over https", () => {
  it("unpacks a tar.gz archive and verifies the directory checksum", async () => {
    const src = mkdtempSync(join(dir, "expected-"));
    execFileSync("tar", ["xzf", "-", "-C", src], { input: tgz(modelTree) });
    const sum = await directorySha256(src);
    const r = await fetcher(`${httpsBase}/m.tar.gz`, { MODELOPS_ARTIFACT_SHA256: sum });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(r.dest, "model/MLmodel"), "utf8")).toBe("flavors: {}\n");
    expect(readlinkSync(join(r.dest, "model/current"))).toBe("weights.bin");
    expect(readdirSync(r.dest).sort()).toEqual(["model"]);
    expect(r.stdout).toMatch(/sha256 verified \(directory listing\)/);
    expect(r.stdout).toMatch(/^done: https:\/\/127\.0\.0\.1:\d+\/m\.tar\.gz -> .* in [\d.]+ s$/m);
  });

  it("unpacks a zip, but keeps a zip-format model file (model.pt) as one file", async () => {
    const a = await fetcher(`${httpsBase}/m.zip`);
    expect(a.code, a.stderr).toBe(0);
    expect(readFileSync(join(a.dest, "m/b.txt"), "utf8")).toBe("b".repeat(5000));
    const b = await fetcher(`${httpsBase}/model.pt`);
    expect(b.code, b.stderr).toBe(0);
    expect(readdirSync(b.dest)).toEqual(["model.pt"]);
  });

  it("verifies a single file's sha256 and reports a mismatch", async () => {
    const ok = await fetcher(`${httpsBase}/small.bin`, { MODELOPS_ARTIFACT_SHA256: sha256Hex("weights") });
    expect(ok.code, ok.stderr).toBe(0);
    expect(readFileSync(join(ok.dest, "small.bin"), "utf8")).toBe("weights");
    const bad = await fetcher(`${httpsBase}/small.bin`, { MODELOPS_ARTIFACT_SHA256: "0".repeat(64) });
    expect(bad.code).toBe(1);
    expect(bad.termination).toBe(
      `sha256 mismatch (file): expected ${"0".repeat(64)}, got ${sha256Hex("weights")}`,
    );
    // Nothing unverified is left for a model server.
    expect(readdirSync(bad.dest)).toEqual([]);
  });

  it("refuses an archive entry escaping the destination", async () => {
    const r = await fetcher(`${httpsBase}/evil.tgz`);
    expect(r.code).toBe(1);
    expect(r.termination).toMatch(
      /evil\.tgz: refusing entry "..\/..\/escape.txt": '..' would escape the destination/,
    );
    expect(existsSync(join(dir, "escape.txt"))).toBe(false);
  });

  it("reports 404 and 403 without retrying them", async () => {
    const r = await fetcher(`${httpsBase}/missing.bin`);
    expect(r.code).toBe(1);
    expect(r.termination).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/missing\.bin: 404 Not Found$/);
    const before = hits.get("/forbidden.bin") ?? 0;
    const f = await fetcher(`${httpsBase}/forbidden.bin`);
    expect(f.termination).toMatch(/forbidden\.bin: 403 Forbidden$/);
    expect((hits.get("/forbidden.bin") ?? 0) - before).toBe(1);
  });

  it("retries 503 and a truncated body, then succeeds", async () => {
    const busy = await fetcher(`${httpsBase}/busy.bin`);
    expect(busy.code, busy.stderr).toBe(0);
    expect(busy.stdout).toMatch(/503 Service Unavailable; retrying/);
    const flaky = await fetcher(`${httpsBase}/flaky.bin`);
    expect(flaky.code, flaky.stderr).toBe(0);
    expect(flaky.stdout).toMatch(/retrying/);
    expect(readFileSync(join(flaky.dest, "flaky.bin")).length).toBe(1000);
  });

  it("fails clearly when the body is always cut short (Content-Length not met)", async () => {
    const r = await fetcher(`${httpsBase}/truncated.bin`);
    expect(r.code).toBe(1);
    expect(r.termination).toMatch(
      /truncated\.bin: (truncated download, 500 of 1000 bytes|download broken after 500 bytes.*) \(after 5 attempts\)$/,
    );
    expect((r.stdout.match(/retrying/g) ?? []).length).toBe(4);
    expect(readdirSync(r.dest)).toEqual([]);
  });

  it("enforces the size limit", async () => {
    const r = await fetcher(`${httpsBase}/big.bin`, { MODELOPS_ARTIFACT_MAX_BYTES: "999" });
    expect(r.code).toBe(1);
    expect(r.termination).toMatch(
      /big\.bin: 1000 bytes exceeds the size limit of 999 bytes \(MODELOPS_ARTIFACT_MAX_BYTES\)/,
    );
    const unpacked = await fetcher(`${httpsBase}/m.tar.gz`, { MODELOPS_ARTIFACT_MAX_BYTES: "60000" });
    expect(unpacked.termination).toMatch(
      /unpacked contents exceed the size limit of 60000 bytes|exceeds the size limit/,
    );
  });

  it("follows a redirect, but not from https to http", async () => {
    const ok = await fetcher(`${httpsBase}/to-small`);
    expect(ok.code, ok.stderr).toBe(0);
    const r = await fetcher(`${httpsBase}/to-http`);
    expect(r.code).toBe(1);
    expect(r.termination).toMatch(/redirect to plain http .* refused/);
  });

  it("never prints a presigned URL's query", async () => {
    const secret = "X-Amz-Signature=deadbeefcafe1234567890";
    const r = await fetcher(`${httpsBase}/missing.bin?${secret}&X-Amz-Credential=AKIAEXAMPLE`);
    expect(r.code).toBe(1);
    expect(r.termination).toMatch(/missing\.bin\?…: 404 Not Found/);
    for (const out of [r.stdout, r.stderr, r.termination]) {
      expect(out).not.toContain("deadbeef");
      expect(out).not.toContain("AKIAEXAMPLE");
    }
  });
});

describe("fetcher over plain http", () => {
  it("refuses http:// unless MODELOPS_ARTIFACT_ALLOW_HTTP=true", async () => {
    const r = await fetcher(`${httpBase}/small.bin`);
    expect(r.code).toBe(1);
    expect(r.termination).toMatch(
      /plain http artifact refused; use https, or set MODELOPS_ARTIFACT_ALLOW_HTTP=true/,
    );
    expect(r.stderr).toContain(r.termination);
    const ok = await fetcher(`${httpBase}/small.bin`, { MODELOPS_ARTIFACT_ALLOW_HTTP: "true" });
    expect(ok.code, ok.stderr).toBe(0);
  });

  it("reports a missing MLflow module or unsupported URI clearly", async () => {
    const r = await fetcher("ftp://example/x");
    expect(r.code).toBe(1);
    expect(r.termination).toMatch(/unsupported artifact URI/);
  });
});
