// Autoscaling that never fights a rollout: the HPA and the builtin
// autoscaler both change the ModelDeployment's total through its scale
// subresource, and the operator splits the total between revisions.
import { execFile } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { FixtureExporter } from "../hack/localcluster/exporter.ts";
import { waitFor } from "../hack/localcluster/kubectl.ts";
import { queryValue } from "../hack/localcluster/prometheus.ts";
import { INFLIGHT_REQUESTS, MIRRORED_INFLIGHT_REQUESTS } from "../operator/api/metric-names.ts";
import { metricValue } from "../operator/runtime/metrics.ts";
import { auditEvents } from "./harness/audit.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { type Observed, startObserved } from "./harness/observed.ts";
import { mdepManifest, type RolloutStatus, revisionTraffic, waitStatus } from "./harness/rollout.ts";

let ns: TestNamespace;
let observed: Observed;
let exporter: FixtureExporter;

function withAutoscaling(manifest: string, autoscaling: string): string {
  return `${manifest}  autoscaling:\n${autoscaling
    .trim()
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n")}\n`;
}

/** The requests in flight the proxy of one revision would report. */
function inflight(mdep: string, s: RolloutStatus, which: "stable" | "canary") {
  const revision = (which === "stable" ? s.stableRevision : s.canaryRevision) as string;
  const version = (which === "stable" ? s.stableVersion : s.canaryVersion) as string;
  return exporter.gauge(INFLIGHT_REQUESTS, { namespace: ns.name, deployment: mdep, revision, version });
}

async function replicasOf(mdep: string, revision: string | undefined): Promise<number | undefined> {
  const selector = `modelops.io/deployment=${mdep},modelops.io/revision=${revision}`;
  const out = await ns.kubectlOk([
    "get",
    "deploy",
    "-l",
    selector,
    "-o",
    "jsonpath={.items[0].spec.replicas}",
  ]);
  return out === "" ? undefined : Number(out);
}

async function specReplicas(name: string): Promise<number> {
  return Number(await ns.kubectlOk(["get", "mdep", name, "-o", "jsonpath={.spec.replicas}"]));
}

/** The range of spec.replicas seen while watching for `ms`: a change in between shows. */
async function replicasOver(name: string, ms: number): Promise<{ min: number; max: number }> {
  const seen: number[] = [];
  for (const end = Date.now() + ms; Date.now() < end; await sleep(1000)) seen.push(await specReplicas(name));
  return { min: Math.min(...seen), max: Math.max(...seen) };
}

const autoscalerReady = (s: RolloutStatus) => s.conditions?.find((c) => c.type === "AutoscalerReady");

/** The Events with `reason` about a ModelDeployment, each with how often it was recorded. */
async function eventCounts(object: string, reason: string): Promise<number[]> {
  const out = await ns.kubectlOk([
    "get",
    "events",
    "-o",
    "json",
    "--field-selector",
    `involvedObject.name=${object},reason=${reason}`,
  ]);
  const items = (JSON.parse(out) as { items: { series?: { count?: number } }[] }).items;
  return items.map((e) => e.series?.count ?? 1);
}

function autoscalerGauge(name: string, labels: Record<string, string>) {
  return metricValue(observed.operator.registry, name, { namespace: ns.name, ...labels });
}

const builtin = `
provider: builtin
minReplicas: 1
maxReplicas: 8
stableWindow: 8s
panicWindow: 3s
targets: [{type: concurrency, averageValue: 2}]`;

describe("autoscaling", () => {
  beforeAll(async () => {
    ns = await createTestNamespace("scale", inject("kubeconfig"), inject("binDir"));
    await ns.applySampleVersions();
    observed = await startObserved({
      namespace: ns.name,
      binDir: inject("binDir"),
      kubeconfig: inject("operatorKubeconfig"),
    });
    exporter = observed.exporter;
  });
  afterAll(async () => {
    await observed?.stop();
    await ns?.delete();
  });

  it("hpa: an HPA on the scale subresource that the real HPA controller acts on", async () => {
    const manifest = withAutoscaling(
      mdepManifest("withhpa", "iris-classifier-v1", "canary:\n  steps: [{setWeight: 50}]", 1),
      "provider: hpa\nminReplicas: 3\nmaxReplicas: 6\ntargets: [{type: cpu, averageUtilization: 70}]\nscaleDown: {stabilizationWindowSeconds: 60}",
    );
    await ns.kubectlOk(["apply", "-f", "-"], manifest);
    const hpa = await waitFor(
      () => ns.getJson<{ spec: { scaleTargetRef: unknown; behavior?: unknown } }>("hpa", "withhpa"),
      {
        timeoutMs: 30_000,
        description: "the HPA",
      },
    );
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: "modelops.io/v1alpha1",
      kind: "ModelDeployment",
      name: "withhpa",
    });
    // The controller-manager's HPA controller reads the ModelDeployment's scale
    // subresource and raises it to minReplicas, with no metrics needed for that.
    await expect.poll(() => specReplicas("withhpa"), { timeout: 60_000, interval: 500 }).toBe(3);
    const s = await waitStatus(ns, "withhpa", (x) => x.phase === "Available", "3 pods ready");
    expect(await replicasOf("withhpa", s.stableRevision)).toBe(3);
    const able = await ns.kubectlOk([
      "get",
      "hpa",
      "withhpa",
      "-o",
      'jsonpath={.status.conditions[?(@.type=="AbleToScale")].status}',
    ]);
    expect(able).toBe("True");
  });

  it("keda: says KEDA is missing, then owns a ScaledObject the apiserver accepts once its CRD is installed", async () => {
    const manifest = withAutoscaling(
      mdepManifest("withkeda", "iris-classifier-v1", "canary:\n  steps: [{setWeight: 50}]", 1),
      "provider: keda\nminReplicas: 1\nmaxReplicas: 5\ntargets: [{type: rps, averageValue: 20}]",
    );
    await ns.kubectlOk(["apply", "-f", "-"], manifest);
    const ready = autoscalerReady;
    const missing = await waitStatus(
      ns,
      "withkeda",
      (s) => ready(s)?.reason === "KEDANotInstalled",
      "KEDANotInstalled",
    );
    expect(ready(missing)?.message).toContain("install KEDA");
    const crd = (await promisify(execFile)("bash", ["hack/keda-crds.sh"])).stdout.trim();
    await ns.kubectlOk(["apply", "--server-side", "-f", crd]);
    await ns.kubectlOk(["wait", "--for=condition=Established", "crd/scaledobjects.keda.sh", "--timeout=60s"]);
    try {
      await ns.kubectlOk(["annotate", "mdep", "withkeda", "touched=1"]); // rather than wait for the recheck
      type ScaledObject = {
        spec: { scaleTargetRef: unknown; triggers: { metadata: Record<string, string> }[] };
      };
      const so = await waitFor(() => ns.getJson<ScaledObject>("scaledobject", "withkeda"), {
        timeoutMs: 30_000,
        description: "the ScaledObject",
      });
      expect(so.spec.scaleTargetRef).toEqual({
        apiVersion: "modelops.io/v1alpha1",
        kind: "ModelDeployment",
        name: "withkeda",
      });
      expect(so.spec.triggers[0]?.metadata.query).toContain("modelops_proxy_requests_total");
      await waitStatus(ns, "withkeda", (s) => ready(s)?.status === "True", "AutoscalerReady");
    } finally {
      await ns.kubectlOk(["delete", "mdep", "withkeda"]);
      await ns.kubectl(["delete", "crd", "scaledobjects.keda.sh", "--wait=false"]);
    }
  });

  it("builtin: scales up on load and back down after its windows", async () => {
    await ns.kubectlOk(
      ["apply", "-f", "-"],
      withAutoscaling(
        mdepManifest("auto", "iris-classifier-v1", "canary:\n  steps: [{setWeight: 50}]", 1),
        builtin,
      ),
    );
    const s = await waitStatus(ns, "auto", (x) => x.phase === "Available", "Available");
    const load = inflight("auto", s, "stable");
    load.set(9); // 9 in flight at 2 per pod: 5 pods
    await expect.poll(() => specReplicas("auto"), { timeout: 30_000, interval: 500 }).toBe(5);
    await expect.poll(() => replicasOf("auto", s.stableRevision), { timeout: 10_000 }).toBe(5);
    await expect.poll(() => ns.eventMessages("auto", "Scaled")).toContain("1 → 5");
    load.set(2);
    await expect.poll(() => specReplicas("auto"), { timeout: 60_000, interval: 1000 }).toBe(1);
  });

  it("during a canary, scaling moves both revisions and never shrinks stable; promotion keeps the load's size", async () => {
    const strategy = "canary:\n  steps:\n    - setWeight: 50\n    - pause: {}";
    await ns.kubectlOk(
      ["apply", "-f", "-"],
      withAutoscaling(mdepManifest("split", "iris-classifier-v1", strategy, 1), builtin),
    );
    const v1 = await waitStatus(ns, "split", (x) => x.phase === "Available", "v1 Available");
    const stableLoad = inflight("split", v1, "stable");
    stableLoad.set(5); // 3 pods
    await expect.poll(() => specReplicas("split"), { timeout: 30_000, interval: 500 }).toBe(3);
    await ns.kubectlOk(
      ["apply", "-f", "-"],
      withAutoscaling(mdepManifest("split", "iris-classifier-v2", strategy, 3), builtin),
    );
    const paused = await waitStatus(ns, "split", (x) => x.pauseReason === "PauseStep", "canary at 50%");
    expect(await replicasOf("split", paused.stableRevision)).toBe(3);
    expect(await replicasOf("split", paused.canaryRevision)).toBe(3);
    stableLoad.set(6);
    inflight("split", paused, "canary").set(5); // 11 in flight: 6 pods
    await expect.poll(() => specReplicas("split"), { timeout: 30_000, interval: 500 }).toBe(6);
    await expect.poll(() => replicasOf("split", paused.stableRevision), { timeout: 10_000 }).toBe(6);
    expect(await replicasOf("split", paused.canaryRevision)).toBe(6);
    await ns.kubectlOk(["annotate", "mdep", "split", "modelops.io/action=promote@1", "--overwrite"]);
    const promoted = await waitStatus(
      ns,
      "split",
      (x) => x.stableVersion === "iris-classifier-v2",
      "promoted",
    );
    expect(await replicasOf("split", promoted.stableRevision)).toBe(6);
  });
  it("builtin: at steady load it writes nothing, status included", async () => {
    const rps = builtin.replace("{type: concurrency, averageValue: 2}", "{type: rps, averageValue: 10}");
    await ns.kubectlOk(
      ["apply", "-f", "-"],
      withAutoscaling(
        mdepManifest("steady", "iris-classifier-v1", "canary:\n  steps: [{setWeight: 50}]", 1),
        rps,
      ),
    );
    const s = await waitStatus(ns, "steady", (x) => x.phase === "Available", "Available");
    // Real traffic: rate() over the window moves a little at every evaluation.
    revisionTraffic(exporter, ns, "steady", s.stableRevision as string, s.stableVersion as string, {
      rps: 25,
    });
    await expect.poll(() => specReplicas("steady"), { timeout: 30_000, interval: 500 }).toBe(3);
    await waitStatus(
      ns,
      "steady",
      (x) => x.readyReplicas === 3 && x.autoscaling?.panicUntil === undefined,
      "3 pods ready, the burst over",
    );
    await sleep(4000); // the last write's own watch event is reconciled
    const since = new Date();
    await sleep(30_000);
    const until = new Date();
    await sleep(1000); // the audit log has every request of the window
    const writes = auditEvents(inject("auditLogPath"), { since, until }).filter(
      (e) => e.objectRef?.namespace === ns.name && (e.objectRef.name ?? "").startsWith("steady"),
    );
    console.log(`[autoscaling] steady load: ${writes.length} write(s) in 30 s`);
    expect(writes.map((e) => `${e.verb} ${e.requestURI}`)).toEqual([]);
    expect(await specReplicas("steady")).toBe(3);
  });

  it("builtin: a shadow's mirrored requests are not load", async () => {
    const strategy = "shadow:\n  mirrorPercent: 100\n  duration: 10m";
    await ns.kubectlOk(
      ["apply", "-f", "-"],
      withAutoscaling(mdepManifest("mirror", "iris-classifier-v1", strategy, 1), builtin),
    );
    const v1 = await waitStatus(ns, "mirror", (x) => x.phase === "Available", "v1 Available");
    inflight("mirror", v1, "stable").set(5); // 5 in flight at 2 per pod: 3 pods
    await expect.poll(() => specReplicas("mirror"), { timeout: 30_000, interval: 500 }).toBe(3);
    await ns.kubectlOk(
      ["apply", "-f", "-"],
      withAutoscaling(mdepManifest("mirror", "iris-classifier-v2", strategy, 3), builtin),
    );
    const mirroring = await waitStatus(
      ns,
      "mirror",
      (x) => x.canaryRevision !== undefined && (x.trafficMessage ?? "").includes("mirrored"),
      "mirroring to the shadow",
    );
    // What the shadow's proxy reports: a copy of every request in flight, all of them mirrored.
    const shadow = {
      namespace: ns.name,
      deployment: "mirror",
      revision: mirroring.canaryRevision as string,
      version: mirroring.canaryVersion as string,
    };
    exporter.gauge(INFLIGHT_REQUESTS, shadow).set(5);
    exporter.gauge(MIRRORED_INFLIGHT_REQUESTS, shadow).set(5);
    const scraped = `${MIRRORED_INFLIGHT_REQUESTS}{namespace="${ns.name}",deployment="mirror"}`;
    await expect.poll(() => queryValue(observed.prom.url, scraped), { timeout: 15_000 }).toBe(5);
    // A stable window (8 s) and more after Prometheus has the copies: clients still send 5, so 3 pods.
    expect((await replicasOver("mirror", 12_000)).max).toBe(3);
    expect(await autoscalerGauge("modelops_autoscaler_metric_value", { name: "mirror" })).toBeCloseTo(5, 1);
  });

  it("builtin: forgets its gauges when the ModelDeployment is deleted", async () => {
    await ns.kubectlOk(
      ["apply", "-f", "-"],
      withAutoscaling(
        mdepManifest("gone", "iris-classifier-v1", "canary:\n  steps: [{setWeight: 50}]", 1),
        builtin,
      ),
    );
    const s = await waitStatus(ns, "gone", (x) => x.phase === "Available", "Available");
    inflight("gone", s, "stable").set(1);
    const desired = () => autoscalerGauge("modelops_autoscaler_desired_replicas", { name: "gone" });
    const measured = () => autoscalerGauge("modelops_autoscaler_metric_value", { name: "gone" });
    await expect.poll(desired, { timeout: 30_000 }).toBe(1);
    await expect.poll(measured, { timeout: 30_000 }).toBe(1);
    await ns.kubectlOk(["delete", "mdep", "gone"]);
    await expect.poll(desired, { timeout: 30_000 }).toBeUndefined();
    expect(await measured()).toBeUndefined();
  });

  // Last: it takes the fixture's series away from Prometheus, then stops Prometheus.
  it("builtin: holds the current size, and says why once, when metrics vanish or Prometheus is unreachable", async () => {
    await ns.kubectlOk(
      ["apply", "-f", "-"],
      withAutoscaling(
        mdepManifest("hold", "iris-classifier-v1", "canary:\n  steps: [{setWeight: 50}]", 1),
        builtin,
      ),
    );
    const s = await waitStatus(ns, "hold", (x) => x.phase === "Available", "Available");
    inflight("hold", s, "stable").set(9); // 5 pods
    await expect.poll(() => specReplicas("hold"), { timeout: 30_000, interval: 500 }).toBe(5);

    await observed.prom.reloadTargets([]); // every series goes stale: queries return nothing
    // Past the stable window and the scale-down delay (8 s each): an empty result is not zero load.
    expect((await replicasOver("hold", 20_000)).min).toBe(5);
    const noData = await waitStatus(
      ns,
      "hold",
      (x) => autoscalerReady(x)?.reason === "MetricsUnavailable",
      "MetricsUnavailable",
    );
    expect(autoscalerReady(noData)?.status).toBe("False");
    expect(autoscalerReady(noData)?.message).toContain("no series");
    expect(noData.autoscaling?.message).toContain("holding 5");

    await observed.prom.stop();
    const unreachable = await waitStatus(
      ns,
      "hold",
      (x) => (autoscalerReady(x)?.message ?? "").includes("unreachable"),
      "Prometheus unreachable",
    );
    expect(autoscalerReady(unreachable)?.reason).toBe("MetricsUnavailable");
    expect((await replicasOver("hold", 10_000)).min).toBe(5);
    // One Event for the whole episode, not one per evaluation.
    expect(await eventCounts("hold", "MetricsUnavailable")).toEqual([1]);
  });
});
