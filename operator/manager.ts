// Wires informers, controllers, leader election and the metrics/health server
// into one running operator. main.ts parses flags; tests call startManager
// directly to run the operator in-process.
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { MetricProvider } from "./analysis/provider.ts";
import {
  API_VERSION,
  EVENT_REPORTING_CONTROLLER,
  FIELD_MANAGER,
  GROUP,
  LABEL_DEPLOYMENT,
  type ModelDeployment,
} from "./api/index.ts";
import { trimDeployment, trimModelDeployment, trimObject } from "./controllers/cache-trim.ts";
import type { ReconcileDeps } from "./controllers/context.ts";
import { reconcileDriftMonitor } from "./controllers/driftmonitor/reconciler.ts";
import { reconcileModelDeployment } from "./controllers/modeldeployment/reconciler.ts";
import { reconcileModelVersion } from "./controllers/modelversion.ts";
import type { Channel } from "./notifications/config.ts";
import type { RetryOptions } from "./notifications/delivery.ts";
import { Notifier } from "./notifications/notifier.ts";
import { createRouters } from "./rollout/routers/index.ts";
import { Controller, type ErrorReporter } from "./runtime/controller.ts";
import { EventRecorder } from "./runtime/events.ts";
import { startHealthServer } from "./runtime/health.ts";
import { Informer, waitForCacheSync } from "./runtime/informer.ts";
import { KubeClient } from "./runtime/kube.ts";
import type { ApiAccess } from "./runtime/kubeconfig.ts";
import { LeaderElector } from "./runtime/leader-election.ts";
import { createRegistry, gaugeOn } from "./runtime/metrics.ts";
import type { OutboundPolicy } from "./runtime/outbound.ts";
import { defaultControllerRateLimiter, type QueueRateLimit } from "./runtime/rate-limiter.ts";
import { reportReconcileError } from "./runtime/reconcile-errors.ts";
import {
  type LabelSelector,
  leaseNameFor,
  ownedByCached,
  parseLabelSelector,
  selectedOnly,
} from "./runtime/sharding.ts";
import type { Store } from "./runtime/store.ts";
import type { KubeObject } from "./runtime/types.ts";
import { WorkQueue } from "./runtime/workqueue.ts";

// A standby takes over at most leaseDuration + 2.2 x retryPeriod (the
// candidate's jittered retry) after the leader dies without releasing its
// Lease: 13.3 s, inside the 15 s we promise. controller-runtime's 15/10/2 s
// defaults would allow 19.4 s.
const LEASE_TIMING = { leaseDurationMs: 10_000, renewDeadlineMs: 7_000, retryPeriodMs: 1_500 };

export interface ManagerOptions {
  kubeConfig: ApiAccess;
  logger: Logger;
  /** Watch one namespace; undefined watches all. */
  namespace?: string | undefined;
  /** host:port for /metrics, /healthz, /readyz; port 0 picks a free one; "0" disables. */
  metricsBindAddress: string;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  /** The Lease's name; default modelops-operator-leader, or one derived from watchLabelSelector. */
  leaderElectionId?: string | undefined;
  /**
   * This shard's label selector (--watch-label-selector): only ModelDeployments,
   * DriftMonitors and ModelVersions it matches are reconciled. Undefined: all.
   */
  watchLabelSelector?: string | undefined;
  identity?: string;
  resyncMs?: number;
  workers?: number;
  /** Each controller's overall retry bucket (--queue-qps, --queue-burst); default 10/s, burst 100. */
  queueRateLimit?: QueueRateLimit | undefined;
  /** Prometheus that analyses query; without it every analysis measurement is an error. */
  prometheus?: MetricProvider | undefined;
  prometheusAddress?: string | undefined;
  /**
   * The fence for requests sent where a DriftMonitor's author points (webhook,
   * spec.prometheus.address); main.ts builds it from --outbound-allow,
   * --service-cidr and --pod-cidr. Undefined fences with no allowance.
   */
  outbound?: OutboundPolicy | undefined;
  /** Image of the modelops-proxy sidecar; default modelops-proxy:<version>. */
  proxyImage?: string | undefined;
  /** Image of the artifact fetcher (the operator's own); default modelops-operator:<version>. */
  fetcherImage?: string | undefined;
  /** MLflow tracking server of models:/ artifacts that name none. */
  mlflowTrackingUri?: string | undefined;
  /**
   * The platform team's notification channels (--notifications-config), their
   * Secrets in `namespace` (the operator's own), sent through the `outbound` fence.
   */
  notifications?: { channels: Channel[]; namespace: string; retry?: Partial<RetryOptions> } | undefined;
  registry?: Registry;
  /** Called when leadership is lost without being asked to stop; main.ts exits. */
  onLostLeadership?: () => void;
}

export interface RunningManager {
  registry: Registry;
  kube: KubeClient;
  /** The bound address of the metrics server, e.g. 127.0.0.1:43121. */
  metricsAddress: string | undefined;
  isLeader(): boolean;
  stop(): Promise<void>;
}

export async function startManager(opts: ManagerOptions): Promise<RunningManager> {
  const registry = opts.registry ?? createRegistry();
  const kube = new KubeClient(opts.kubeConfig, { registry });
  const shard = opts.watchLabelSelector ? parseLabelSelector(opts.watchLabelSelector) : undefined;
  // Every log line and a metric say which shard this process is.
  const log = shard ? opts.logger.child({ shard: shard.text }) : opts.logger;
  if (shard) shardInfo(registry, shard);
  const informers = createInformers(kube, opts, log, shard);
  cachedObjects(registry, informers);
  const events = new EventRecorder({
    kube,
    logger: log,
    component: FIELD_MANAGER,
    reportingController: EVENT_REPORTING_CONTROLLER,
    // The Lease identity (the pod's name in a cluster): Events say which process, so which shard, wrote them.
    ...(opts.identity ? { reportingInstance: opts.identity } : {}),
  });
  const notifier = opts.notifications?.channels.length
    ? new Notifier({ ...opts.notifications, kube, outbound: opts.outbound, registry, log })
    : undefined;
  const deps: ReconcileDeps = {
    kube,
    stores: {
      modelVersions: informers.modelVersions.store,
      modelDeployments: informers.modelDeployments.store,
      deployments: informers.deployments.store,
      services: informers.services.store,
      hpas: informers.hpas.store,
      driftMonitors: informers.driftMonitors.store,
    },
    events,
    log,
    now: () => new Date(),
    registry,
    prometheus: opts.prometheus,
    prometheusAddress: opts.prometheusAddress,
    proxyImage: opts.proxyImage,
    fetcherImage: opts.fetcherImage,
    mlflowTrackingUri: opts.mlflowTrackingUri,
    routers: createRouters(kube),
    notifications: notifier,
  };
  const workers = opts.workers ?? 2;
  const queue = (name: string) =>
    new WorkQueue<string>({
      name,
      controller: name,
      registry,
      rateLimiter: defaultControllerRateLimiter(undefined, opts.queueRateLimit),
    });
  // A reconcile that keeps failing is reported on the object it is about.
  const reportOn =
    (store: Store<KubeObject>): ErrorReporter =>
    async (key, err) => {
      const obj = store.get(key.namespace, key.name);
      if (obj)
        await reportReconcileError({ kube, events, fieldManager: FIELD_MANAGER, now: deps.now }, obj, err);
    };
  const versions = new Controller({
    name: "modelversion",
    workers,
    queue: queue("modelversion"),
    logger: log,
    registry,
    reconcile: (key) => reconcileModelVersion(deps, key),
    onRepeatedError: reportOn(deps.stores.modelVersions),
  });
  const deployments = new Controller({
    name: "modeldeployment",
    workers,
    queue: queue("modeldeployment"),
    logger: log,
    registry,
    reconcile: (key, ctx) => reconcileModelDeployment({ ...deps, log: ctx.log }, key),
    onRepeatedError: reportOn(deps.stores.modelDeployments),
  });
  wireHandlers(informers, versions, deployments, shard);
  const drifts = new Controller({
    name: "driftmonitor",
    workers,
    queue: queue("driftmonitor"),
    logger: log,
    registry,
    reconcile: (key, ctx) => reconcileDriftMonitor({ ...deps, log: ctx.log, outbound: opts.outbound }, key),
    onRepeatedError: reportOn(deps.stores.driftMonitors),
  });
  informers.driftMonitors.addEventHandler(drifts.enqueueSelf());

  const all = Object.values(informers) as Informer<KubeObject>[];
  for (const inf of all) inf.start();
  const health = await startHealthServer({
    bindAddress: opts.metricsBindAddress,
    registry,
    ready: () => all.every((i) => i.hasSynced()),
  });

  const stopping = new AbortController();
  let elector: LeaderElector | undefined;
  const runControllers = async (signal: AbortSignal) => {
    await waitForCacheSync(all, signal);
    if (signal.aborted) return;
    log.info("caches synced; starting controllers");
    await Promise.all([versions.start(signal), deployments.start(signal), drifts.start(signal)]);
  };
  let leading: Promise<void>;
  if (opts.leaderElect) {
    elector = new LeaderElector({
      kube,
      namespace: opts.leaderElectionNamespace,
      name: leaseNameFor(shard, opts.leaderElectionId),
      ...(opts.identity ? { identity: opts.identity } : {}),
      ...LEASE_TIMING,
      logger: log,
      registry,
      onStartedLeading: (signal) => runControllers(signal),
      onStoppedLeading: () => {
        if (!stopping.signal.aborted) opts.onLostLeadership?.();
      },
    });
    leading = elector.run(stopping.signal);
  } else {
    leading = runControllers(stopping.signal);
  }

  return {
    registry,
    kube,
    metricsAddress: health?.address,
    isLeader: () => (elector ? elector.isLeader() : true),
    stop: async () => {
      stopping.abort();
      await Promise.all([versions.stop(), deployments.stop(), drifts.stop()]);
      await notifier?.stop();
      await leading;
      await Promise.all(all.map((i) => i.stop()));
      await health?.close();
    },
  };
}

type Informers = ReturnType<typeof createInformers>;

function createInformers(kube: KubeClient, opts: ManagerOptions, log: Logger, shard?: LabelSelector) {
  const common = { kube, logger: log, ...(opts.resyncMs === undefined ? {} : { resyncMs: opts.resyncMs }) };
  const ns = opts.namespace ? { namespace: opts.namespace } : {};
  // Owned objects are cached only when they carry our label, so the operator
  // does not hold every Deployment and Service of the cluster in memory.
  const owned = { labelSelector: LABEL_DEPLOYMENT };
  // A shard caches only its own ModelDeployments and DriftMonitors; it caches
  // every ModelVersion, since its ModelDeployments may name any of them.
  const sharded = shard ? { labelSelector: shard.text } : {};
  // What no reader uses stays out of the cache (controllers/cache-trim.ts).
  const trimmed = { ...common, transform: trimObject };
  return {
    modelVersions: new Informer({
      ...trimmed,
      ref: { apiVersion: API_VERSION, kind: "ModelVersion", ...ns },
    }),
    modelDeployments: new Informer({
      ...common,
      ...sharded,
      transform: trimModelDeployment,
      ref: { apiVersion: API_VERSION, kind: "ModelDeployment", ...ns },
    }),
    deployments: new Informer({
      ...common,
      ...owned,
      transform: trimDeployment,
      ref: { apiVersion: "apps/v1", kind: "Deployment", ...ns },
    }),
    services: new Informer({ ...trimmed, ...owned, ref: { apiVersion: "v1", kind: "Service", ...ns } }),
    hpas: new Informer({
      ...trimmed,
      ...owned,
      ref: { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", ...ns },
    }),
    driftMonitors: new Informer({
      ...trimmed,
      ...sharded,
      ref: { apiVersion: API_VERSION, kind: "DriftMonitor", ...ns },
    }),
  };
}

function wireHandlers(
  informers: Informers,
  versions: Controller,
  deployments: Controller,
  shard: LabelSelector | undefined,
): void {
  // A ModelVersion's status is written by the shard its own labels select.
  informers.modelVersions.addEventHandler(selectedOnly(shard, versions.enqueueSelf()));
  // A version appearing, changing or going away wakes the deployments naming it.
  const wakeDeploymentsOf = (mv: KubeObject) => {
    const ns = mv.metadata?.namespace;
    for (const mdep of informers.modelDeployments.store.list(ns)) {
      const spec = (mdep as Partial<ModelDeployment>).spec;
      if (spec?.modelVersion === mv.metadata?.name)
        deployments.enqueue({ namespace: ns, name: mdep.metadata?.name ?? "" });
    }
  };
  informers.modelVersions.addEventHandler({
    onAdd: wakeDeploymentsOf,
    onUpdate: (_old, mv) => wakeDeploymentsOf(mv),
    onDelete: wakeDeploymentsOf,
  });
  informers.modelDeployments.addEventHandler(deployments.enqueueSelf());
  // Owned objects wake their owner only in the shard that caches it.
  const owner = () =>
    ownedByCached(
      shard,
      informers.modelDeployments.store,
      "ModelDeployment",
      GROUP,
      deployments.enqueueOwner("ModelDeployment", GROUP),
    );
  informers.deployments.addEventHandler(owner());
  informers.services.addEventHandler(owner());
  informers.hpas.addEventHandler(owner());
}

/** The size of each informer cache: where the operator's memory grows with the fleet. */
function cachedObjects(registry: Registry, informers: Informers): void {
  gaugeOn(registry, {
    name: "modelops_operator_cached_objects",
    help: "Objects held in each of the operator's informer caches",
    labelNames: ["cache"],
    collect() {
      for (const [cache, informer] of Object.entries(informers)) this.set({ cache }, informer.store.size());
    },
  });
}

function shardInfo(registry: Registry, shard: LabelSelector): void {
  gaugeOn(registry, {
    name: "modelops_operator_shard_info",
    help: "The label selector of the objects this operator process reconciles (--watch-label-selector)",
    labelNames: ["selector"],
  }).set({ selector: shard.text }, 1);
}
