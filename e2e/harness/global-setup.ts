// vitest globalSetup of the integration tier: one real control plane for the
// whole run, with the project's CRDs installed before its controllers start.
// Set MODELOPS_BIN_DIR to skip the build script, MODELOPS_KEEP_CLUSTER=1 to
// keep the cluster's directory (logs, audit log) after the run.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { reapOrphanedClusters, startCluster, stopClusterInDir } from "../../hack/localcluster/cluster.ts";
import { deniedOperatorRequests, installOperatorRbac } from "./rbac.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Runs the (idempotent, cached) build script; its last stdout line is the bin dir. */
export async function ensureBinaries(): Promise<string> {
  if (process.env.MODELOPS_BIN_DIR) return process.env.MODELOPS_BIN_DIR;
  const child = execFile("bash", [join(root, "hack/build-binaries.sh")], { maxBuffer: 64 << 20 });
  child.stderr?.pipe(process.stderr); // build progress: a cold build takes many minutes
  let stdout = "";
  child.stdout?.on("data", (c: string) => {
    stdout += c;
  });
  const code = await new Promise<number | null>((r) => child.on("close", r));
  const last = stdout.trim().split("\n").pop()?.trim();
  if (code !== 0 || !last) throw new Error(`hack/build-binaries.sh failed (exit ${code})`);
  return last;
}

export default async function setup({ provide }: TestProject): Promise<() => Promise<void>> {
  const binDir = await ensureBinaries();
  process.env.MODELOPS_BIN_DIR = binDir;
  await reapOrphanedClusters(tmpdir(), "modelops-it-", console.log);
  const dir = mkdtempSync(join(tmpdir(), "modelops-it-"));
  const cluster = await startCluster({ dir, binDir, nodes: 3, crdsDir: join(root, "crds") });
  provide("kubeconfig", cluster.kubeconfig);
  // MODELOPS_TEST_IMPERSONATE=1: the operator runs as the install's
  // ServiceAccount with config/rbac's rules, proving they suffice.
  const operatorKubeconfig =
    process.env.MODELOPS_TEST_IMPERSONATE === "1"
      ? await installOperatorRbac({
          adminKubeconfig: cluster.kubeconfig,
          operatorKubeconfig: cluster.operatorKubeconfig,
          binDir,
        })
      : cluster.operatorKubeconfig;
  provide("operatorKubeconfig", operatorKubeconfig);
  provide("auditLogPath", cluster.auditLogPath);
  provide("binDir", binDir);
  provide("apiserverUrl", cluster.apiserverUrl);
  provide("clusterDir", cluster.dir);
  return async () => {
    // The chart's RBAC allows every kind of request the operator made in
    // this run (checked by the apiserver's authorizer, at no extra test time).
    const denied =
      process.env.MODELOPS_TEST_IMPERSONATE === "1" || process.env.MODELOPS_RBAC_CHECK === "0"
        ? []
        : await deniedOperatorRequests({
            adminKubeconfig: cluster.kubeconfig,
            operatorKubeconfig: cluster.operatorKubeconfig,
            binDir,
            auditLogPath: cluster.auditLogPath,
          }).catch((err: Error) => [`(the check could not run: ${err.message})`]);
    // A test may have restarted a component (restart-component.ts) from its
    // worker; only state.json knows that process, so stop by it first.
    await stopClusterInDir(cluster.dir);
    await cluster.stop();
    if (process.env.MODELOPS_KEEP_CLUSTER === "1") {
      console.log(`[cluster] kept ${dir}`);
    } else {
      rmSync(dir, { recursive: true, force: true });
    }
    if (denied.length) {
      throw new Error(
        `the chart's RBAC denies requests the operator made (add rules in charts/modelops-operator/templates/_rules.tpl, then npm run generate):\n  ${denied.join("\n  ")}`,
      );
    }
  };
}
