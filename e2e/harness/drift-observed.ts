// startObserved (./observed.ts) for drift tests, with the operator's outbound
// fence set as the test needs: drift webhooks and per-object Prometheus
// addresses under test listen on loopback, which the fence refuses unless
// --outbound-allow names it. The operator's own Prometheus stays trusted.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FixtureExporter } from "../../hack/localcluster/exporter.ts";
import { startPrometheus } from "../../hack/localcluster/prometheus.ts";
import { createPrometheusProvider } from "../../operator/analysis/prometheus.ts";
import type { Observed } from "./observed.ts";
import { startInProcess } from "./operator.ts";

export async function startDriftObserved(opts: {
  namespace: string;
  binDir: string;
  kubeconfig: string;
  /** As --outbound-allow; undefined allows nothing fenced. */
  outboundAllow?: string;
}): Promise<Observed> {
  const dir = mkdtempSync(join(tmpdir(), "modelops-observed-"));
  const exporter = await FixtureExporter.start();
  const prom = await startPrometheus({ dir, binDir: opts.binDir, targets: [exporter.target] });
  const operator = await startInProcess({
    kubeconfig: opts.kubeconfig,
    namespace: opts.namespace,
    prometheus: createPrometheusProvider({ address: prom.url }),
    ...(opts.outboundAllow === undefined ? {} : { outboundAllow: opts.outboundAllow }),
  });
  return {
    exporter,
    prom,
    operator,
    stop: async () => {
      await operator.stop();
      await prom.stop();
      await exporter.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
