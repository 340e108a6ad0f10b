// Local control plane for development:
//   node hack/cluster.ts start|stop|status [--dir DIR] [--nodes N] [--bin-dir DIR] [--crds DIR] [--real-node]
// `start` installs the CRDs in --crds (default crds/) and leaves the components running after it exits; `stop` finds them
// through DIR/state.json. The bin dir defaults to $MODELOPS_BIN_DIR, else the
// pinned versions' cache directory that hack/build-binaries.sh fills.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { liveComponents, readState, startCluster, stopClusterInDir } from "./localcluster/cluster.ts";
import { startRealNodeInDir } from "./localcluster/cluster-node.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function defaultBinDir(): string {
  if (process.env.MODELOPS_BIN_DIR) return process.env.MODELOPS_BIN_DIR;
  const versions = Object.fromEntries(
    readFileSync(join(root, "hack/versions.env"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#") && l.includes("="))
      .map((l) => l.split("=", 2) as [string, string]),
  );
  const cache = process.env.MODELOPS_CACHE ?? join(homedir(), ".cache/modelops-operator");
  return join(cache, `bin-${versions.KUBERNETES_VERSION}-${versions.ETCD_VERSION}-${versions.KWOK_VERSION}`);
}

function usage(): never {
  console.error(
    "usage: node hack/cluster.ts start|stop|status [--dir DIR] [--nodes N] [--bin-dir DIR] [--crds DIR] [--real-node]",
  );
  process.exit(2);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      dir: { type: "string", default: join(root, ".cluster") },
      nodes: { type: "string", default: "3" },
      "bin-dir": { type: "string" },
      crds: { type: "string", default: join(root, "crds") },
      // Adds the real kubelet node (hack/localcluster/real-node.ts); without
      // it, or where it cannot run, every node is a KWOK node.
      "real-node": { type: "boolean", default: false },
    },
  });
  const dir = resolve(values.dir);
  switch (positionals[0]) {
    case "start": {
      const binDir = values["bin-dir"] ?? defaultBinDir();
      if (!existsSync(join(binDir, "kube-apiserver"))) {
        throw new Error(`no kube-apiserver in ${binDir}; run bash hack/build-binaries.sh first`);
      }
      const nodes = Number.parseInt(values.nodes, 10);
      if (!(nodes >= 1)) usage();
      const cluster = await startCluster({ dir, nodes, binDir, detach: true, crdsDir: resolve(values.crds) });
      if (values["real-node"]) await startRealNodeInDir(dir, binDir);
      console.log(`export KUBECONFIG=${cluster.kubeconfig}`);
      return;
    }
    case "stop": {
      const stopped = await stopClusterInDir(dir, console.log);
      console.log(stopped ? `[cluster] stopped (${dir})` : `[cluster] nothing running in ${dir}`);
      return;
    }
    case "status":
      return status(dir);
    default:
      usage();
  }
}

function status(dir: string): void {
  const state = readState(dir);
  const live = new Set(liveComponents(state).map((c) => c.pid));
  if (!state || state.components.length === 0) {
    console.log(`[cluster] not running (${dir})`);
    process.exitCode = 1;
    return;
  }
  for (const c of state.components) {
    console.log(
      `${c.name.padEnd(24)} pid ${String(c.pid).padEnd(8)} ${live.has(c.pid) ? "running" : "DEAD"}`,
    );
  }
  console.log(
    `apiserver  ${state.apiserverUrl}\nkubeconfig ${state.kubeconfig}\naudit log  ${state.auditLogPath}`,
  );
  if (live.size !== state.components.length) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
