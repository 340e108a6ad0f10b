// Simulated client traffic that follows the cluster. A test says how clients
// use a ModelDeployment (requests per second) and how each ModelVersion
// behaves (error rate, latency); about once a second this reads the
// ModelDeployment's router, its pods, the EndpointSlices of its Services and
// its route, derives which revisions really receive requests
// (traffic-split.ts), and has the FixtureExporter publish the proxy series of
// exactly those revisions, at their share of the rate. A revision whose pods
// are not ready, or that no Service or route weight sends anything to, gets no
// series; one that loses its traffic keeps its counters, frozen, as a live
// proxy would.
import {
  API_VERSION,
  canaryServiceName,
  clientServiceName,
  LABEL_DEPLOYMENT,
  LABEL_REVISION,
  LABEL_VERSION,
  stableServiceName,
} from "../../operator/api/contract.ts";
import { isNotFound, type KubeClient } from "../../operator/runtime/kube.ts";
import type { KubeObject } from "../../operator/runtime/types.ts";
import type { FixtureExporter, Traffic, TrafficProfile } from "./exporter.ts";
import { httpRouteRules, proxyShadowOf, virtualServiceRules } from "./traffic-routes.ts";
import {
  type ClusterView,
  type Entry,
  type PodView,
  type RevisionLoad,
  revisionLoads,
} from "./traffic-split.ts";

// biome-ignore lint/suspicious/noExplicitAny: objects are read as loose JSON
type Json = Record<string, any>;

/** How one ModelVersion answers, whichever revision or pod serves it. */
export interface VersionBehaviour {
  /** Fraction of requests answered 5xx, 0..1. Default 0. */
  errorRate?: number;
  /** Default 0.05 s (FixtureExporter's). */
  latencySeconds?: TrafficProfile["latencySeconds"];
}

export interface ModelClients {
  namespace: string;
  /** The ModelDeployment's name; it need not exist (then clients call the Service of that name). */
  mdep: string;
  /** Requests per second the clients send to the model. */
  rps: number;
  /** Behaviour per ModelVersion name; versions not listed answer healthily. */
  versions?: Record<string, VersionBehaviour>;
}

export interface ServedModel {
  /** Changes the clients' rate or versions' behaviour from the next poll on. */
  update(change: Partial<Pick<ModelClients, "rps" | "versions">>): void;
  /** What the last poll derived: the revisions receiving requests and how many. */
  loads(): RevisionLoad[];
  /** Why the last poll failed, if it did (the previous loads stay in force meanwhile). */
  lastError(): string | undefined;
  /** Stops the clients; every revision's counters freeze. */
  stop(): void;
}

const ROUTE_APIS = {
  httpRoute: ["gateway.networking.k8s.io/v1"],
  // Istio serves v1 from 1.22; older installs only v1beta1.
  virtualService: ["networking.istio.io/v1", "networking.istio.io/v1beta1"],
};

class Model implements ServedModel {
  private readonly flows = new Map<string, Traffic>();
  private derived: RevisionLoad[] = [];
  private error: string | undefined;
  private clients: ModelClients;
  private readonly exporter: FixtureExporter;
  stopped = false;

  constructor(clients: ModelClients, exporter: FixtureExporter) {
    this.clients = clients;
    this.exporter = exporter;
  }

  update(change: Partial<Pick<ModelClients, "rps" | "versions">>): void {
    this.clients = { ...this.clients, ...change };
  }

  loads(): RevisionLoad[] {
    return this.derived;
  }

  lastError(): string | undefined {
    return this.error;
  }

  stop(): void {
    this.stopped = true;
    for (const flow of this.flows.values()) flow.stop();
    this.flows.clear();
  }

  async poll(kube: KubeClient): Promise<void> {
    try {
      const view = await readView(kube, this.clients.namespace, this.clients.mdep);
      if (this.stopped) return;
      this.derived = revisionLoads(view, this.clients.rps);
      this.error = undefined;
      this.publish();
    } catch (err) {
      this.error = err instanceof Error ? err.message : String(err);
    }
  }

  /** Brings the exporter's flows in line with the derived loads. */
  private publish(): void {
    const live = new Set<string>();
    for (const load of this.derived) {
      live.add(load.revision);
      const behaviour = this.clients.versions?.[load.version] ?? {};
      const profile: TrafficProfile = { rps: load.servedRps + load.mirroredRps, ...behaviour };
      const flow = this.flows.get(load.revision);
      if (flow) flow.set(profile);
      else {
        const series = {
          namespace: this.clients.namespace,
          deployment: this.clients.mdep,
          revision: load.revision,
          version: load.version,
        };
        this.flows.set(load.revision, this.exporter.traffic(series, profile));
      }
    }
    for (const [revision, flow] of this.flows) {
      if (live.has(revision)) continue;
      flow.stop();
      this.flows.delete(revision);
    }
  }
}

/**
 * Polls the apiserver every `intervalMs` (default 1 s) for every model it
 * serves. Use an admin client: the reads are the test's, not the operator's,
 * and must not count against the operator's RBAC or its audit trail.
 */
export class ClusterTraffic {
  private readonly models = new Set<Model>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly exporter: FixtureExporter;
  private readonly kube: KubeClient;
  private readonly intervalMs: number;

  constructor(exporter: FixtureExporter, kube: KubeClient, intervalMs = 1000) {
    this.exporter = exporter;
    this.kube = kube;
    this.intervalMs = intervalMs;
  }

  serve(clients: ModelClients): ServedModel {
    if (this.closed) throw new Error("ClusterTraffic is closed");
    const model = new Model(clients, this.exporter);
    this.models.add(model);
    // Derive at once, so a test does not wait a whole interval for the first series.
    this.polling = this.polling.then(() => model.poll(this.kube));
    this.schedule();
    return model;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.polling;
    for (const model of this.models) model.stop();
    this.models.clear();
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      for (const model of this.models) if (model.stopped) this.models.delete(model);
      const models = [...this.models];
      this.polling = this.polling
        .then(() => Promise.all(models.map((m) => m.poll(this.kube))))
        .then(() => this.schedule());
    }, this.intervalMs);
    // A forgotten close() must not keep a test worker alive.
    this.timer.unref();
  }
}

async function readView(kube: KubeClient, namespace: string, mdep: string): Promise<ClusterView> {
  const services = [clientServiceName(mdep), stableServiceName(mdep), canaryServiceName(mdep)];
  const [entry, pods, readyEndpoints] = await Promise.all([
    readEntry(kube, namespace, mdep),
    readPods(kube, namespace, mdep),
    readReadyEndpoints(kube, namespace, services),
  ]);
  return { entry, pods, readyEndpoints };
}

async function readEntry(kube: KubeClient, namespace: string, mdep: string): Promise<Entry> {
  const ref = { apiVersion: API_VERSION, kind: "ModelDeployment", namespace, name: mdep };
  const routing = ((await kube.getOrUndefined(ref))?.spec as Json | undefined)?.trafficRouting as
    | Json
    | undefined;
  const managed = new Set([stableServiceName(mdep), canaryServiceName(mdep)]);
  const httpRoute = routing?.gatewayAPI?.httpRoute as string | undefined;
  if (httpRoute) {
    const route = await getFirst(kube, ROUTE_APIS.httpRoute, "HTTPRoute", namespace, httpRoute);
    return route
      ? { kind: "route", name: httpRoute, rules: httpRouteRules(route, managed) }
      : { kind: "missing-route", name: httpRoute };
  }
  const virtualService = routing?.istio?.virtualService as string | undefined;
  if (virtualService) {
    const vs = await getFirst(kube, ROUTE_APIS.virtualService, "VirtualService", namespace, virtualService);
    return vs
      ? { kind: "route", name: virtualService, rules: virtualServiceRules(vs, managed) }
      : { kind: "missing-route", name: virtualService };
  }
  return { kind: "service", service: clientServiceName(mdep) };
}

/** The object from the first API version that has it; undefined when none does. */
async function getFirst(
  kube: KubeClient,
  apiVersions: string[],
  kind: string,
  namespace: string,
  name: string,
): Promise<Json | undefined> {
  for (const apiVersion of apiVersions) {
    try {
      return (await kube.get({ apiVersion, kind, namespace, name })) as Json;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return undefined;
}

async function readPods(kube: KubeClient, namespace: string, mdep: string): Promise<PodView[]> {
  const ref = { apiVersion: "v1", kind: "Pod", namespace };
  const { items } = await kube.list<KubeObject>(ref, { labelSelector: `${LABEL_DEPLOYMENT}=${mdep}` });
  const views: PodView[] = [];
  for (const pod of items) {
    const labels = pod.metadata?.labels ?? {};
    const revision = labels[LABEL_REVISION];
    const version = labels[LABEL_VERSION];
    if (!pod.metadata?.name || !revision || !version) continue;
    views.push({ name: pod.metadata.name, revision, version, proxyShadow: proxyShadowOf(pod as Json) });
  }
  return views;
}

/**
 * Ready endpoints per Service, by pod name, as kube-proxy would route: from
 * the EndpointSlices the endpoint-slice controller maintains. An endpoint
 * whose `ready` is unset counts as ready, as the API defines.
 */
async function readReadyEndpoints(
  kube: KubeClient,
  namespace: string,
  services: string[],
): Promise<Record<string, string[]>> {
  const ref = { apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice", namespace };
  const labelSelector = `kubernetes.io/service-name in (${services.join(",")})`;
  const { items } = await kube.list<KubeObject>(ref, { labelSelector });
  const ready: Record<string, Set<string>> = {};
  for (const slice of items as Json[]) {
    const service = slice.metadata?.labels?.["kubernetes.io/service-name"] as string;
    const pods = ready[service] ?? new Set<string>();
    ready[service] = pods;
    for (const endpoint of (slice.endpoints ?? []) as Json[]) {
      if (endpoint.conditions?.ready === false || endpoint.targetRef?.kind !== "Pod") continue;
      pods.add(String(endpoint.targetRef.name));
    }
  }
  return Object.fromEntries(Object.entries(ready).map(([s, pods]) => [s, [...pods].sort()]));
}
