// Stories on the real node about what the proxies measure from real
// requests: shadow agreement between two real models, and drift in the
// features clients send, acted on by a DriftMonitor's rollback.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inferBody, irisRow, seededRandom } from "../hack/localcluster/load-generator.ts";
import { queryValue } from "../hack/localcluster/prometheus.ts";
import { SHADOW_AGREEMENT_TOTAL } from "../operator/api/metric-names.ts";
import { DEFAULT_MAX_CONNECTION_AGE_MS } from "../operator/api/proxy-config.ts";
import { POD_START_MS, type RealNodeWorld, startRealNodeWorld } from "./harness/real-node.ts";
import { waitStatus } from "./harness/rollout.ts";

/** No strategy: a new version takes over once its pods are ready. */
const SWITCH_WHEN_READY = "";

let world: RealNodeWorld;

beforeAll(async () => {
  world = await startRealNodeWorld("real-traffic");
  await world.apply(
    [world.versionManifest("iris-v1", "1", "logreg"), world.versionManifest("iris-v2", "2", "tree")].join(
      "\n---\n",
    ),
  );
}, 1_800_000);

afterAll(async () => {
  await world?.stop();
});

async function promValue(query: string): Promise<number> {
  return (await queryValue(world.prom.url, query)) ?? 0;
}

/** The class a model answers for one row, asked through a Service as a client would. */
async function predict(url: string, row: number[]): Promise<number> {
  const res = await fetch(`${url}/v2/models/iris/infer`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: inferBody(row),
  });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const body = (await res.json()) as { outputs: Array<{ data: number[] }> };
  return Number(body.outputs[0]?.data[0]);
}

describe("on a real node", () => {
  it("shadow on the replicas router: real mirrored requests, and the agreement metrics match how often v1 and v2 really agree", async () => {
    const t0 = Date.now();
    const strategy = "shadow:\n  mirrorPercent: 100\n  duration: 10m";
    await world.apply(world.deployment("shadow", "iris-v1", strategy));
    const v1 = await world.serving("shadow", "iris-v1");
    const client = await world.load("shadow");
    await world.apply(world.deployment("shadow", "iris-v2", strategy));
    const mirroring = await waitStatus(
      world.ns,
      "shadow",
      (s) => s.stage === "Mirroring",
      "mirroring",
      POD_START_MS,
    );
    const selector = `namespace="${world.ns.name}",deployment="shadow",revision="${v1.stableRevision}"`;
    const compared = () => promValue(`sum(${SHADOW_AGREEMENT_TOTAL}{${selector}})`);
    const deadline = Date.now() + 120_000;
    while ((await compared()) < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1000));
    const agree = await promValue(`sum(${SHADOW_AGREEMENT_TOTAL}{${selector},result="agree"})`);
    const total = await compared();
    const stats = await world.stopLoad(client);

    // Ground truth: the same kind of rows, asked of each model directly (stable
    // Service: v1 only; canary Service: the shadow only).
    const [stableUrl, shadowUrl] = [
      await world.serviceUrl("shadow"),
      await world.serviceUrl("shadow-canary"),
    ];
    const rand = seededRandom(7);
    let same = 0;
    const rows = 300;
    for (let i = 0; i < rows; i++) {
      const row = irisRow(rand);
      if ((await predict(stableUrl, row)) === (await predict(shadowUrl, row))) same++;
    }
    const measured = agree / total;
    const truth = same / rows;
    console.log(
      `[story] shadow: ${((Date.now() - t0) / 1000).toFixed(0)}s, requests sent ${stats.sent}, failed ${stats.failed}; proxies compared ${total} mirrored predictions, agreement ${measured.toFixed(3)}; asked directly: ${truth.toFixed(3)} of ${rows}`,
    );
    expect(mirroring.canaryWeight).toBe(0);
    expect(stats.failures).toEqual([]);
    // Clients were answered by v1 only: the shadow's answers never reach them.
    expect(Object.keys(stats.byRevision)).toEqual([v1.stableRevision]);
    expect(total).toBeGreaterThanOrEqual(300);
    // A depth-1 tree cannot tell two of the three species apart: they disagree on a real share.
    expect(truth).toBeGreaterThan(0.3);
    expect(truth).toBeLessThan(0.9);
    expect(Math.abs(measured - truth)).toBeLessThan(0.1);
  }, 900_000);

  it("drift: clients' petal_length shifts, the DriftMonitor reads the proxies' real histograms, goes Critical and rolls back with zero failed requests", async () => {
    const t0 = Date.now();
    await world.apply(world.deployment("drift", "iris-v1", SWITCH_WHEN_READY));
    const v1 = await world.serving("drift", "iris-v1");
    await world.apply(world.deployment("drift", "iris-v2", SWITCH_WHEN_READY));
    const v2 = await world.serving("drift", "iris-v2");
    const client = await world.load("drift");
    await world.ns.kubectlOk(
      ["apply", "-f", "-"],
      `
apiVersion: modelops.io/v1alpha1
kind: DriftMonitor
metadata: {name: drift}
spec:
  targetRef: {name: drift}
  interval: 5s
  window: 1m
  minSampleSize: 200
  predictions: false
  features:
  - {name: petal_length, method: psi, warning: 0.1, critical: 0.25}
  actions:
    rollback: true
`,
    );
    type Monitor = {
      status?: { verdict?: string; sampleSize?: number; features?: Array<{ score?: number }> };
    };
    const monitor = () => world.ns.getJson<Monitor>("driftmonitor", "drift");
    const waitVerdict = async (ok: (v: string | undefined) => boolean, what: string) => {
      const deadline = Date.now() + 120_000;
      for (;;) {
        const m = await monitor();
        if (ok(m?.status?.verdict)) return m?.status;
        if (Date.now() > deadline)
          throw new Error(`DriftMonitor never ${what}: ${JSON.stringify(m?.status)}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    };
    const before = await waitVerdict((v) => v !== undefined && v !== "InsufficientData", "had a verdict");
    client.shift(2, 3);
    const shiftedAt = Date.now();
    const critical = await waitVerdict((v) => v === "Critical", "went Critical");
    const criticalAfter = (Date.now() - shiftedAt) / 1000;
    // The rollback action is the SRE's undo: v1 serving once its pods are ready.
    const back = await world.servingAgain("drift", "iris-v1");
    // v2 stays warm for a while; clients leave it as their connections are recycled.
    await new Promise((r) => setTimeout(r, DEFAULT_MAX_CONNECTION_AGE_MS + 3000));
    const stats = await world.stopLoad(client);
    console.log(
      `[story] drift: ${((Date.now() - t0) / 1000).toFixed(0)}s, requests sent ${stats.sent}, failed ${stats.failed}; before the shift ${before?.verdict} (psi ${before?.features?.[0]?.score}), Critical ${criticalAfter.toFixed(0)}s after it (psi ${critical?.features?.[0]?.score}, ${critical?.sampleSize} requests)`,
    );
    expect(before?.verdict).toBe("NoDrift");
    expect(back.lastHandledAction).toMatch(/^undo@drift-drift-/);
    expect(back.stableRevision).toBe(v1.stableRevision);
    expect(stats.failures).toEqual([]);
    expect(stats.byRevision[v2.stableRevision as string]).toBeGreaterThan(0);
    expect(stats.byRevision[v1.stableRevision as string]).toBeGreaterThan(0);
  }, 900_000);
});
