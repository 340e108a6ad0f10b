// Stories on the real node: MLServer pods with the modelops-proxy sidecar,
// started by a real kubelet, reached through a Service by kube-proxy, their
// metrics discovered and scraped by Prometheus, and a load generator calling
// the Service the way a client does, counting every failed request.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failureKinds } from "../hack/localcluster/load-generator.ts";
import { queryPrometheus } from "../hack/localcluster/prometheus.ts";
import { alertRules, dashboardQueries, withoutThreshold } from "../hack/monitoring-queries.ts";
import { adapterRules, metricName, podsQuery, seriesName } from "../hack/prometheus-adapter.ts";
import { LABEL_DEPLOYMENT } from "../operator/api/contract.ts";
import { DEFAULT_MAX_CONNECTION_AGE_MS } from "../operator/api/proxy-config.ts";
import {
  POD_START_MS,
  type RealNodeWorld,
  report,
  STORY_RATE,
  startRealNodeWorld,
} from "./harness/real-node.ts";
import { type RolloutStatus, rolloutStatus, waitStatus } from "./harness/rollout.ts";

const errorRate = "{name: error-rate, builtin: errorRate, max: 0.05}";

let world: RealNodeWorld;

beforeAll(async () => {
  // Leading, as installed: the dashboard and the alerts read leader_election_master_status.
  world = await startRealNodeWorld("real-rollouts", { leaderElect: true });
  await world.apply(
    [
      world.versionManifest("iris-v1", "1", "logreg"),
      world.versionManifest("iris-v2", "2", "tree"),
      world.versionManifest("iris-bad", "3", "erring"),
    ].join("\n---\n"),
  );
}, 1_800_000);

afterAll(async () => {
  await world?.stop();
});

describe("on a real node", () => {
  it("a good v2 is canaried and promoted under steady load with zero failed client requests, v1's scale-down included", async () => {
    const t0 = Date.now();
    const strategy = `
canary:
  scaleDownDelaySeconds: 5
  analysis: {interval: 5s, metrics: [${errorRate}]}
  steps:
  - setWeight: 50
  - analysis: {interval: 5s, count: 3, metrics: [${errorRate}]}`;
    await world.apply(world.deployment("good", "iris-v1", strategy));
    const v1 = await world.serving("good", "iris-v1");
    const client = await world.load("good");
    await new Promise((r) => setTimeout(r, 5000));
    await world.apply(world.deployment("good", "iris-v2", strategy));
    const v2 = await world.serving("good", "iris-v2");
    await world.onlyPodsOf("good", v2.stableRevision as string);
    await new Promise((r) => setTimeout(r, 3000));
    const stats = await world.stopLoad(client);
    report("good canary", stats, t0);
    expect(stats.failures).toEqual([]);
    expect(stats.byRevision[v1.stableRevision as string]).toBeGreaterThan(0);
    expect(stats.byRevision[v2.stableRevision as string]).toBeGreaterThan(0);
    expect((await rolloutStatus(world.ns, "good")).history?.[0]?.result).toBe("Promoted");
  }, 900_000);

  it("a v2 whose model really errs is rolled back by the built-in analysis; clients see errors only from its pods, and only until the rollback", async () => {
    const t0 = Date.now();
    const strategy = `
canary:
  analysis: {interval: 5s, metrics: [${errorRate}]}
  steps:
  - setWeight: 25
  - pause: {duration: 10m}`;
    await world.apply(world.deployment("bad", "iris-v1", strategy));
    await world.serving("bad", "iris-v1");
    const client = await world.load("bad");
    await world.apply(world.deployment("bad", "iris-bad", strategy));
    const started = await waitStatus(world.ns, "bad", (s) => !!s.canaryRevision, "canary started");
    const canary = started.canaryRevision as string;
    await waitStatus(world.ns, "bad", (s) => s.phase === "RolledBack", "rolled back", POD_START_MS);
    const rolledBack = await world.servingAgain("bad", "iris-v1");
    const stable = rolledBack.stableRevision as string;
    // The history records the rollback to the second; count from its start.
    const rollbackAt = Date.parse(rolledBack.history?.[0]?.time ?? "");
    // The canary's pods stay up for debugging (retiringRevisions), out of the
    // Service: keep-alive clients leave them when the proxy recycles their connection.
    await new Promise((r) => setTimeout(r, DEFAULT_MAX_CONNECTION_AGE_MS + 5000));
    const stats = await world.stopLoad(client);
    report("bad canary", stats, t0);
    const lastFailure = Math.max(...stats.failures.map((f) => f.at));
    console.log(
      `[story] bad canary: ${stats.failed} failures (${failureKinds(stats.failures)}), the last ${((lastFailure - rollbackAt) / 1000).toFixed(1)}s after the recorded rollback`,
    );
    expect(rolledBack.phase).toBe("RolledBack");
    expect(rolledBack.history?.[0]?.result).toBe("RolledBack");
    expect(rolledBack.stableVersion).toBe("iris-v1");
    expect(rolledBack.retiringRevisions?.map((r) => r.revision)).toContain(canary);
    // The model really erred, through the real proxy, and the analysis saw it.
    expect(stats.failed).toBeGreaterThan(0);
    // Every failed request was answered, with the model's own 500, by the canary's pods ...
    expect(new Set(stats.failures.map((f) => f.revision))).toEqual(new Set([canary]));
    expect(stats.failures.every((f) => f.status === 500)).toBe(true);
    // ... and none was sent after the rollback had been recorded for longer
    // than a client connection lives (plus a second of history rounding and
    // a second for the Service change to reach kube-proxy).
    expect(lastFailure - rollbackAt).toBeLessThan(DEFAULT_MAX_CONNECTION_AGE_MS + 2000);
    expect(stats.byRevision[stable]).toBeGreaterThan(0);
  }, 900_000);

  it("blue-green: the preview is analysed on real requests to <name>-preview, then switched with zero failed client requests", async () => {
    const t0 = Date.now();
    const strategy = `
blueGreen:
  scaleDownDelaySeconds: 5
  prePromotionAnalysis: {interval: 5s, count: 3, metrics: [${errorRate}]}`;
    await world.apply(world.deployment("bg", "iris-v1", strategy));
    const v1 = await world.serving("bg", "iris-v1");
    const client = await world.load("bg");
    await world.apply(world.deployment("bg", "iris-v2", strategy));
    const preview = await waitStatus(
      world.ns,
      "bg",
      (s) => s.stage === "PrePromotionAnalysis",
      "analysing the preview",
      POD_START_MS,
    );
    const previewClient = await world.load("bg-preview");
    const previewRun = (s: RolloutStatus) =>
      s.analysisRuns?.find((r) => r.revision === preview.canaryRevision);
    // The analysis measures what the preview's own proxies saw of those requests.
    const measuring = await waitStatus(
      world.ns,
      "bg",
      (s) => s.stage === "PrePromotionAnalysis" && (previewRun(s)?.successful ?? 0) >= 1,
      "a successful measurement of the preview",
    );
    const v2 = await world.serving("bg", "iris-v2");
    await world.onlyPodsOf("bg", v2.stableRevision as string);
    await new Promise((r) => setTimeout(r, 3000));
    const [stats, previewStats] = [await world.stopLoad(client), await world.stopLoad(previewClient)];
    report("blue-green (clients)", stats, t0);
    report("blue-green (preview)", previewStats, t0);
    expect(v2.stableRevision).toBe(preview.canaryRevision);
    expect(stats.failures).toEqual([]);
    expect(stats.byRevision[v1.stableRevision as string]).toBeGreaterThan(0);
    expect(stats.byRevision[v2.stableRevision as string]).toBeGreaterThan(0);
    // The preview Service served the new revision only, without a failure
    // while it was the preview (after the switch it goes away with the rollout) ...
    const promotedAt = Date.parse(v2.history?.[0]?.time ?? "");
    expect(previewStats.failures.filter((f) => f.at < promotedAt)).toEqual([]);
    expect(Object.keys(previewStats.byRevision)).toEqual([preview.canaryRevision]);
    // ... and the analysis measured it: a real error rate of the preview, not "no data".
    const measured = previewRun(measuring)?.metrics?.find((m) => m.name === "error-rate");
    expect(measured?.value).toBe(0);
  }, 900_000);

  it("undo after the previous revision was retired brings it back without a single failed request", async () => {
    const t0 = Date.now();
    const strategy = `
canary:
  scaleDownDelaySeconds: 2
  steps:
  - setWeight: 50`;
    await world.apply(world.deployment("undo", "iris-v1", strategy));
    const v1 = await world.serving("undo", "iris-v1");
    await world.apply(world.deployment("undo", "iris-v2", strategy));
    const v2 = await world.serving("undo", "iris-v2");
    // v1 is retired: no pod of it is left to answer.
    await world.onlyPodsOf("undo", v2.stableRevision as string);
    const client = await world.load("undo");
    await new Promise((r) => setTimeout(r, 3000));
    await world.ns.kubectlOk(["annotate", "mdep", "undo", "modelops.io/action=undo@story", "--overwrite"]);
    const restoring = await waitStatus(
      world.ns,
      "undo",
      (s) => !!s.restoring || s.stableVersion === "iris-v1",
      "undo started",
    );
    const back = await world.servingAgain("undo", "iris-v1");
    // v2 stays warm for a while (retiringRevisions); clients leave it as their connections are recycled.
    await new Promise((r) => setTimeout(r, DEFAULT_MAX_CONNECTION_AGE_MS + 3000));
    const stats = await world.stopLoad(client);
    report("undo of a retired revision", stats, t0);
    // It waited for v1's new pods instead of switching to none.
    expect(restoring.restoring?.revision ?? back.stableRevision).toBe(v1.stableRevision);
    expect(back.stableRevision).toBe(v1.stableRevision);
    expect(stats.failures).toEqual([]);
    expect(stats.byRevision[v2.stableRevision as string]).toBeGreaterThan(0);
    expect(stats.byRevision[v1.stableRevision as string]).toBeGreaterThan(0);
  }, 900_000);

  it("during a canary under real traffic every dashboard panel and every alert's series return data, stable and canary side by side; the prometheus-adapter rules give each pod its client load", async () => {
    const t0 = Date.now();
    const strategy = `
canary:
  analysis: {interval: 5s, metrics: [${errorRate}]}
  steps:
  - setWeight: 50
  - pause: {}`;
    await world.apply(world.deployment("watched", "iris-v1", strategy));
    const v1 = await world.serving("watched", "iris-v1");
    const client = await world.load("watched");
    // The drift panel's series come from a DriftMonitor's evaluations.
    await world.apply(`
apiVersion: modelops.io/v1alpha1
kind: DriftMonitor
metadata: {name: watched}
spec:
  targetRef: {name: watched}
  interval: 5s
  window: 1m
  minSampleSize: 50
  features:
  - {name: petal_length, method: psi, warning: 0.1, critical: 0.25}`);
    await world.apply(world.deployment("watched", "iris-v2", strategy));
    const paused = await waitStatus(
      world.ns,
      "watched",
      (s) => s.phase === "Paused" && s.canaryWeight === 50,
      "paused at 50%",
      POD_START_MS,
    );
    const revisions = [v1.stableRevision, paused.canaryRevision].sort();
    const pausedAfter = (Date.now() - t0) / 1000;

    // Grafana's $__rate_interval is at least four scrape intervals; 1m holds both revisions' traffic.
    const panels = dashboardQueries({
      namespace: world.ns.name,
      deployment: "watched",
      __rate_interval: "1m",
    });
    // Every shipped alert fires only on a failure (a rollback, a stuck
    // rollout, critical drift, no operator, reconcile errors): a healthy
    // canary can only show that the series each one compares exist.
    const alerts = alertRules().flatMap((r) =>
      withoutThreshold(r.expr).map((expr) => ({ alert: r.alert, expr })),
    );
    const pods = (
      await world.ns.kubectlOk([
        "get",
        "pods",
        "-l",
        `${LABEL_DEPLOYMENT}=watched`,
        "-o",
        "jsonpath={.items[*].metadata.name}",
      ])
    )
      .split(" ")
      .filter(Boolean);
    const adapter = adapterRules().map((rule) => ({
      metric: metricName(rule, seriesName(rule)),
      expr: podsQuery(rule, world.ns.name, pods),
    }));
    type Result = { what: string; expr: string; series: Awaited<ReturnType<typeof queryPrometheus>> };
    const run = async (what: string, expr: string): Promise<Result> => ({
      what,
      expr,
      series: await queryPrometheus(world.prom.url, expr),
    });
    const runAll = () =>
      Promise.all([
        // A panel target that picks an alarming state (Critical drift: `== 1`)
        // falls back to its series without that comparison.
        ...panels.map(async (p) => {
          const asIs = await run(`panel "${p.panel}" ${p.refId}`, p.expr);
          const [bare] = withoutThreshold(p.expr);
          return asIs.series.length || bare === p.expr || !bare
            ? asIs
            : run(`${asIs.what} (no threshold)`, bare);
        }),
        ...alerts.map((a) => run(`alert ${a.alert}`, a.expr)),
        ...adapter.map((a) => run(`adapter ${a.metric}`, a.expr)),
      ]);
    const perRevision = (results: Result[]) =>
      results
        .find((r) => r.what.startsWith('panel "Request rate by revision"'))
        ?.series.map((s) => s.metric.revision)
        .sort();
    const rps = (results: Result[]) =>
      results.find((r) => r.what.includes("client_requests_per_second"))?.series ?? [];
    const total = (results: Result[]) => rps(results).reduce((sum, s) => sum + s.value, 0);
    // Rates need a few scrapes of the canary, the drift panel a first
    // evaluation, and the adapter's 1m rate a minute of load to reach the client's rate.
    let results: Result[] = [];
    const deadline = Date.now() + 120_000;
    for (;;) {
      results = await runAll();
      const complete =
        results.every((r) => r.series.length > 0) &&
        JSON.stringify(perRevision(results)) === JSON.stringify(revisions) &&
        rps(results).length === pods.length &&
        total(results) > STORY_RATE * 0.8;
      if (complete || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    const stats = await world.stopLoad(client);
    report("monitoring queries", stats, t0);
    const adapterRps = rps(results);
    const clientRps = total(results);
    console.log(
      `[story] monitoring queries: paused at 50% after ${pausedAfter.toFixed(0)}s; ${results.length} queries (${panels.length} panel targets, ${alerts.length} alert series, ${adapter.length} adapter rules); adapter rps ${clientRps.toFixed(1)} after ${((Date.now() - t0) / 1000 - pausedAfter).toFixed(0)}s more, per pod ${adapterRps.map((s) => `${s.metric.pod}=${s.value.toFixed(2)}`).join(", ")}`,
    );
    expect(results.filter((r) => r.series.length === 0).map((r) => `${r.what}: ${r.expr}`)).toEqual([]);
    // Stable and canary side by side.
    expect(perRevision(results)).toEqual(revisions);
    // One value per pod, named by the pod label the adapter maps to pods; together the client's rate.
    expect(adapterRps.map((s) => s.metric.pod).sort()).toEqual([...pods].sort());
    expect(clientRps).toBeGreaterThan(STORY_RATE * 0.8);
    expect(clientRps).toBeLessThan(STORY_RATE * 1.2);
    expect(stats.failures).toEqual([]);
  }, 900_000);
});
