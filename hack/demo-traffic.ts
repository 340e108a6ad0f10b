// Simulated model traffic for the local demo cluster, whose KWOK pods run no
// container: a Prometheus scrapes an exporter that publishes the series the
// modelops-proxy sidecar would (operator/api/metric-names.ts) for the
// revisions that clients' requests really reach (hack/localcluster/
// cluster-traffic.ts), so rollout analyses have data, and only real data.
//   node hack/demo-traffic.ts --kubeconfig PATH --dir DIR [--bad-version NAME]
// --bad-version makes that ModelVersion answer 30% errors, to watch a rollback.
// Prints PROMETHEUS_URL=... once ready; runs until SIGTERM.
import { mkdirSync } from "node:fs";
import { parseArgs } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import { API_VERSION } from "../operator/api/contract.ts";
import { KubeClient } from "../operator/runtime/kube.ts";
import { ClusterTraffic, type ServedModel } from "./localcluster/cluster-traffic.ts";
import { FixtureExporter } from "./localcluster/exporter.ts";
import { startPrometheus } from "./localcluster/prometheus.ts";

const { values } = parseArgs({
  options: {
    kubeconfig: { type: "string" },
    dir: { type: "string" },
    "bin-dir": { type: "string", default: process.env.MODELOPS_BIN_DIR },
    "bad-version": { type: "string" },
  },
});
if (!values.kubeconfig || !values.dir || !values["bin-dir"]) {
  console.error(
    "usage: node hack/demo-traffic.ts --kubeconfig PATH --dir DIR --bin-dir DIR [--bad-version NAME]",
  );
  process.exit(2);
}

const kc = new KubeConfig();
kc.loadFromFile(values.kubeconfig);
const kube = new KubeClient(kc);
mkdirSync(values.dir, { recursive: true });
const exporter = await FixtureExporter.start();
const prom = await startPrometheus({
  dir: values.dir,
  binDir: values["bin-dir"],
  targets: [exporter.target],
});
console.log(`PROMETHEUS_URL=${prom.url}`);

// Clients call each ModelDeployment at 40 requests per second; which
// revisions answer is derived from the cluster (its Services' ready endpoints
// and routes), as it would be for real clients.
const traffic = new ClusterTraffic(exporter, kube);
const served = new Map<string, ServedModel>();
const versions = values["bad-version"] ? { [values["bad-version"]]: { errorRate: 0.3 } } : {};

async function follow(): Promise<void> {
  const list = await kube.list({ apiVersion: API_VERSION, kind: "ModelDeployment" });
  const live = new Set<string>();
  for (const mdep of list.items) {
    const namespace = mdep.metadata?.namespace ?? "";
    const name = mdep.metadata?.name ?? "";
    const key = `${namespace}/${name}`;
    live.add(key);
    if (!served.has(key)) served.set(key, traffic.serve({ namespace, mdep: name, rps: 40, versions }));
  }
  for (const [key, model] of served) {
    if (live.has(key)) continue;
    model.stop();
    served.delete(key);
  }
}

const timer = setInterval(
  () => follow().catch((err: unknown) => console.error(`[demo-traffic] ${String(err)}`)),
  2000,
);
const shutdown = async () => {
  clearInterval(timer);
  await traffic.close();
  await prom.stop();
  await exporter.close();
  process.exit(0);
};
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
