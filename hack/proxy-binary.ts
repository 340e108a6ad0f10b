// The modelops-proxy binary for tests and tools: built (or found cached) by
// hack/proxy.sh once per process. MODELOPS_PROXY_BINARY points at another
// build instead (e.g. a debug build while working on the proxy).
import { execFileSync } from "node:child_process";
import { join } from "node:path";

let built: string | undefined;

/** The proxy binary's path; the first call may take minutes on a cold cache (progress on stderr). */
export function proxyBinary(): string {
  const override = process.env.MODELOPS_PROXY_BINARY;
  if (override) return override;
  if (built === undefined) {
    const out = execFileSync("bash", [join(import.meta.dirname, "proxy.sh")], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    const path = out.trim().split("\n").pop();
    if (!path) throw new Error("hack/proxy.sh printed no binary path");
    built = path;
  }
  return built;
}
