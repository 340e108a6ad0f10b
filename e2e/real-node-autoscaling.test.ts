// Story on the real node: the HorizontalPodAutoscaler the operator owns for
// an rps target is acted on by the real HPA controller
// (kube-controller-manager), which reads the proxies' client load from a
// real prometheus-adapter with the shipped rules, through the apiserver's
// aggregation layer, from the series Prometheus scraped off the real pods.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../hack/localcluster/kubectl.ts";
import { type RunningAdapter, startPrometheusAdapter } from "../hack/localcluster/prometheus-adapter.ts";
import { HPA_POD_METRICS } from "../operator/autoscaling/objects.ts";
import {
  onRealNode,
  type RealNodeWorld,
  report,
  STORY_RATE,
  startRealNodeWorld,
} from "./harness/real-node.ts";
import { mdepManifest } from "./harness/rollout.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** Requests per second per pod: the story's client needs ceil(20 / 4) = 5 pods, capped at maxReplicas. */
const TARGET_RPS = 4;
const MAX = 3;
/** A quantity as the HPA writes averageValue: "6666m" or "7". */
const quantity = (q: string) => (q.endsWith("m") ? Number(q.slice(0, -1)) / 1000 : Number(q));

let world: RealNodeWorld;
let adapter: RunningAdapter | undefined;
let dir: string;

beforeAll(async () => {
  world = await startRealNodeWorld("real-autoscaling");
  await world.apply(world.versionManifest("iris-v1", "1", "logreg"));
  const built = await promisify(execFile)("bash", [join(root, "hack/prometheus-adapter.sh")]);
  dir = mkdtempSync(join(tmpdir(), "modelops-adapter-"));
  adapter = await startPrometheusAdapter({
    binary: built.stdout.trim().split("\n").pop() ?? "",
    dir,
    kubeconfig: inject("kubeconfig"),
    binDir: inject("binDir"),
    prometheusUrl: world.prom.url,
    namespace: world.ns.name,
    log: console.log,
  });
}, 1_800_000);

afterAll(async () => {
  await adapter?.stop();
  await world?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type Hpa = {
  status?: {
    desiredReplicas?: number;
    currentMetrics?: Array<{
      type: string;
      pods?: { metric: { name: string }; current: { averageValue?: string } };
    }>;
  };
};

describe("on a real node", () => {
  it("an rps target under real load is scaled from 1 to 3 pods by the HPA controller reading the proxies' client load through prometheus-adapter", async () => {
    const t0 = Date.now();
    const autoscaling = `
autoscaling:
  provider: hpa
  minReplicas: 1
  maxReplicas: ${MAX}
  targets: [{type: rps, averageValue: ${TARGET_RPS}}]`;
    await world.apply(mdepManifest("scaled", "iris-v1", "", 1, `${onRealNode}\n${autoscaling}`));
    await world.serving("scaled", "iris-v1");
    const client = await world.load("scaled");
    const loadedAt = Date.now();
    const replicas = async () =>
      (await world.ns.getJson<{ spec: { replicas?: number } }>("mdep", "scaled"))?.spec.replicas;
    await waitFor(async () => ((await replicas()) === MAX ? true : undefined), {
      timeoutMs: 180_000,
      intervalMs: 500,
      description: `the HPA scaling scaled to ${MAX}`,
    });
    const scaledAfter = (Date.now() - loadedAt) / 1000;
    const hpa = await world.ns.getJson<Hpa>("hpa", "scaled");
    const served = JSON.parse(
      await world.ns.kubectlOk([
        "get",
        "--raw",
        `/apis/custom.metrics.k8s.io/v1beta2/namespaces/${world.ns.name}/pods/*/${HPA_POD_METRICS.rps}`,
      ]),
    ) as { items: Array<{ describedObject: { name: string }; value: string }> };
    const ready = await world.serving("scaled", "iris-v1");
    const stats = await world.stopLoad(client);
    report("autoscaling", stats, t0);
    const measured = hpa?.status?.currentMetrics?.[0];
    console.log(
      `[story] autoscaling: 1 -> ${MAX} pods ${scaledAfter.toFixed(0)}s after the load started; the HPA read ${measured?.pods?.current.averageValue} rps per pod; the adapter served ${served.items.map((i) => `${i.describedObject.name}=${i.value}`).join(", ")}`,
    );
    // The HPA's reading is the adapter's pods metric, above the target per pod.
    expect(measured?.type).toBe("Pods");
    expect(measured?.pods?.metric.name).toBe(HPA_POD_METRICS.rps);
    expect(quantity(measured?.pods?.current.averageValue ?? "0")).toBeGreaterThan(TARGET_RPS);
    expect(hpa?.status?.desiredReplicas).toBe(MAX);
    // The adapter serves one value per pod of the ModelDeployment.
    expect(served.items.length).toBeGreaterThanOrEqual(1);
    expect(served.items.every((i) => i.describedObject.name.startsWith("scaled-"))).toBe(true);
    expect(ready.readyReplicas).toBe(MAX);
    expect(stats.failures).toEqual([]);
    expect(stats.sent).toBeGreaterThan(STORY_RATE * 10);
  }, 600_000);
});
