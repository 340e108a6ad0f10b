// Runs the fetcher as an inference pod's init container would: a separate
// `node operator/fetcher/main.ts` with only the given environment (no AWS_*
// leaking in from the developer's shell), for the integration tests and bench.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export interface FetcherRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** What the fetcher wrote to its termination log ("" when nothing). */
  termination: string;
  ms: number;
}

export const FETCHER_MAIN = resolve(import.meta.dirname, "../fetcher/main.ts");

export function runFetcher(env: Record<string, string>, timeoutMs = 120_000): Promise<FetcherRun> {
  return runIsolated(FETCHER_MAIN, [], env, timeoutMs);
}

/** `node script args` with only `env` (plus PATH and HOME) and a termination log, as a pod would run it. */
export function runIsolated(
  script: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<FetcherRun> {
  const termPath = join(mkdtempSync(join(tmpdir(), "fetcher-term-")), "termination-log");
  const started = Date.now();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [script, ...args], {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/",
        MODELOPS_TERMINATION_LOG: termPath,
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", fail);
    child.on("close", (code) => {
      clearTimeout(timer);
      const termination = existsSync(termPath) ? readFileSync(termPath, "utf8").trim() : "";
      done({ code, stdout, stderr, termination, ms: Date.now() - started });
    });
  });
}
