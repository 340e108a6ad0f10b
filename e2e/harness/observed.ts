// An in-process operator whose analyses, autoscaler and drift monitors read a
// real Prometheus, which scrapes a fixture exporter the test drives.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FixtureExporter } from "../../hack/localcluster/exporter.ts";
import { type RunningPrometheus, startPrometheus } from "../../hack/localcluster/prometheus.ts";
import { createPrometheusProvider } from "../../operator/analysis/prometheus.ts";
import type { RunningManager } from "../../operator/manager.ts";
import { type InProcessOptions, startInProcess } from "./operator.ts";

export type Observed = {
  exporter: FixtureExporter;
  prom: RunningPrometheus;
  operator: RunningManager;
  stop(): Promise<void>;
};

export async function startObserved(opts: {
  namespace: string;
  binDir: string;
  kubeconfig: string;
  /**
   * As --outbound-allow; undefined allows nothing fenced. Drift webhooks and
   * per-object Prometheus addresses under test listen on loopback, which the
   * fence refuses unless allowed; the operator's own Prometheus is trusted.
   */
  outboundAllow?: string;
  notifications?: InProcessOptions["notifications"];
}): Promise<Observed> {
  const dir = mkdtempSync(join(tmpdir(), "modelops-observed-"));
  const exporter = await FixtureExporter.start();
  const prom = await startPrometheus({ dir, binDir: opts.binDir, targets: [exporter.target] });
  const operator = await startInProcess({
    kubeconfig: opts.kubeconfig,
    namespace: opts.namespace,
    prometheus: createPrometheusProvider({ address: prom.url }),
    ...(opts.outboundAllow === undefined ? {} : { outboundAllow: opts.outboundAllow }),
    notifications: opts.notifications,
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
