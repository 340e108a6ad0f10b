// A real Prometheus scraping the fixture exporter: what the test simulates
// (request rate, error ratio, latency) is what PromQL, and the operator's own
// built-in analysis queries, read back within seconds.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { FixtureExporter, type ProxySeries } from "../hack/localcluster/exporter.ts";
import { waitFor } from "../hack/localcluster/kubectl.ts";
import { queryValue, type RunningPrometheus, startPrometheus } from "../hack/localcluster/prometheus.ts";
import { createPrometheusProvider } from "../operator/analysis/prometheus.ts";
import { builtinQuery } from "../operator/analysis/queries.ts";

const binDir = inject("binDir");
const r1: ProxySeries = { namespace: "ns1", deployment: "iris", revision: "r1", version: "iris-v1" };
const r2: ProxySeries = { ...r1, revision: "r2", version: "iris-v2" };

let dir: string;
let exporter: FixtureExporter;
let prom: RunningPrometheus;

/** Polls `promql` until its value satisfies `ok`; fails with the last value seen. */
function waitForValue(promql: string, ok: (v: number) => boolean, description: string): Promise<number> {
  return waitFor(
    async () => {
      const v = await queryValue(prom.url, promql);
      return v !== undefined && ok(v) ? { v } : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 500, description: `${description}: ${promql}` },
  ).then((r) => r.v);
}

describe("Prometheus scraping a fixture exporter", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "modelops-prom-"));
    exporter = await FixtureExporter.start();
    const t0 = Date.now();
    prom = await startPrometheus({ dir, binDir, targets: [exporter.target] });
    console.log(`[prometheus] ready in ${Date.now() - t0}ms at ${prom.url}`);
  });
  afterAll(async () => {
    await prom?.stop();
    await exporter?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("reads back 10 rps with 20% 5xx as an error ratio of 0.2", async () => {
    exporter.traffic(r1, { rps: 10, errorRate: 0.2, latencySeconds: 0.2 });
    const sel = 'revision="r1"';
    const ratio = await waitForValue(
      `sum(rate(modelops_proxy_requests_total{code="5xx",${sel}}[10s])) / sum(rate(modelops_proxy_requests_total{${sel}}[10s]))`,
      (v) => Math.abs(v - 0.2) < 0.005,
      "error ratio 0.2",
    );
    expect(ratio).toBeCloseTo(0.2, 2);
    const rps = await waitForValue(
      `sum(rate(modelops_proxy_requests_total{${sel}}[10s]))`,
      (v) => Math.abs(v - 10) < 0.5,
      "10 rps",
    );
    expect(rps).toBeCloseTo(10, 0);
  });

  it("puts p95 latency in the bucket of the simulated latency", async () => {
    // Every request takes 0.2 s, which falls in the (0.1, 0.25] bucket;
    // histogram_quantile interpolates linearly inside it: 0.1 + 0.15 * 0.95.
    const p95 = await waitForValue(
      'histogram_quantile(0.95, sum by (le) (rate(modelops_proxy_request_duration_seconds_bucket{revision="r1"}[10s])))',
      (v) => v > 0.1 && v <= 0.25,
      "p95 in (0.1, 0.25]",
    );
    expect(p95).toBeCloseTo(0.2425, 3);
  });

  it("answers the operator's built-in analysis queries through its provider", async () => {
    exporter.traffic(r2, { rps: 20, errorRate: 0, latencySeconds: 0.03 });
    const provider = createPrometheusProvider({ address: prom.url });
    const sel = (rev: ProxySeries) => ({ ...rev, interval: "10s" });
    await waitFor(
      async () => {
        const r = await provider.query(builtinQuery("requestRate", sel(r2)));
        return r.kind === "value" && Math.abs(r.value - 20) < 1 ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, description: "requestRate of r2 near 20" },
    );
    expect(await provider.query(builtinQuery("errorRate", sel(r2)))).toEqual({ kind: "value", value: 0 });
    const r1Errors = await provider.query(builtinQuery("errorRate", sel(r1)));
    expect(r1Errors.kind === "value" && r1Errors.value).toBeCloseTo(0.2, 2);
    // 0.03 s lies in (0.025, 0.05]: 0.025 + 0.025 * 0.99.
    const p99 = await provider.query(builtinQuery("latencyP99", sel(r2)));
    expect(p99.kind === "value" && p99.value).toBeCloseTo(0.04975, 4);
  });

  it("reports no data for a revision without traffic", async () => {
    const provider = createPrometheusProvider({ address: prom.url });
    const r = await provider.query(builtinQuery("errorRate", { ...r1, revision: "r3", interval: "10s" }));
    expect(r.kind).toBe("noData");
  });

  it("follows new targets after reloadTargets", async () => {
    const other = await FixtureExporter.start();
    try {
      other.gauge("fixture_marker", { which: "other" }).set(7);
      await prom.reloadTargets([exporter.target, other.target]);
      const v = await waitForValue('fixture_marker{which="other"}', (x) => x === 7, "marker from new target");
      expect(v).toBe(7);
    } finally {
      await other.close();
    }
  });
});
