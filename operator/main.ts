// The operator's entry point: flags, kubeconfig, logger, signals.
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { prometheusFromFlags } from "./analysis/prometheus-config.ts";
import { startManager } from "./manager.ts";
import { type Channel, parseNotificationsConfig } from "./notifications/config.ts";
import { KubeClient } from "./runtime/kube.ts";
import { loadApiAccess } from "./runtime/kubeconfig.ts";
import { createLogger } from "./runtime/logger.ts";
import { type OutboundPolicy, outboundPolicy } from "./runtime/outbound.ts";
import { parseLabelSelector } from "./runtime/sharding.ts";

const USAGE = `Usage: modelops-operator [flags]

  --kubeconfig PATH               kubeconfig file (default: $KUBECONFIG, then in-cluster config)
  --namespace NS                  watch only this namespace (default: all namespaces)
  --metrics-bind-address ADDR     host:port for /metrics, /healthz, /readyz (default :8080; 0 disables)
  --leader-elect                  elect a leader through a Lease before reconciling (default false)
  --leader-election-namespace NS  namespace of the Lease (default: $POD_NAMESPACE, then modelops-system)
  --leader-election-id NAME       name of the Lease (default modelops-operator-leader; with
                                  --watch-label-selector, modelops-operator-leader-<hash of the selector>)
  --watch-label-selector SEL      reconcile only the ModelDeployments, DriftMonitors and ModelVersions
                                  this label selector matches, e.g. modelops.io/shard=shard1 for a shard
                                  and !modelops.io/shard for the main instance (default: all; docs/sharding.md)
  --workers N                     concurrent reconciles per controller (default 2)
  --queue-qps N                   retries per second of each controller's work queue after the burst:
                                  failed reconciles and requeues (default 10; first reconciles and
                                  timed requeues are never held back)
  --queue-burst N                 retries each controller's work queue lets through at once (default 100)
  --prometheus-address URL        Prometheus that rollout analyses query, e.g. http://prometheus:9090
  --prometheus-auth-secret NS/NAME  Secret with "token" (bearer) or "username" and "password" (basic)
  --prometheus-timeout-seconds N  timeout of one query (default 10)
  --outbound-allow LIST           hosts, addresses or CIDRs (comma-separated) that DriftMonitor webhooks
                                  and spec.prometheus.address may reach although fenced (loopback,
                                  link-local, the ranges below) or over plain http (default: none)
  --service-cidr LIST             the cluster's Service range(s), fenced like loopback (default: none)
  --pod-cidr LIST                 the cluster's pod range(s), fenced like loopback (default: none)
  --proxy-image IMAGE             image of the modelops-proxy sidecar (default: $MODELOPS_PROXY_IMAGE,
                                  then modelops-proxy:<version>, built from operator/proxy/Dockerfile)
  --fetcher-image IMAGE           image of the artifact fetcher init container: the operator's own
                                  (default: $MODELOPS_FETCHER_IMAGE, then modelops-operator:<version>)
  --mlflow-tracking-uri URL       MLflow tracking server of models:/ artifacts whose ModelVersion names
                                  none (default: $MODELOPS_MLFLOW_TRACKING_URI); pods download from it
  --notifications-config PATH     JSON file of notification channels (generic webhooks, Slack) for rollouts
                                  started, paused for a person, promoted, rolled back, and Critical drift;
                                  their Secrets are read from $POD_NAMESPACE (default modelops-system);
                                  sent through the same fence as --outbound-allow (README: Notifications)
  --log-level LEVEL               trace, debug, info, warn, error (default info)
  --help                          show this help
`;

function parseFlags() {
  const { values } = parseArgs({
    options: {
      kubeconfig: { type: "string" },
      namespace: { type: "string" },
      "metrics-bind-address": { type: "string", default: ":8080" },
      "leader-elect": { type: "boolean", default: false },
      "leader-election-namespace": { type: "string" },
      "leader-election-id": { type: "string" },
      "watch-label-selector": { type: "string" },
      workers: { type: "string", default: "2" },
      "queue-qps": { type: "string", default: "10" },
      "queue-burst": { type: "string", default: "100" },
      "prometheus-address": { type: "string" },
      "prometheus-auth-secret": { type: "string" },
      "prometheus-timeout-seconds": { type: "string", default: "10" },
      "outbound-allow": { type: "string" },
      "service-cidr": { type: "string" },
      "pod-cidr": { type: "string" },
      "log-level": { type: "string", default: "info" },
      "proxy-image": { type: "string" },
      "fetcher-image": { type: "string" },
      "mlflow-tracking-uri": { type: "string" },
      "notifications-config": { type: "string" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  return values;
}

async function main(): Promise<void> {
  let flags: ReturnType<typeof parseFlags>;
  try {
    flags = parseFlags();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (flags.help) {
    process.stdout.write(USAGE);
    return;
  }
  const workers = Number(flags.workers);
  if (!Number.isInteger(workers) || workers < 1) {
    process.stderr.write(`--workers must be a positive integer, got "${flags.workers}"\n`);
    process.exit(2);
  }
  const queueRateLimit = { qps: Number(flags["queue-qps"]), burst: Number(flags["queue-burst"]) };
  if (!(queueRateLimit.qps > 0) || !Number.isInteger(queueRateLimit.burst) || queueRateLimit.burst < 1) {
    process.stderr.write(
      `--queue-qps must be a positive number and --queue-burst a positive integer, got "${flags["queue-qps"]}" and "${flags["queue-burst"]}"\n`,
    );
    process.exit(2);
  }
  let outbound: OutboundPolicy;
  try {
    outbound = outboundPolicy({
      allow: flags["outbound-allow"],
      serviceCidr: flags["service-cidr"],
      podCidr: flags["pod-cidr"],
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  let channels: Channel[] = [];
  const notificationsPath = flags["notifications-config"];
  try {
    if (notificationsPath) channels = parseNotificationsConfig(readFileSync(notificationsPath, "utf8"));
  } catch (err) {
    const message = (err as Error).message;
    const said = message.startsWith("--notifications-config")
      ? message
      : `--notifications-config: ${message}`;
    process.stderr.write(`${said}\n`);
    process.exit(2);
  }
  const selector = flags["watch-label-selector"];
  try {
    if (selector !== undefined) parseLabelSelector(selector);
  } catch (err) {
    process.stderr.write(`--watch-label-selector: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const log = createLogger({ level: flags["log-level"] });
  const kubeConfig = await loadApiAccess(flags.kubeconfig ?? process.env.KUBECONFIG);
  const prometheus = await prometheusFromFlags(new KubeClient(kubeConfig), {
    address: flags["prometheus-address"],
    authSecret: flags["prometheus-auth-secret"],
    timeoutMs: Number(flags["prometheus-timeout-seconds"]) * 1000,
  });
  if (!prometheus) log.warn("no --prometheus-address: rollouts with analysis will fail their measurements");
  const manager = await startManager({
    prometheus,
    prometheusAddress: flags["prometheus-address"],
    proxyImage: flags["proxy-image"] ?? process.env.MODELOPS_PROXY_IMAGE,
    fetcherImage: flags["fetcher-image"] ?? process.env.MODELOPS_FETCHER_IMAGE,
    mlflowTrackingUri: flags["mlflow-tracking-uri"] ?? process.env.MODELOPS_MLFLOW_TRACKING_URI,
    outbound,
    notifications: { channels, namespace: process.env.POD_NAMESPACE ?? "modelops-system" },
    kubeConfig,
    logger: log,
    namespace: flags.namespace,
    metricsBindAddress: flags["metrics-bind-address"],
    leaderElect: flags["leader-elect"],
    leaderElectionNamespace:
      flags["leader-election-namespace"] ?? process.env.POD_NAMESPACE ?? "modelops-system",
    leaderElectionId: flags["leader-election-id"],
    watchLabelSelector: selector,
    identity: process.env.POD_NAME ?? `${hostname()}_${process.pid}`,
    workers,
    queueRateLimit,
    onLostLeadership: () => {
      // Another instance may already be reconciling: stop at once, like controller-runtime.
      log.error("lost leadership; exiting");
      process.exit(1);
    },
  });
  log.info(
    { metrics: manager.metricsAddress, namespace: flags.namespace ?? "(all)", shard: selector ?? "(all)" },
    "operator started",
  );
  const shutdown = (signal: string) => {
    log.info({ signal }, "shutting down");
    manager.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: String(err) }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

main().catch((err: unknown) => {
  process.stderr.write(`modelops-operator: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
