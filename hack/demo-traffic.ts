// Simulated model traffic for the local demo cluster, whose KWOK pods run no
// container: a Prometheus scrapes an exporter that publishes, for every
// revision of every ModelDeployment, the series the modelops-proxy sidecar
// would (operator/api/metric-names.ts), so rollout analyses have data.
//   node hack/demo-traffic.ts --kubeconfig PATH --dir DIR [--bad-version NAME]
// --bad-version makes that ModelVersion answer 30% errors, to watch a rollback.
// Prints PROMETHEUS_URL=... once ready; runs until SIGTERM.
import { mkdirSync } from "node:fs";
import { parseArgs } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeClient } from "../operator/runtime/kube.ts";
import { FixtureExporter, type Traffic } from "./localcluster/exporter.ts";
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

const flows = new Map<string, Traffic>();
type Status = {
  stableRevision?: string;
  stableVersion?: string;
  canaryRevision?: string;
  canaryVersion?: string;
};

async function follow(): Promise<void> {
  const list = await kube.list({ apiVersion: "modelops.io/v1alpha1", kind: "ModelDeployment" });
  const live = new Set<string>();
  for (const mdep of list.items) {
    const s = (mdep.status ?? {}) as Status;
    const pairs = [
      [s.stableRevision, s.stableVersion, 30],
      [s.canaryRevision, s.canaryVersion, 10],
    ] as const;
    for (const [revision, version, rps] of pairs) {
      if (!revision || !version) continue;
      const key = `${mdep.metadata?.namespace}/${mdep.metadata?.name}/${revision}`;
      live.add(key);
      if (flows.has(key)) continue;
      const errorRate = version === values["bad-version"] ? 0.3 : 0.002;
      const series = {
        namespace: mdep.metadata?.namespace ?? "",
        deployment: mdep.metadata?.name ?? "",
        revision,
        version,
      };
      flows.set(key, exporter.traffic(series, { rps, errorRate, latencySeconds: 0.04 }));
    }
  }
  for (const [key, flow] of flows) {
    if (live.has(key)) continue;
    flow.stop();
    flows.delete(key);
  }
}

const timer = setInterval(
  () => follow().catch((err: unknown) => console.error(`[demo-traffic] ${String(err)}`)),
  2000,
);
const shutdown = async () => {
  clearInterval(timer);
  await prom.stop();
  await exporter.close();
  process.exit(0);
};
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
