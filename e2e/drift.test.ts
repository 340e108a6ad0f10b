import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { FixtureExporter, ProxySeries } from "../hack/localcluster/exporter.ts";
import { waitFor } from "../hack/localcluster/kubectl.ts";
import type { RunningManager } from "../operator/manager.ts";
import { metricValue } from "../operator/runtime/metrics.ts";
import {
  publishFeature,
  publishPredictions,
  SCORER_EDGES,
  SCORER_LABELS,
  scorerVersion,
  seeded,
  sendScorerTraffic,
} from "./harness/drift.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { type Observed, startObserved } from "./harness/observed.ts";
import { waitStatus } from "./harness/rollout.ts";

const INTERVAL_S = 3;

let ns: TestNamespace;
let exporter: FixtureExporter;
let observed: Observed;
let operator: RunningManager;
let webhook: Server;
let webhookUrl: string;
const received: { authorization: string | undefined; body: { verdict?: string; features?: unknown[] } }[] =
  [];

type DriftStatus = {
  verdict?: string;
  message?: string;
  sampleSize?: number;
  lastActionTime?: string;
  lastActionResult?: string;
  features?: {
    name: string;
    kind: string;
    method: string;
    score: number;
    status: string;
    sampleSize: number;
  }[];
  conditions?: { type: string; status: string; reason: string; message: string }[];
};

/** No strategy: a new version takes all traffic once ready, and the old one becomes previousVersion. */
function plainMdep(name: string, version: string): string {
  return `
apiVersion: modelops.io/v1alpha1
kind: ModelDeployment
metadata: {name: ${name}}
spec: {modelVersion: ${version}, replicas: 1}
`;
}

function monitorManifest(name: string, target: string, extra = ""): string {
  return `
apiVersion: modelops.io/v1alpha1
kind: DriftMonitor
metadata: {name: ${name}}
spec:
  targetRef: {name: ${target}}
  interval: ${INTERVAL_S}s
  window: 10m
  minSampleSize: 100
${extra}`;
}

const RETRAIN = `  actions:
    retrainJob:
      template:
        spec:
          backoffLimit: 0
          template:
            spec:
              serviceAccountName: trainer
              restartPolicy: Never
              containers: [{name: train, image: "trainer:1", command: ["train"]}]`;

async function driftStatus(name: string): Promise<DriftStatus | undefined> {
  return (await ns.getJson<{ status?: DriftStatus }>("driftmonitor", name))?.status;
}

function waitDrift(name: string, ok: (s: DriftStatus) => boolean, what: string, timeoutMs = 60_000) {
  return waitFor(
    async () => {
      const s = await driftStatus(name);
      return s && ok(s) ? s : undefined;
    },
    { timeoutMs, intervalMs: 200, description: `${name}: ${what}` },
  );
}

async function jobsOf(monitor: string): Promise<{ metadata: { name: string }; spec: unknown }[]> {
  const out = await ns.kubectlOk(["get", "jobs", "-l", `modelops.io/drift-monitor=${monitor}`, "-o", "json"]);
  return (JSON.parse(out) as { items: { metadata: { name: string }; spec: unknown }[] }).items;
}

/** Series of the version serving `mdep`, created at zero so increase() counts everything after. */
async function servingSeries(mdep: string, version: string): Promise<ProxySeries> {
  const s = await waitStatus(
    ns,
    mdep,
    (x) => x.phase === "Available" && x.stableVersion === version,
    "serving",
  );
  const series = { namespace: ns.name, deployment: mdep, revision: s.stableRevision ?? "", version };
  publishFeature(exporter, series, "x", SCORER_EDGES, []);
  publishPredictions(exporter, series, "label", SCORER_LABELS, []);
  await new Promise((r) => setTimeout(r, 2500)); // two scrapes of the zeros
  return series;
}

beforeAll(async () => {
  ns = await createTestNamespace("drift", inject("kubeconfig"), inject("binDir"));
  await ns.kubectlOk(["apply", "-f", "-"], `${scorerVersion("scorer-v1")}---${scorerVersion("scorer-v2")}`);
  webhook = createServer((req, res) => {
    let text = "";
    req.on("data", (chunk) => {
      text += chunk;
    });
    req.on("end", () => {
      received.push({ authorization: req.headers.authorization, body: JSON.parse(text) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => webhook.listen(0, "127.0.0.1", r));
  webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/drift`;
  await ns.kubectlOk(["create", "secret", "generic", "hook", "--from-literal=token=s3cret"]);
  await ns.kubectlOk(["create", "serviceaccount", "trainer"]);
  // The webhook receiver and the "blind" Prometheus listen on loopback: allowed here, as by an admin.
  observed = await startObserved({
    namespace: ns.name,
    binDir: inject("binDir"),
    kubeconfig: inject("operatorKubeconfig"),
    outboundAllow: "127.0.0.1",
  });
  ({ exporter, operator } = observed);
});

afterAll(async () => {
  await observed?.stop();
  await new Promise((r) => webhook?.close(r));
  await ns?.delete();
});

describe("DriftMonitor", () => {
  it("InsufficientData on low traffic, NoDrift on reference traffic, Critical within one interval of a shift, one Job per episode", async () => {
    await ns.kubectlOk(["apply", "-f", "-"], plainMdep("steady", "scorer-v1"));
    const series = await servingSeries("steady", "scorer-v1");
    sendScorerTraffic(exporter, series, 20, 0, 4, 0.5, 1);
    const hook = `\n    webhook: {url: "${webhookUrl}", secretRef: {name: hook, key: token}}`;
    await ns.kubectlOk(["apply", "-f", "-"], monitorManifest("steady", "steady", RETRAIN + hook));

    const quiet = await waitDrift("steady", (s) => s.verdict === "InsufficientData", "InsufficientData");
    expect(quiet.message).toContain("minSampleSize=100");
    expect(quiet.conditions?.find((c) => c.type === "DriftDetected")).toMatchObject({
      status: "Unknown",
      reason: "InsufficientData",
    });

    sendScorerTraffic(exporter, series, 2000, 0, 4, 0.5, 2);
    const calm = await waitDrift("steady", (s) => s.verdict === "NoDrift", "NoDrift");
    expect(calm.features?.map((f) => [f.name, f.kind, f.method, f.status])).toEqual([
      ["x", "Feature", "wasserstein", "NoDrift"],
      ["label", "Prediction", "jensenShannon", "NoDrift"],
    ]);
    expect(calm.conditions?.find((c) => c.type === "DriftDetected")?.status).toBe("False");
    expect(
      await metricValue(operator.registry, "modelops_drift_status", { name: "steady", verdict: "NoDrift" }),
    ).toBe(1);
    expect(await jobsOf("steady")).toHaveLength(0);

    sendScorerTraffic(exporter, series, 6000, 2.5, 4, 0.9, 3);
    const shifted = Date.now();
    const critical = await waitDrift("steady", (s) => s.verdict === "Critical", "Critical");
    // One interval, plus a scrape for Prometheus to see the new counts.
    expect(Date.now() - shifted).toBeLessThan((INTERVAL_S + 2.5) * 1000);
    expect(critical.features?.find((f) => f.name === "x")?.status).toBe("Critical");
    expect(critical.conditions?.find((c) => c.type === "DriftDetected")).toMatchObject({
      status: "True",
      reason: "Critical",
    });
    expect(
      await metricValue(operator.registry, "modelops_drift_score", {
        name: "steady",
        feature: "x",
        method: "wasserstein",
      }),
    ).toBeGreaterThan(0.2);
    const events = await ns.kubectlOk([
      "get",
      "events",
      "--field-selector",
      "reason=DriftCritical",
      "-o",
      "name",
    ]);
    expect(events.trim()).not.toBe("");

    const [job] = await waitFor(
      async () => ((await jobsOf("steady")).length > 0 ? jobsOf("steady") : undefined),
      {
        description: "retraining Job",
      },
    );
    const env = JSON.stringify(job?.spec);
    expect(env).toContain("DRIFT_REPORT");
    expect(env).toContain('\\"verdict\\":\\"Critical\\"');
    await new Promise((r) => setTimeout(r, 3 * INTERVAL_S * 1000));
    const later = await driftStatus("steady");
    expect(later?.verdict).toBe("Critical");
    expect(await jobsOf("steady")).toHaveLength(1); // once per episode, not per evaluation
    expect(received).toHaveLength(1);
    expect(received[0]?.authorization).toBe("Bearer s3cret");
    expect(received[0]?.body).toMatchObject({
      verdict: "Critical",
      modelDeployment: "steady",
      modelVersion: "scorer-v1",
    });
    expect(later?.lastActionResult).toContain(`retraining Job ${job?.metadata.name} created`);
  });

  it("rolls the ModelDeployment back to its previous version through the undo action", async () => {
    await ns.kubectlOk(["apply", "-f", "-"], plainMdep("model", "scorer-v1"));
    await waitStatus(ns, "model", (s) => s.phase === "Available", "v1 Available");
    await ns.kubectlOk(["apply", "-f", "-"], plainMdep("model", "scorer-v2"));
    const series = await servingSeries("model", "scorer-v2");
    await ns.kubectlOk(
      ["apply", "-f", "-"],
      monitorManifest("model", "model", "  actions: {rollback: true}"),
    );
    sendScorerTraffic(exporter, series, 3000, 3, 4, 0.5, 4);

    await waitDrift("model", (s) => s.lastActionResult?.includes("rollback") ?? false, "rollback asked");
    const undone = await waitStatus(ns, "model", (s) => s.stableVersion === "scorer-v1", "back on scorer-v1");
    expect(undone.lastHandledAction).toMatch(/^undo@drift-model-/);
    // The monitor now reads the version serving, which has no traffic: no second rollback.
    await waitDrift("model", (s) => s.verdict === "InsufficientData", "v1 has no traffic yet");
    const annotation = await ns.kubectlOk([
      "get",
      "mdep",
      "model",
      "-o",
      "jsonpath={.metadata.annotations.modelops\\.io/action}",
    ]);
    expect(annotation).toBe(undone.lastHandledAction);
  });

  it("reads the reference from a ConfigMap and the live distribution from a histogram the user names", async () => {
    const reference = JSON.stringify({
      features: [{ name: "x", type: "numeric", edges: SCORER_EDGES, fractions: [0.25, 0.25, 0.25, 0.25] }],
    });
    await ns.kubectlOk(["create", "configmap", "reference", `--from-literal=reference.json=${reference}`]);
    const version = scorerVersion("scorer-cm").replace(
      / {2}reference:[\s\S]*$/,
      "  reference:\n    configMapRef: {name: reference, key: reference.json}\n",
    );
    await ns.kubectlOk(["apply", "-f", "-"], `${version}---${plainMdep("custom", "scorer-cm")}`);
    await waitStatus(ns, "custom", (s) => s.phase === "Available", "Available");
    // Finer buckets than the reference: only the cumulative counts at its edges matter.
    const histogram = exporter.histogram("custom_x", { app: "custom" }, [0.5, 1, 1.5, 2, 2.5, 3, 3.5]);
    await new Promise((r) => setTimeout(r, 2500));
    const random = seeded(5);
    for (let i = 0; i < 1000; i++) histogram.observe(4 * random());
    const query = `sum by (le) (increase(custom_x_bucket{app="{{name}}"}[{{window}}]))`;
    const features = `  predictions: false\n  features: [{name: x, method: psi, query: '${query}'}]\n`;
    await ns.kubectlOk(["apply", "-f", "-"], monitorManifest("custom", "custom", features));
    const s = await waitDrift("custom", (x) => x.verdict === "NoDrift", "NoDrift");
    expect(s.features).toEqual([expect.objectContaining({ name: "x", method: "psi", status: "NoDrift" })]);
    expect(s.features?.[0]?.sampleSize).toBeGreaterThanOrEqual(1000);
  });

  it("says so when Prometheus cannot be read, and takes no action", async () => {
    const extra = `  prometheus: {address: "http://127.0.0.1:9"}\n${RETRAIN}`;
    await ns.kubectlOk(["apply", "-f", "-"], monitorManifest("blind", "steady", extra));
    const s = await waitDrift("blind", (x) => x.verdict === "Unknown", "Unknown");
    expect(s.conditions?.find((c) => c.type === "DriftDetected")).toMatchObject({
      status: "Unknown",
      reason: "QueryFailed",
    });
    expect(s.message).toMatch(/unreachable|did not answer/);
    await new Promise((r) => setTimeout(r, 2 * INTERVAL_S * 1000));
    expect(await jobsOf("blind")).toHaveLength(0);
    expect((await driftStatus("blind"))?.lastActionTime).toBeUndefined();
  });
});
