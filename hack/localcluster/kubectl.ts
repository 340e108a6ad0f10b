// Test helpers: kubectl against the harness cluster, and polling with a
// timeout message that says what was last seen.
import { spawn } from "node:child_process";
import { join } from "node:path";

export interface KubectlResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface KubectlOptions {
  kubeconfig: string;
  /** Written to stdin, e.g. a manifest for `apply -f -`. */
  input?: string;
  /** Directory holding kubectl; defaults to $MODELOPS_BIN_DIR, then the PATH. */
  binDir?: string;
  timeoutMs?: number;
}

function kubectlBinary(binDir?: string): string {
  const dir = binDir ?? process.env.MODELOPS_BIN_DIR;
  return dir ? join(dir, "kubectl") : "kubectl";
}

/** Runs kubectl; never throws for a failing command, so tests can assert on the result. */
export function kubectl(args: string[], opts: KubectlOptions): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = spawn(kubectlBinary(opts.binDir), [`--kubeconfig=${opts.kubeconfig}`, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      timeout: opts.timeoutMs ?? 60_000,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    const finish = (code: number, extra = "") =>
      resolve({
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8") + extra,
        code,
      });
    child.on("error", (e) => finish(127, `\n${e.message}`));
    child.on("close", (code, signal) => finish(code ?? 128, signal ? `\nkilled by ${signal}` : ""));
    child.stdin.on("error", () => {}); // kubectl may exit before reading stdin
    child.stdin.end(opts.input ?? "");
  });
}

/** kubectl that throws with stderr on failure, for steps that must succeed. */
export async function kubectlOk(args: string[], opts: KubectlOptions): Promise<string> {
  const res = await kubectl(args, opts);
  if (res.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${res.code}): ${res.stderr.trim()}`);
  return res.stdout;
}

export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
  description?: string;
}

/**
 * Polls `fn` until it returns a truthy value, which it returns. A throw counts
 * as "not yet". On timeout the error names what was awaited and the last value
 * or error seen, which is usually the whole diagnosis.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  opts: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? 200;
  const deadline = Date.now() + timeoutMs;
  let last: { value?: unknown; error?: unknown } = {};
  for (;;) {
    try {
      const value = await fn();
      if (value) return value as NonNullable<T>;
      last = { value };
    } catch (error) {
      last = { error };
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  const seen =
    "error" in last
      ? `last error: ${last.error instanceof Error ? last.error.message : String(last.error)}`
      : `last value: ${describe(last.value)}`;
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${opts.description ?? "condition"}; ${seen}`);
}

function describe(value: unknown): string {
  try {
    const s = JSON.stringify(value);
    return s === undefined ? String(value) : s.length > 2000 ? `${s.slice(0, 2000)}...` : s;
  } catch {
    return String(value);
  }
}
