// The world of the stories on the real node: the shared test cluster's real
// kubelet node (started once per run, stopped with the cluster), real MLServer
// models trained for the story, a Prometheus that discovers the pods through
// the apiserver, and an in-process operator reading that Prometheus.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { load } from "js-yaml";
import { inject } from "vitest";
import { readState } from "../../hack/localcluster/cluster.ts";
import { type RealNodeInfo, startRealNodeInDir } from "../../hack/localcluster/cluster-node.ts";
import { waitFor } from "../../hack/localcluster/kubectl.ts";
import { type LoadGenerator, type LoadStats, startLoad } from "../../hack/localcluster/load-generator.ts";
import { nodeNetwork } from "../../hack/localcluster/node-network.ts";
import { pkiIn } from "../../hack/localcluster/pki.ts";
import { type RunningPrometheus, startPrometheus } from "../../hack/localcluster/prometheus.ts";
import { REAL_NODE_LABEL, REAL_NODE_TAINT } from "../../hack/localcluster/real-node-config.ts";
import { prepareModels } from "../../hack/model-server/mlserver.ts";
import { createPrometheusProvider } from "../../operator/analysis/prometheus.ts";
import { LABEL_DEPLOYMENT, LABEL_REVISION, SERVICE_PORT } from "../../operator/api/contract.ts";
import type { RunningManager } from "../../operator/manager.ts";
import { createTestNamespace, type TestNamespace } from "./namespace.ts";
import { startInProcess } from "./operator.ts";
import { mdepManifest, type RolloutStatus, serviceRevision, waitStatus } from "./rollout.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface RealNodeWorld {
  node: RealNodeInfo;
  prom: RunningPrometheus;
  operator: RunningManager;
  ns: TestNamespace;
  /**
   * The host's end of the node's link (10.231.<slot>.1): the only host
   * address pods reach. A server bound to it is reachable from pods and from
   * this machine, and from nowhere else.
   */
  hostIp: string;
  /** The folder holding the trained model `model` (model-settings.json, model.joblib). */
  modelDir(model: StoredModel): string;
  /** ModelVersion manifests named `name`, serving the trained model `model` (see train.py) on the real node. */
  versionManifest(name: string, version: string, model: StoredModel): string;
  /** A ModelDeployment manifest whose pods run on the real node. */
  deployment(name: string, version: string, strategy: string): string;
  apply(yaml: string): Promise<void>;
  /** The Service's ClusterIP, as a client in the cluster calls it. */
  serviceUrl(service: string): Promise<string>;
  /** A client at STORY_RATE requests/s on a Service, stopped with the world if the story does not stop it. */
  load(service: string): Promise<LoadGenerator>;
  stopLoad(client: LoadGenerator): Promise<LoadStats>;
  /** Waits until `version` serves alone after a rollout (Available, no canary). */
  serving(mdep: string, version: string): Promise<RolloutStatus>;
  /** Waits until `version` serves again after a rollback or undo, and the Service selects it alone. */
  servingAgain(mdep: string, version: string): Promise<RolloutStatus>;
  /** Waits until only `revision`'s pods are left (the others gone, not just unready). */
  onlyPodsOf(mdep: string, revision: string): Promise<void>;
  /** What a failing story prints: the ModelDeployment's status, its pods, Prometheus' targets. */
  describe(mdep: string): Promise<string>;
  /** A wait or assertion that, when it fails, first prints `describe(mdep)`. */
  explained<T>(mdep: string, step: () => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

/** Each story's client rate, requests per second. */
export const STORY_RATE = 20;
/** Real pods: MLServer imports scikit-learn and loads the model before it is ready. */
export const POD_START_MS = 150_000;

/** One line per story with what the issue asks to be measured. */
export function report(story: string, stats: LoadStats, t0: number): void {
  console.log(
    `[story] ${story}: ${((Date.now() - t0) / 1000).toFixed(0)}s, requests sent ${stats.sent}, ok ${stats.ok}, failed ${stats.failed}, by revision ${JSON.stringify(stats.byRevision)}, p50 ${stats.latencyMs?.p50} ms, p99 ${stats.latencyMs?.p99} ms`,
  );
}

/** Models train.py fits, as stored in the namespace's model volume (pvc://models/<kind>). */
export type StoredModel = "logreg" | "tree" | "erring";

/** What puts a revision's pods on the real node (and only there). */
export const onRealNode = `
template:
  nodeSelector: ${JSON.stringify(REAL_NODE_LABEL)}
  tolerations:
  - {key: ${REAL_NODE_TAINT.key}, operator: Equal, value: "${REAL_NODE_TAINT.value}", effect: ${REAL_NODE_TAINT.effect}}`;

export interface RealNodeWorldOptions {
  /** The operator elects a leader in the namespace, as installed (its leader_election_* series exist). */
  leaderElect?: boolean;
}

export async function startRealNodeWorld(
  prefix: string,
  opts: RealNodeWorldOptions = {},
): Promise<RealNodeWorld> {
  const kubeconfig = inject("kubeconfig");
  const binDir = inject("binDir");
  const clusterDir = inject("clusterDir");
  const node = await startRealNodeInDir(clusterDir, binDir, (l) => console.log(l));
  const dir = mkdtempSync(join(tmpdir(), `modelops-${prefix}-`));
  // The node runs on this machine, so a hostPath volume is the trained models' folder.
  const store = join(dir, "store");
  const { modelsDir } = await prepareModels(dir);
  for (const kind of ["logreg", "tree", "erring"] satisfies StoredModel[]) {
    mkdirSync(join(store, kind), { recursive: true });
    cpSync(join(modelsDir, kind, "iris"), join(store, kind), { recursive: true });
  }
  const ns = await createTestNamespace(prefix, kubeconfig, binDir, { modelStorePath: store });
  const pki = pkiIn(join(clusterDir, "pki"));
  const prom = await startPrometheus({
    dir: join(dir, "prometheus"),
    binDir,
    targets: [],
    // The operator's own metrics, under the job name the chart's alerts expect.
    staticJob: "modelops-operator",
    kubernetesPods: {
      apiserverUrl: inject("apiserverUrl"),
      caFile: pki.caCert,
      certFile: pki.clients.admin.cert,
      keyFile: pki.clients.admin.key,
      namespaces: [ns.name],
    },
  });
  const operator = await startInProcess({
    kubeconfig: inject("operatorKubeconfig"),
    namespace: ns.name,
    prometheus: createPrometheusProvider({ address: prom.url }),
    leaderElect: opts.leaderElect ?? false,
    // The images the node imported, whatever the defaults name.
    proxyImage: node.images.proxyImage,
    fetcherImage: node.images.operatorImage,
  });
  if (operator.metricsAddress) await prom.reloadTargets([operator.metricsAddress]);
  const loads: LoadGenerator[] = [];
  const slot = readState(clusterDir)?.nodeSlot;
  if (slot === undefined) throw new Error(`no cluster state in ${clusterDir}`);
  const world: RealNodeWorld = {
    node,
    prom,
    operator,
    ns,
    hostIp: nodeNetwork(slot).hostIp,
    modelDir: (model) => join(store, model),
    versionManifest: (name, version, model) =>
      versionManifest(name, version, model, node.images.mlserverImage),
    deployment: (name, version, strategy) => mdepManifest(name, version, strategy, 2, onRealNode),
    apply: async (yaml) => {
      await ns.kubectlOk(["apply", "-f", "-"], yaml);
    },
    serviceUrl: async (service) => {
      const svc = await ns.getJson<{ spec: { clusterIP: string } }>("service", service);
      if (!svc) throw new Error(`no Service ${service}`);
      return `http://${svc.spec.clusterIP}:${SERVICE_PORT}`;
    },
    load: async (service) => {
      const url = await world.serviceUrl(service);
      // A client starts once the Service answers: a Service just created is
      // unroutable (network unreachable) until kube-proxy has programmed it,
      // which is Kubernetes' start-up, not the rollout a story measures.
      await waitFor(
        async () => {
          const res = await fetch(`${url}/v2/health/ready`, { signal: AbortSignal.timeout(2000) }).catch(
            () => undefined,
          );
          return res?.ok ? true : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250, description: `${service} answers through its Service` },
      );
      const client = startLoad({
        url,
        ratePerSecond: STORY_RATE,
        log: (m) => console.log(`[${service}] ${m}`),
      });
      loads.push(client);
      return client;
    },
    stopLoad: (client) => {
      loads.splice(loads.indexOf(client), 1);
      return client.stop();
    },
    serving: (mdep, version) =>
      explained(mdep, () =>
        waitStatus(
          ns,
          mdep,
          (s) => s.phase === "Available" && s.stableVersion === version && !s.canaryRevision,
          `${version} Available`,
          POD_START_MS,
        ),
      ),
    servingAgain: (mdep, version) =>
      explained(mdep, async () => {
        // A rollback or undo rests in phase RolledBack; the other revision may stay up (retiringRevisions).
        const s = await waitStatus(
          ns,
          mdep,
          (x) => x.stableVersion === version && !x.restoring,
          `${version} serving again`,
          POD_START_MS,
        );
        await waitFor(async () => (await serviceRevision(ns, mdep)) === s.stableRevision, {
          timeoutMs: 10_000,
          description: `${mdep}: the Service selecting ${s.stableRevision} alone`,
        });
        return s;
      }),
    onlyPodsOf: async (mdep, revision) => {
      await waitFor(
        async () => {
          const out = await ns.kubectlOk([
            "get",
            "pods",
            "-l",
            `${LABEL_DEPLOYMENT}=${mdep}`,
            "-o",
            `jsonpath={.items[*].metadata.labels.${LABEL_REVISION.replaceAll(".", "\\.")}}`,
          ]);
          const revisions = out.split(" ").filter(Boolean);
          return revisions.length > 0 && revisions.every((r) => r === revision);
        },
        { timeoutMs: POD_START_MS, intervalMs: 500, description: `${mdep}: only ${revision} pods left` },
      );
    },
    describe: async (mdep) => {
      const status = await ns.kubectl(["get", "mdep", mdep, "-o", "jsonpath={.status}"]);
      const pods = await ns.kubectl(["get", "pods", "-o", "wide", "--show-labels"]);
      const events = await ns.kubectl(["get", "events", "--sort-by=.lastTimestamp"]);
      const targets = await fetch(`${prom.url}/api/v1/targets`).then((r) => r.text(), String);
      return [
        `status: ${status.stdout}`,
        pods.stdout,
        events.stdout.split("\n").slice(-25).join("\n"),
        `targets: ${targets.slice(0, 3000)}`,
      ].join("\n\n");
    },
    explained: (mdep, step) => explained(mdep, step),
    stop: async () => {
      for (const client of loads.splice(0)) await client.stop();
      await operator.stop();
      await prom.stop();
      await ns.delete();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  async function explained<T>(mdep: string, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (err) {
      console.log(await world.describe(mdep));
      throw err;
    }
  }
  return world;
}

/**
 * The sample ModelVersion (config/samples/modelversion.yaml: the iris
 * signature and reference distributions) as a new version serving a trained
 * model from the namespace's store with the locally built MLServer image.
 */
function versionManifest(name: string, version: string, model: StoredModel, image: string): string {
  const sample = load(readFileSync(join(root, "config/samples/modelversion.yaml"), "utf8")) as {
    metadata: Record<string, unknown>;
    spec: Record<string, unknown> & { runtime: Record<string, unknown> };
  };
  const { stage: _stage, ...spec } = sample.spec;
  return JSON.stringify({
    ...sample,
    metadata: { name },
    spec: {
      ...spec,
      modelName: "iris",
      version,
      artifact: { uri: `pvc://models/${model}`, format: "sklearn" },
      runtime: {
        ...spec.runtime,
        image,
        resources: { requests: { cpu: "50m", memory: "200Mi" }, limits: { memory: "1Gi" } },
      },
    },
  });
}
