// The artifact fetcher against a real S3-compatible server (SeaweedFS with
// authentication on), run as the init container would run it: single
// objects, prefixes with nested keys and pagination, credentials (admin,
// read-only, wrong, anonymous), missing objects, checksums and size limits.
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningS3Server, startS3Server } from "../hack/localcluster/s3-server.ts";
import { canonicalListing } from "../operator/fetcher/checksum.ts";
import { sha256Hex } from "../operator/fetcher/sigv4.ts";
import { runFetcher } from "../operator/testing/fetcher-run.ts";

let dir: string;
let s3: RunningS3Server;

const files: Record<string, string> = {
  MLmodel: "flavors:\n  sklearn: {}\n",
  "model.pkl": "pickled-weights",
  "sub/dir/extra.json": '{"a": 1}',
  "with space & ü.txt": "odd key",
};
const dirSha = () =>
  createHash("sha256")
    .update(
      canonicalListing(Object.entries(files).map(([path, data]) => ({ path, sha256: sha256Hex(data) }))),
    )
    .digest("hex");

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fetcher-s3-"));
  const t0 = Date.now();
  s3 = await startS3Server({ dir: join(dir, "seaweedfs") });
  console.log(`[seaweedfs] ready in ${Date.now() - t0}ms at ${s3.endpoint}`);
  await s3.createBucket("models");
  for (const [k, v] of Object.entries(files)) await s3.putObject("models", `iris/v1/${k}`, v);
  await s3.putObject("models", "iris/v1-decoy/not-me.txt", "sibling prefix, must not be fetched");
  await s3.putObject("models", "single/model.onnx", "onnx-bytes");
  await s3.putObject("models", "big/blob.bin", Buffer.alloc(200_000, 3));
  for (let i = 0; i < 1005; i++) await s3.putObject("models", `many/f${String(i).padStart(4, "0")}`, `${i}`);
}, 300_000);

afterAll(async () => {
  await s3?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let n = 0;
function fetcher(
  uri: string,
  extra: Record<string, string> = {},
  key?: { accessKey: string; secretKey: string } | null,
) {
  const dest = join(dir, `dest-${++n}`);
  const k = key === undefined ? { accessKey: s3.accessKey, secretKey: s3.secretKey } : key;
  const creds: Record<string, string> = k
    ? { AWS_ACCESS_KEY_ID: k.accessKey, AWS_SECRET_ACCESS_KEY: k.secretKey }
    : {};
  return runFetcher({
    MODELOPS_ARTIFACT_URI: uri,
    MODELOPS_ARTIFACT_DEST: dest,
    MODELOPS_S3_ENDPOINT: s3.endpoint,
    MODELOPS_S3_PATH_STYLE: "true",
    MODELOPS_ARTIFACT_ALLOW_HTTP: "true",
    ...creds,
    ...extra,
  }).then((r) => ({ ...r, dest }));
}

describe("fetcher against SeaweedFS", () => {
  it("downloads a single object", async () => {
    const r = await fetcher("s3://models/single/model.onnx", {
      MODELOPS_ARTIFACT_SHA256: sha256Hex("onnx-bytes"),
    });
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(r.dest)).toEqual(["model.onnx"]);
    expect(readFileSync(join(r.dest, "model.onnx"), "utf8")).toBe("onnx-bytes");
    expect(r.stdout).toMatch(
      /^fetching s3:\/\/models\/single\/model\.onnx from http:\/\/127\.0\.0\.1:\d+ \(signed, path style\)$/m,
    );
  });

  it("downloads a prefix as a directory, keeping relative paths, and verifies its listing checksum", async () => {
    const r = await fetcher("s3://models/iris/v1", { MODELOPS_ARTIFACT_SHA256: dirSha() });
    expect(r.code, r.stderr).toBe(0);
    for (const [k, v] of Object.entries(files)) expect(readFileSync(join(r.dest, k), "utf8")).toBe(v);
    expect(readdirSync(r.dest).sort()).toEqual(["MLmodel", "model.pkl", "sub", "with space & ü.txt"]);
    expect(r.stdout).toMatch(/4 objects/);
  });

  it("pages through more than 1000 keys", async () => {
    const r = await fetcher("s3://models/many/");
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(r.dest).length).toBe(1005);
  });

  it("works with the read-only key", async () => {
    const r = await fetcher("s3://models/iris/v1", {}, s3.readOnlyKey);
    expect(r.code, r.stderr).toBe(0);
  });

  it("reports wrong credentials as 403 with a hint, and never prints the secret", async () => {
    const bad = { accessKey: s3.accessKey, secretKey: "wrong-secret-value-123456" };
    const r = await fetcher("s3://models/single/model.onnx", {}, bad);
    expect(r.code).toBe(1);
    expect(r.termination).toMatch(
      /^s3:\/\/models\/single\/model\.onnx: 403 \w+ \(check the credentials Secret\)$/,
    );
    for (const out of [r.stdout, r.stderr, r.termination]) {
      expect(out).not.toContain("wrong-secret-value");
      expect(out).not.toContain(s3.secretKey);
    }
    const unknown = await fetcher(
      "s3://models/iris/v1",
      {},
      { accessKey: "AKUNKNOWN0000000", secretKey: "x".repeat(40) },
    );
    expect(unknown.termination).toMatch(/: 403 \w+ \(check the credentials Secret\)$/);
  });

  it("refuses anonymous access (authentication is on)", async () => {
    const r = await fetcher("s3://models/single/model.onnx", {}, null);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\(anonymous, path style\)/);
    expect(r.termination).toMatch(/^s3:\/\/models\/single\/model\.onnx: 403 \w+/);
  });

  it("reports a missing object or prefix as 404", async () => {
    const r = await fetcher("s3://models/nope/model.onnx");
    expect(r.code).toBe(1);
    expect(r.termination).toBe("s3://models/nope/model.onnx: 404 NoSuchKey (no such object or prefix)");
    const b = await fetcher("s3://no-such-bucket/x");
    expect(b.termination).toMatch(/^s3:\/\/no-such-bucket\/x: 404 NoSuchBucket \(no such bucket\)$/);
  });

  it("reports checksum mismatches for a file and a directory, leaving nothing behind", async () => {
    const f = await fetcher("s3://models/single/model.onnx", { MODELOPS_ARTIFACT_SHA256: "a".repeat(64) });
    expect(f.code).toBe(1);
    expect(f.termination).toBe(
      `sha256 mismatch (file): expected ${"a".repeat(64)}, got ${sha256Hex("onnx-bytes")}`,
    );
    expect(readdirSync(f.dest)).toEqual([]);
    const d = await fetcher("s3://models/iris/v1", { MODELOPS_ARTIFACT_SHA256: "b".repeat(64) });
    expect(d.termination).toBe(
      `sha256 mismatch (directory listing): expected ${"b".repeat(64)}, got ${dirSha()}`,
    );
    expect(readdirSync(d.dest)).toEqual([]);
  });

  it("enforces the size limit on a single object and on a prefix's total", async () => {
    const r = await fetcher("s3://models/big/blob.bin", { MODELOPS_ARTIFACT_MAX_BYTES: "100000" });
    expect(r.code).toBe(1);
    expect(r.termination).toMatch(
      /200000 bytes exceeds the size limit of 100000 bytes \(MODELOPS_ARTIFACT_MAX_BYTES\)/,
    );
    const p = await fetcher("s3://models/big", { MODELOPS_ARTIFACT_MAX_BYTES: "100000" });
    expect(p.termination).toMatch(
      /^s3:\/\/models\/big: 200000 bytes under the prefix exceeds the size limit/,
    );
  });

  it("refuses an http endpoint unless http is allowed", async () => {
    const r = await fetcher("s3://models/single/model.onnx", { MODELOPS_ARTIFACT_ALLOW_HTTP: "" });
    expect(r.code).toBe(1);
    expect(r.termination).toMatch(/plain http artifact refused/);
  });

  it("cleans leftovers of an earlier attempt before fetching", async () => {
    const first = await fetcher("s3://models/iris/v1");
    expect(first.code).toBe(0);
    const again = await runFetcher({
      MODELOPS_ARTIFACT_URI: "s3://models/single/model.onnx",
      MODELOPS_ARTIFACT_DEST: first.dest,
      MODELOPS_S3_ENDPOINT: s3.endpoint,
      MODELOPS_S3_PATH_STYLE: "true",
      MODELOPS_ARTIFACT_ALLOW_HTTP: "true",
      AWS_ACCESS_KEY_ID: s3.accessKey,
      AWS_SECRET_ACCESS_KEY: s3.secretKey,
    });
    expect(again.code, again.stderr).toBe(0);
    expect(readdirSync(first.dest)).toEqual(["model.onnx"]);
  });
});
