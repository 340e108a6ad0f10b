// Time for the artifact fetcher to download a 50 MB single object from a local
// SeaweedFS (a whole `node operator/fetcher/main.ts` run, as the init
// container does it: start-up, signed GET, write, atomic move), beside two
// baselines on the same machine and object: curl reading it from SeaweedFS
// with its own SigV4 (--aws-sigv4) into a file, and `cp` of the same 50 MB
// local file. Median of 5 each; prints the figures, the fetcher's start-up
// floor, and the ratios.
// Run: node bench/fetch.ts   (builds or reuses SeaweedFS via hack/seaweedfs.sh)
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startS3Server } from "../hack/localcluster/s3-server.ts";
import { runFetcher } from "../operator/testing/fetcher-run.ts";

const SIZE = 50 * 1024 * 1024;
const RUNS = 5;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

function timed(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const dir = mkdtempSync(join(tmpdir(), "bench-fetch-"));
const s3 = await startS3Server({ dir: join(dir, "seaweedfs") });
try {
  const body = randomBytes(SIZE);
  const local = join(dir, "model.bin");
  writeFileSync(local, body);
  await s3.createBucket("bench");
  await s3.putObject("bench", "model.bin", body);

  const fetcherMs: number[] = [];
  const curlMs: number[] = [];
  const cpMs: number[] = [];
  const startMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // The process floor: node start-up and the fetcher's base modules, failing
    // at once on an unsupported scheme (no network).
    startMs.push(
      (await runFetcher({ MODELOPS_ARTIFACT_URI: "none://x", MODELOPS_ARTIFACT_DEST: join(dir, "none") })).ms,
    );

    const dest = join(dir, `dest-${i}`);
    const r = await runFetcher({
      MODELOPS_ARTIFACT_URI: "s3://bench/model.bin",
      MODELOPS_ARTIFACT_DEST: dest,
      MODELOPS_S3_ENDPOINT: s3.endpoint,
      MODELOPS_S3_PATH_STYLE: "true",
      MODELOPS_ARTIFACT_ALLOW_HTTP: "true",
      AWS_ACCESS_KEY_ID: s3.accessKey,
      AWS_SECRET_ACCESS_KEY: s3.secretKey,
    });
    if (r.code !== 0 || statSync(join(dest, "model.bin")).size !== SIZE)
      throw new Error(`fetcher failed: ${r.stderr}`);
    fetcherMs.push(r.ms);
    rmSync(dest, { recursive: true });

    const out = join(dir, `curl-${i}.bin`);
    curlMs.push(
      timed(() =>
        execFileSync("curl", [
          "-sSf",
          "--aws-sigv4",
          "aws:amz:us-east-1:s3",
          "--user",
          `${s3.accessKey}:${s3.secretKey}`,
          "-o",
          out,
          `${s3.endpoint}/bench/model.bin`,
        ]),
      ),
    );
    if (statSync(out).size !== SIZE) throw new Error("curl got a short file");
    rmSync(out);

    const copy = join(dir, `cp-${i}.bin`);
    cpMs.push(timed(() => execFileSync("cp", [local, copy])));
    rmSync(copy);
  }
  const f = median(fetcherMs);
  const c = median(curlMs);
  const p = median(cpMs);
  const st = median(startMs);
  const mbps = (ms: number) => (SIZE / 1024 / 1024 / (ms / 1000)).toFixed(0);
  console.log(`50 MiB object, median of ${RUNS}:`);
  console.log(
    `  fetcher (node main.ts, whole process): ${f.toFixed(0)} ms (${mbps(f)} MiB/s)  runs: ${fetcherMs.map((x) => x.toFixed(0)).join(" ")}`,
  );
  console.log(
    `  curl --aws-sigv4 from SeaweedFS:       ${c.toFixed(0)} ms (${mbps(c)} MiB/s)  runs: ${curlMs.map((x) => x.toFixed(0)).join(" ")}`,
  );
  console.log(
    `  cp of the local file:                  ${p.toFixed(0)} ms (${mbps(p)} MiB/s)  runs: ${cpMs.map((x) => x.toFixed(0)).join(" ")}`,
  );
  console.log(`  of which process start-up (node + base modules, no fetch): ${st.toFixed(0)} ms`);
  console.log(`  ratio fetcher/curl: ${(f / c).toFixed(2)}   fetcher/cp: ${(f / p).toFixed(2)}`);
} finally {
  await s3.stop();
  rmSync(dir, { recursive: true, force: true });
}
