// Runs the operator for integration tests: in-process (startManager, as the
// operator's own code runs) or as a separate process (node operator/main.ts),
// which tests kill with SIGKILL to prove restarts and leader failover.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePorts } from "../../hack/localcluster/procs.ts";
import type { MetricProvider } from "../../operator/analysis/provider.ts";
import { type ManagerOptions, type RunningManager, startManager } from "../../operator/manager.ts";
import { loadApiAccess } from "../../operator/runtime/kubeconfig.ts";
import { createLogger } from "../../operator/runtime/logger.ts";
import { outboundPolicy } from "../../operator/runtime/outbound.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface InProcessOptions {
  kubeconfig: string;
  namespace?: string;
  resyncMs?: number;
  leaderElect?: boolean;
  prometheus?: MetricProvider;
  /** Image of the modelops-proxy sidecar it injects (default: modelops-proxy:<version>). */
  proxyImage?: string;
  /** Image of the artifact fetcher init container (default: modelops-operator:<version>). */
  fetcherImage?: string;
  /** As --outbound-allow: what DriftMonitor webhooks and Prometheus addresses may reach (e.g. "127.0.0.1"). */
  outboundAllow?: string;
  /** Notification channels, as --notifications-config gives them. */
  notifications?: ManagerOptions["notifications"];
}

export async function startInProcess(opts: InProcessOptions): Promise<RunningManager> {
  return startManager({
    // The operator's own loader, as `--kubeconfig` runs it (client certificates, impersonation).
    kubeConfig: await loadApiAccess(opts.kubeconfig),
    logger: createLogger({ level: process.env.MODELOPS_TEST_LOG_LEVEL ?? "silent" }),
    namespace: opts.namespace,
    metricsBindAddress: "127.0.0.1:0",
    leaderElect: opts.leaderElect ?? false,
    leaderElectionNamespace: opts.namespace ?? "default",
    ...(opts.resyncMs === undefined ? {} : { resyncMs: opts.resyncMs }),
    prometheus: opts.prometheus,
    proxyImage: opts.proxyImage,
    fetcherImage: opts.fetcherImage,
    outbound: outboundPolicy({ allow: opts.outboundAllow }),
    notifications: opts.notifications,
  });
}

export interface OperatorProcess {
  child: ChildProcess;
  metricsUrl: string;
  logPath: string;
  /** SIGKILL: no drain, no lease release, as when a node dies. */
  kill(): Promise<void>;
  /** SIGTERM: graceful shutdown; resolves with the exit code. */
  terminate(): Promise<number | null>;
}

export async function spawnOperator(opts: {
  kubeconfig: string;
  namespace: string;
  identity: string;
  leaderElect?: boolean;
  /** More flags, e.g. --prometheus-address=... */
  args?: string[];
}): Promise<OperatorProcess> {
  const [port] = await freePorts(1);
  const logPath = join(mkdtempSync(join(tmpdir(), "modelops-op-")), `${opts.identity}.log`);
  const args = [
    join(root, "operator/main.ts"),
    `--kubeconfig=${opts.kubeconfig}`,
    `--namespace=${opts.namespace}`,
    `--metrics-bind-address=127.0.0.1:${port}`,
    `--leader-election-namespace=${opts.namespace}`,
    "--log-level=debug",
  ];
  if (opts.leaderElect) args.push("--leader-elect");
  args.push(...(opts.args ?? []));
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, POD_NAME: opts.identity },
  });
  const log = createWriteStream(logPath);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return {
    child,
    metricsUrl: `http://127.0.0.1:${port}/metrics`,
    logPath,
    kill: async () => {
      child.kill("SIGKILL");
      await exited;
    },
    terminate: async () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

/** One sample's value from a Prometheus text exposition, or undefined. */
export async function scrapeMetric(
  url: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  let text: string;
  try {
    text = await (await fetch(url)).text();
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const sampleLabels = Object.fromEntries(
      [...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => sampleLabels[k] === v)) return Number(m[3]);
  }
  return undefined;
}
