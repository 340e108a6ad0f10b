// Real model traffic for `npm run up` when the local cluster has its real
// node (hack/localcluster/real-node.ts): a Prometheus that finds the inference
// pods through the apiserver and scrapes their modelops-proxy sidecars, and
// clients calling the ModelDeployment's Service (its ClusterIP, routed to the
// node from this host) with V2 requests of iris-like rows. Rollout analyses
// then judge what the real model servers answered.
//   node hack/demo-real.ts --cluster-dir DIR --bin-dir DIR [--namespace default]
//     [--mdep iris-classifier] [--rate 10] [--state-file PATH]
// Prints PROMETHEUS_URL=... once Prometheus is ready and LOAD_URL=... once the
// ModelDeployment serves and the load starts (both also appended to
// --state-file), then a progress line every 15 s. Runs until SIGTERM/SIGINT.
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import { API_VERSION, SERVICE_PORT } from "../operator/api/contract.ts";
import { KubeClient } from "../operator/runtime/kube.ts";
import type { KubeObject } from "../operator/runtime/types.ts";
import { readState } from "./localcluster/cluster.ts";
import {
  failureKinds,
  type LoadGenerator,
  type LoadStats,
  startLoad,
} from "./localcluster/load-generator.ts";
import { pkiIn } from "./localcluster/pki.ts";
import { startPrometheus } from "./localcluster/prometheus.ts";

// ---- pure helpers ----------------------------------------------------------

/** The Service's in-cluster URL, or undefined while it has no ClusterIP. */
export function serviceUrl(svc: { spec?: { clusterIP?: string } } | undefined): string | undefined {
  const ip = svc?.spec?.clusterIP;
  if (!ip || ip === "None") return undefined;
  return ip.includes(":") ? `http://[${ip}]:${SERVICE_PORT}` : `http://${ip}:${SERVICE_PORT}`;
}

/** Revision -> answers in `cur` that were not in `prev`, largest first ("abc12 80, def34 20"). */
export function revisionDeltas(prev: LoadStats["byRevision"], cur: LoadStats["byRevision"]): string {
  const rows = Object.entries(cur)
    .map(([rev, n]) => [rev, n - (prev[rev] ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  return rows.length > 0 ? rows.map(([rev, n]) => `${rev} ${n}`).join(", ") : "none";
}

/** One progress line over the interval from `prev` to `cur`. */
export function progressLine(prev: LoadStats, cur: LoadStats, seconds: number): string {
  const sent = cur.sent - prev.sent;
  const ok = cur.ok - prev.ok;
  const failed = cur.failed - prev.failed;
  const why = failed > 0 ? ` (${failureKinds(cur.failures.slice(prev.failed))})` : "";
  const lat = cur.latencyMs
    ? `; p50 ${cur.latencyMs.p50.toFixed(0)} ms, p99 ${cur.latencyMs.p99.toFixed(0)} ms`
    : "";
  return (
    `load: last ${seconds.toFixed(0)}s ${(sent / seconds).toFixed(1)} req/s, ok ${ok}, failed ${failed}${why}; ` +
    `answered by revision: ${revisionDeltas(prev.byRevision, cur.byRevision)}` +
    ` | total sent ${cur.sent}, failed ${cur.failed}${lat}`
  );
}

// ---- I/O -------------------------------------------------------------------

const { values } = parseArgs({
  options: {
    "cluster-dir": { type: "string" },
    "bin-dir": { type: "string", default: process.env.MODELOPS_BIN_DIR },
    namespace: { type: "string", default: "default" },
    mdep: { type: "string", default: "iris-classifier" },
    rate: { type: "string", default: "10" },
    "state-file": { type: "string" },
  },
});
const clusterDir = values["cluster-dir"];
const binDir = values["bin-dir"];
const rate = Number(values.rate);
const state = clusterDir ? readState(clusterDir) : undefined;
if (!clusterDir || !binDir || !(rate > 0) || !state?.ready) {
  console.error(
    "usage: node hack/demo-real.ts --cluster-dir DIR (a running local cluster) --bin-dir DIR [--namespace NS] [--mdep NAME] [--rate N] [--state-file PATH]",
  );
  process.exit(2);
}
const { namespace, mdep } = values;
const log = (line: string) => console.log(`[demo-real] ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const kc = new KubeConfig();
kc.loadFromFile(state.kubeconfig);
const kube = new KubeClient(kc);
const pki = pkiIn(join(clusterDir, "pki"));
const prom = await startPrometheus({
  dir: join(clusterDir, "prometheus"),
  binDir,
  kubernetesPods: {
    apiserverUrl: state.apiserverUrl,
    caFile: pki.caCert,
    certFile: pki.clients.admin.cert,
    keyFile: pki.clients.admin.key,
    namespaces: [namespace],
  },
});
/** KEY=value on stdout and in the state file, for hack/up.sh. */
const announce = (key: string, value: string) => {
  console.log(`${key}=${value}`);
  if (values["state-file"]) appendFileSync(values["state-file"], `${key}=${value}\n`);
};
announce("PROMETHEUS_URL", prom.url);

let load: LoadGenerator | undefined;
let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  const final = await load?.stop();
  if (final) log(`stopped: sent ${final.sent}, ok ${final.ok}, failed ${final.failed}`);
  await prom.stop();
  process.exit(0);
};
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);

type Mdep = KubeObject & {
  status?: { stableVersion?: string; conditions?: Array<{ type: string; status: string }> };
};
type ModelVersion = KubeObject & { spec?: { modelName?: string } };
type Service = KubeObject & { spec?: { clusterIP?: string } };

// Clients start once a version serves (Available), as an application would go live.
async function target(): Promise<{ url: string; model: string } | undefined> {
  const md = await kube.getOrUndefined<Mdep>({
    apiVersion: API_VERSION,
    kind: "ModelDeployment",
    namespace,
    name: mdep,
  });
  const available = md?.status?.conditions?.some((c) => c.type === "Available" && c.status === "True");
  const version = md?.status?.stableVersion;
  if (!available || !version) return undefined;
  const mv = await kube.getOrUndefined<ModelVersion>({
    apiVersion: API_VERSION,
    kind: "ModelVersion",
    namespace,
    name: version,
  });
  const svc = await kube.getOrUndefined<Service>({
    apiVersion: "v1",
    kind: "Service",
    namespace,
    name: mdep,
  });
  const url = serviceUrl(svc);
  const model = mv?.spec?.modelName;
  return url && model ? { url, model } : undefined;
}

let found: { url: string; model: string } | undefined;
log(`waiting for ModelDeployment ${namespace}/${mdep} to be Available`);
while (!found && !stopping) {
  found = await target().catch((err: unknown) => {
    log(`waiting: ${String(err)}`);
    return undefined;
  });
  if (!found) await sleep(2000);
}
if (found && !stopping) {
  log(`sending ${rate} req/s to ${found.url}/v2/models/${found.model}/infer (Service ${mdep})`);
  announce("LOAD_URL", found.url);
  load = startLoad({
    url: found.url,
    model: found.model,
    ratePerSecond: rate,
    // A new connection per request: kube-proxy balances connections, so one
    // kept-alive client would stick to one pod and hide the canary's weight.
    keepAlive: false,
    log,
    // Our own progress line below; the built-in one would repeat it.
    progressEveryMs: 2 ** 31 - 1,
  });
  const generator = load;
  let prev = generator.snapshot();
  let prevAt = performance.now();
  setInterval(() => {
    const cur = generator.snapshot();
    const now = performance.now();
    log(progressLine(prev, cur, (now - prevAt) / 1000));
    prev = cur;
    prevAt = now;
  }, 15_000);
}
