// Who receives a ModelDeployment's client traffic, decided from what the
// cluster shows rather than from what a test names. Pure: cluster-traffic.ts
// reads the objects and feeds them here. The model, as a data plane would
// realise it:
// - Clients send `rps` to the model. With the replicas router they call the
//   Service <mdep>; kube-proxy spreads requests evenly over its ready
//   endpoints, so a revision's share is its ready pods / all ready pods.
// - With the gatewayAPI or istio router they go through the route: each
//   backend Service (<mdep>-stable, <mdep>-canary) gets weight / total weight
//   of the rule, spread over that Service's ready endpoints. Requests sent to
//   a Service with no ready endpoint, or through a route whose weights sum to
//   0, fail at the gateway and reach no proxy: no revision counts them.
// - Mirroring: a route's mirror (HTTPRoute RequestMirror filter, Istio
//   mirror/mirrorPercentage) copies its percent of the rule's requests to the
//   mirror Service's ready pods; on the replicas router a serving pod's
//   modelops-proxy copies its configured shadow percent of what it serves to
//   the shadow Service. The receiving proxy counts a copy like any request.
//   Approximations: every managed rule carries an equal part of the traffic,
//   mirrors of mirrors are ignored, and the sender's shadow_* and agreement
//   series are not simulated.

/** A pod of the ModelDeployment, with the labels the proxy's series carry. */
export interface PodView {
  name: string;
  revision: string;
  version: string;
  /** The modelops-proxy's shadow target (replicas-router shadow), if configured. */
  proxyShadow?: { service: string; percent: number } | undefined;
}

export interface Backend {
  service: string;
  weight: number;
}

/** One route rule that carries the model's traffic. */
export interface RouteRule {
  backends: Backend[];
  mirror?: { service: string; percent: number } | undefined;
}

/** How clients reach the model: a Service directly, or the managed rules of a route. */
export type Entry =
  | { kind: "service"; service: string }
  | { kind: "route"; name: string; rules: RouteRule[] }
  /** The router names a route that does not exist (yet): clients get errors from the gateway. */
  | { kind: "missing-route"; name: string };

export interface ClusterView {
  entry: Entry;
  pods: PodView[];
  /** Per Service name, the pods its EndpointSlices list as ready. */
  readyEndpoints: Record<string, string[]>;
}

export interface RevisionLoad {
  revision: string;
  version: string;
  /** Requests per second the revision's pods serve to clients. */
  servedRps: number;
  /** Requests per second copied to it by a mirror (answers discarded). */
  mirroredRps: number;
}

/** Requests per second each pod receives, by pod name. */
type PodRps = Map<string, number>;

function addTo(target: PodRps, pod: string, rps: number): void {
  target.set(pod, (target.get(pod) ?? 0) + rps);
}

/** Spreads `rps` evenly over the Service's ready pods; nothing when it has none. */
function spreadOverService(view: ClusterView, service: string, rps: number, into: PodRps): void {
  const ready = view.readyEndpoints[service] ?? [];
  if (rps <= 0 || ready.length === 0) return;
  for (const pod of ready) addTo(into, pod, rps / ready.length);
}

function spreadOverRule(view: ClusterView, rule: RouteRule, rps: number, served: PodRps, mirrored: PodRps) {
  const total = rule.backends.reduce((sum, b) => sum + Math.max(0, b.weight), 0);
  if (total <= 0) return;
  for (const b of rule.backends)
    spreadOverService(view, b.service, (rps * Math.max(0, b.weight)) / total, served);
  if (rule.mirror) spreadOverService(view, rule.mirror.service, (rps * rule.mirror.percent) / 100, mirrored);
}

/** Each revision's load when clients send `rps`; revisions that receive nothing are left out. */
export function revisionLoads(view: ClusterView, rps: number): RevisionLoad[] {
  const served: PodRps = new Map();
  const mirrored: PodRps = new Map();
  const { entry } = view;
  if (entry.kind === "service") spreadOverService(view, entry.service, rps, served);
  if (entry.kind === "route" && entry.rules.length > 0) {
    for (const rule of entry.rules) spreadOverRule(view, rule, rps / entry.rules.length, served, mirrored);
  }
  const pods = new Map(view.pods.map((p) => [p.name, p]));
  for (const [name, podRps] of served) {
    const shadow = pods.get(name)?.proxyShadow;
    if (shadow) spreadOverService(view, shadow.service, (podRps * shadow.percent) / 100, mirrored);
  }
  const loads = new Map<string, RevisionLoad>();
  const account = (byPod: PodRps, field: "servedRps" | "mirroredRps") => {
    for (const [name, podRps] of byPod) {
      const pod = pods.get(name);
      if (!pod) continue; // an endpoint of a pod that is gone, or not the model's
      const load = loads.get(pod.revision) ?? {
        revision: pod.revision,
        version: pod.version,
        servedRps: 0,
        mirroredRps: 0,
      };
      load[field] += podRps;
      loads.set(pod.revision, load);
    }
  };
  account(served, "servedRps");
  account(mirrored, "mirroredRps");
  return [...loads.values()]
    .filter((l) => l.servedRps + l.mirroredRps > 0)
    .sort((a, b) => a.revision.localeCompare(b.revision));
}
