// The artifact fetcher: the init container of inference pods whose
// ModelVersion artifact is remote. Reads its job from FETCHER_ENV, downloads
// into DEST/.partial, verifies, then moves the result into DEST. Exit 0 on
// success; exit 1 with a one-line reason in the termination log otherwise.
// See README.md.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { FETCHER_ENV } from "../api/contract.ts";
import type { FetchContext, FetchSource } from "./context.ts";
import { abandon, commit, prepare } from "./dest.ts";
import { FetchError } from "./http.ts";
import { formatBytes } from "./progress.ts";
import { envRedactor, redactUrl } from "./redact.ts";

export const DEFAULT_MAX_BYTES = 10 * 1024 ** 3;

export function parseMaxBytes(v: string | undefined): number {
  if (v === undefined || v === "") return DEFAULT_MAX_BYTES;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new FetchError(`${FETCHER_ENV.maxBytes}=${JSON.stringify(v)}: not a positive integer`);
  return n;
}

// Sources are loaded on demand: node strips types file by file at start-up,
// and an S3 fetch need not pay for the archive readers (or the reverse).
async function source(uri: string): Promise<FetchSource> {
  if (uri.startsWith("s3://")) return (await import("./s3.ts")).fetchS3;
  if (uri.startsWith("https://") || uri.startsWith("http://")) return (await import("./remote.ts")).fetchHttp;
  if (uri.startsWith("models:/")) return (await import("./mlflow.ts")).fetchMlflowModel;
  throw new FetchError(`${redactUrl(uri)}: unsupported artifact URI (s3://, https://, http:// or models:/)`);
}

/** Runs the job; returns the process exit code. */
export async function run(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const redact = envRedactor(env);
  const out = (l: string) => process.stdout.write(`${redact(l)}\n`);
  const started = Date.now();
  let work: string | undefined;
  try {
    const uri = env[FETCHER_ENV.uri];
    const dest = env[FETCHER_ENV.dest];
    if (!uri) throw new FetchError(`${FETCHER_ENV.uri} is not set`);
    if (!dest) throw new FetchError(`${FETCHER_ENV.dest} is not set`);
    const ctx: FetchContext = {
      log: out,
      allowHttp: env[FETCHER_ENV.allowHttp] === "true",
      maxBytes: parseMaxBytes(env[FETCHER_ENV.maxBytes]),
      env,
    };
    const fetch = await source(uri);
    work = await prepare(dest);
    const result = await fetch(uri, work, ctx);
    const expected = env[FETCHER_ENV.sha256]?.trim().toLowerCase();
    if (expected) {
      const { directorySha256, sha256File } = await import("./checksum.ts");
      const got =
        result.kind === "file"
          ? await sha256File(join(work, result.file ?? ""))
          : await directorySha256(work);
      const what = result.kind === "file" ? "file" : "directory listing";
      if (got !== expected)
        throw new FetchError(`sha256 mismatch (${what}): expected ${expected}, got ${got}`);
      out(`sha256 verified (${what}): ${got}`);
    }
    await commit(dest, work);
    const secs = (Date.now() - started) / 1000;
    out(`done: ${redactUrl(uri)} -> ${dest}, ${formatBytes(result.bytes)} in ${secs.toFixed(1)} s`);
    return 0;
  } catch (err) {
    const reason = redact(
      err instanceof FetchError ? err.message : `unexpected error: ${(err as Error)?.stack ?? err}`,
    );
    const line = reason.split("\n")[0] ?? reason;
    process.stderr.write(`${reason}\n`);
    try {
      writeFileSync(env.MODELOPS_TERMINATION_LOG || "/dev/termination-log", `${line}\n`);
    } catch {
      // Not in a pod (or not writable): stderr is all there is.
    }
    if (work) await abandon(work);
    return 1;
  }
}

if (import.meta.main) process.exitCode = await run();
