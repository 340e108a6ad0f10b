// modelops-proxy in front of a real model server: MLServer serving a
// scikit-learn LogisticRegression that the test trains (model A), with a
// depth-1 DecisionTree (model B) as the shadow. A known set of iris-like
// inputs goes through the proxy (run as its own process, as in the pod); a
// real Prometheus scrapes it; the feature histograms there must equal the
// bucket counts computed here, and the recorded agreement must equal what
// the two models answer when asked directly.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../hack/localcluster/kubectl.ts";
import {
  type Component,
  freePorts,
  pollUntil,
  startComponent,
  stopComponents,
  track,
  untrack,
} from "../hack/localcluster/procs.ts";
import {
  queryPrometheus,
  queryValue,
  type RunningPrometheus,
  startPrometheus,
} from "../hack/localcluster/prometheus.ts";
import { prepareModels, type RunningModelServer, startModelServer } from "../hack/model-server/mlserver.ts";
import { proxyBinary } from "../hack/proxy-binary.ts";
import { CONFIG_ENV, type ProxyConfigInput } from "../operator/api/proxy-config.ts";
import {
  type GrpcClient,
  grpcClient,
  type ModelInferRequest,
  type ModelInferResponse,
  rawFp64,
} from "../operator/proxy/grpc-test-client.ts";

const binDir = inject("binDir");
const FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"] as const;
const EDGES: Record<(typeof FEATURES)[number], number[]> = {
  sepal_length: [4.5, 5.5, 6.5, 7.5],
  sepal_width: [2.2, 2.8, 3.4, 4.0],
  petal_length: [1.5, 3, 4.5, 6],
  petal_width: [0.3, 1, 1.7, 2.4],
};
const RANGES: Array<[number, number]> = [
  [4, 8.2],
  [1.8, 4.6],
  [0.8, 7.2],
  [0, 2.7],
];

/** Deterministic rows spread over (and a little beyond) the training ranges. */
function knownRows(n: number): number[][] {
  let seed = 42;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  return Array.from({ length: n }, () =>
    RANGES.map(([lo, hi]) => Math.round((lo + next() * (hi - lo)) * 10) / 10),
  );
}

const v2Body = (rows: number[][], nested: boolean) =>
  JSON.stringify({
    inputs: [
      { name: "input-0", shape: [rows.length, 4], datatype: "FP64", data: nested ? rows : rows.flat() },
    ],
  });

async function predict(url: string, rows: number[][]): Promise<number[]> {
  const res = await fetch(`${url}/v2/models/iris/infer`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: v2Body(rows, false),
  });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { outputs: Array<{ data: number[] }> };
  return body.outputs[0]?.data ?? [];
}

/** The iris rows as one ModelInfer request: FP64 [n, 4], typed contents or raw little-endian bytes. */
function grpcInfer(rows: number[][], raw: boolean): ModelInferRequest {
  const input = { name: "input-0", datatype: "FP64", shape: [rows.length, 4] };
  return raw
    ? { model_name: "iris", inputs: [input], raw_input_contents: [rawFp64(rows.flat())] }
    : { model_name: "iris", inputs: [{ ...input, contents: { fp64_contents: rows.flat() } }] };
}

/** The predicted labels of a ModelInfer answer, whichever way MLServer encoded them. */
function grpcLabels(res: ModelInferResponse): number[] {
  const out = res.outputs[0];
  const raw = res.raw_output_contents?.[0];
  if (raw && raw.length > 0) {
    if (out?.datatype !== "INT64") throw new Error(`raw ${out?.datatype} output`);
    return Array.from({ length: raw.length / 8 }, (_, i) => Number(raw.readBigInt64LE(i * 8)));
  }
  return out?.contents?.int64_contents ?? out?.contents?.int_contents ?? [];
}

/** The reference bucket a value falls in, 0 .. edges.length - 2: (edge i, edge i+1], the outer ones open. */
function referenceBucket(edges: readonly number[], value: number): number {
  const last = edges.length - 2;
  for (let i = 0; i < last; i++) if (value <= (edges[i + 1] as number)) return i;
  return last;
}

let dir: string;
let modelA: RunningModelServer;
let modelB: RunningModelServer;
let proxy: Component;
let proxyUrl: string;
let prom: RunningPrometheus;

/** Each feature's histogram in Prometheus holds exactly the reference bucket counts of `rows`. */
async function expectFeatureHistograms(promUrl: string, revision: string, rows: number[][]): Promise<void> {
  for (const [f, name] of FEATURES.entries()) {
    const edges = EDGES[name];
    const perBucket = new Array(edges.length - 1).fill(0);
    for (const row of rows) perBucket[referenceBucket(edges, row[f] as number)]++;
    const expected = perBucket.map((_, i) => perBucket.slice(0, i + 1).reduce((a, b) => a + b, 0));
    // Compared as numbers: Prometheus may print a bound as "3" or "3.0".
    const les = [...edges.slice(1, -1), Number.POSITIVE_INFINITY];
    const got = await waitFor(
      async () => {
        const samples = await queryPrometheus(
          promUrl,
          `modelops_proxy_feature_value_bucket{feature="${name}",deployment="iris",revision="${revision}"}`,
        );
        const byLe = new Map(
          samples.map((s) => [
            s.metric.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(s.metric.le),
            s.value,
          ]),
        );
        const counts = les.map((le) => byLe.get(le));
        return counts[counts.length - 1] === rows.length ? { counts } : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, description: `histogram of ${name} (revision ${revision})` },
    );
    expect(got.counts, name).toEqual(expected);
  }
}

async function startProxyProcess(config: ProxyConfigInput): Promise<Component> {
  // startComponent passes this process's environment on: set the config just for the spawn.
  process.env[CONFIG_ENV] = JSON.stringify(config);
  const c = startComponent("modelops-proxy", proxyBinary(), [], join(dir, "proxy.log"));
  delete process.env[CONFIG_ENV];
  track([c]);
  const healthz = `http://127.0.0.1:${config.metricsPort}/healthz`;
  await pollUntil("modelops-proxy", async () => ((await fetch(healthz)).ok ? true : undefined), {
    timeoutMs: 20_000,
    watch: [c],
    log: () => {},
  });
  return c;
}

describe("modelops-proxy in front of MLServer", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "modelops-proxy-"));
    const { venv, modelsDir } = await prepareModels(dir);
    [modelA, modelB] = await Promise.all([
      startModelServer(venv, modelsDir, "logreg"),
      startModelServer(venv, modelsDir, "tree"),
    ]);
    const [listenPort, metricsPort] = (await freePorts(2)) as [number, number];
    proxy = await startProxyProcess({
      namespace: "ns1",
      deployment: "iris",
      revision: "abc123",
      version: "iris-v1",
      listenPort,
      metricsPort,
      upstream: modelA.url,
      signature: {
        inputs: FEATURES.map((name) => ({ name, type: "numeric" as const, datatype: "FP64" })),
        outputs: [{ name: "species", type: "categorical" }],
      },
      reference: {
        features: FEATURES.map((name) => ({ name, type: "numeric" as const, edges: EDGES[name] })),
        predictions: [{ name: "species", type: "categorical", categories: ["0", "1", "2"] }],
      },
      shadow: { url: modelB.url, percent: 100, maxConcurrent: 64 },
    });
    proxyUrl = `http://127.0.0.1:${listenPort}`;
    prom = await startPrometheus({ dir: join(dir, "prom"), binDir, targets: [`127.0.0.1:${metricsPort}`] });
  });

  afterAll(async () => {
    await prom?.stop();
    if (proxy) {
      await stopComponents([proxy], 5000);
      untrack([proxy]);
    }
    await modelA?.stop();
    await modelB?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("passes health and metadata through", async () => {
    expect((await fetch(`${proxyUrl}/v2/health/ready`)).status).toBe(200);
    const meta = (await (await fetch(`${proxyUrl}/v2/models/iris`)).json()) as { name: string };
    expect(meta.name).toBe("iris");
  });

  it("exports histograms of the inputs sent and agreement equal to the models' real answers", async () => {
    const rows = knownRows(120);
    const batchSizes = [1, 2, 5, 10, 20, 30, 52]; // sums to 120
    let offset = 0;
    for (const [i, size] of batchSizes.entries()) {
      const batch = rows.slice(offset, offset + size);
      offset += size;
      const res = await fetch(`${proxyUrl}/v2/models/iris/infer`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: v2Body(batch, i % 2 === 1),
      });
      expect(res.status).toBe(200);
    }
    expect(offset).toBe(rows.length);

    await expectFeatureHistograms(prom.url, "abc123", rows);

    const primary = await predict(modelA.url, rows);
    const shadow = await predict(modelB.url, rows);
    const agree = primary.filter((p, i) => p === shadow[i]).length;
    expect(agree).toBeGreaterThan(0);
    expect(agree).toBeLessThan(rows.length); // the depth-1 tree knows only two species
    const agreement = await waitFor(
      async () => {
        const a = await queryValue(prom.url, 'modelops_proxy_shadow_agreement_total{result="agree"}');
        const d = await queryValue(prom.url, 'modelops_proxy_shadow_agreement_total{result="disagree"}');
        return a !== undefined && d !== undefined && a + d === rows.length ? { a, d } : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, description: "agreement counters" },
    );
    expect(agreement).toEqual({ a: agree, d: rows.length - agree });

    for (const label of [0, 1, 2]) {
      const n = await queryValue(
        prom.url,
        `modelops_proxy_prediction_category_total{output="species",category="${label}"}`,
      );
      expect(n, `predicted ${label}`).toBe(primary.filter((p) => p === label).length);
    }
    expect(await queryValue(prom.url, 'modelops_proxy_requests_total{code="2xx"}')).toBe(batchSizes.length);
    expect(await queryValue(prom.url, 'sum(modelops_proxy_shadow_requests_total{result="sent"})')).toBe(
      batchSizes.length,
    );
    expect(await queryValue(prom.url, 'modelops_proxy_shadow_requests_total{result="dropped"}')).toBe(0);
  });

  it("forwards a malformed body to the model server and counts it as unparsed", async () => {
    const res = await fetch(`${proxyUrl}/v2/models/iris/infer`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"inputs": "nope"}',
    });
    // MLServer's own validation answers, not the proxy.
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const unparsed = await waitFor(
      async () => {
        const v = await queryValue(prom.url, 'modelops_proxy_unparsed_payloads_total{part="request"}');
        return v === 1 ? { v } : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, description: "unparsed request counted" },
    );
    expect(unparsed.v).toBe(1);
    expect(await queryValue(prom.url, 'modelops_proxy_requests_total{code="4xx"}')).toBe(1);
  });

  // A proxy of its own (and a Prometheus of its own), so the REST tests' exact counts stay theirs.
  describe("over gRPC", () => {
    let grpcProxy: Component;
    let grpcProm: RunningPrometheus;
    let viaProxy: GrpcClient;
    let direct: GrpcClient;

    beforeAll(async () => {
      const [listenPort, metricsPort] = (await freePorts(2)) as [number, number];
      grpcProxy = await startProxyProcess({
        namespace: "ns1",
        deployment: "iris",
        revision: "grpc1",
        version: "iris-v1",
        listenPort,
        metricsPort,
        upstream: modelA.url,
        grpcUpstream: `http://127.0.0.1:${modelA.grpcPort}`,
        signature: {
          inputs: FEATURES.map((name) => ({ name, type: "numeric" as const, datatype: "FP64" })),
          outputs: [{ name: "species", type: "categorical" }],
        },
        reference: {
          features: FEATURES.map((name) => ({ name, type: "numeric" as const, edges: EDGES[name] })),
          predictions: [{ name: "species", type: "categorical", categories: ["0", "1", "2"] }],
        },
      });
      grpcProm = await startPrometheus({
        dir: join(dir, "prom-grpc"),
        binDir,
        targets: [`127.0.0.1:${metricsPort}`],
      });
      viaProxy = grpcClient(listenPort);
      direct = grpcClient(modelA.grpcPort);
    });

    afterAll(async () => {
      viaProxy?.close();
      direct?.close();
      await grpcProm?.stop();
      if (grpcProxy) {
        await stopComponents([grpcProxy], 5000);
        untrack([grpcProxy]);
      }
    });

    it("passes ServerReady and ModelReady through and counts them as passthrough", async () => {
      expect((await viaProxy.serverReady()).response).toEqual({ ready: true });
      const ready = await viaProxy.modelReady("iris");
      expect(ready.response).toEqual({ ready: true });
      expect(ready.headers.get("x-modelops-revision")).toEqual(["grpc1"]);
      const passthrough = await waitFor(
        async () => {
          const v = await queryValue(grpcProm.url, 'modelops_proxy_passthrough_requests_total{code="2xx"}');
          return v === 2 ? { v } : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 500, description: "gRPC passthrough counted" },
      );
      expect(passthrough.v).toBe(2);
      expect(await queryValue(grpcProm.url, 'modelops_proxy_requests_total{code="2xx"}')).toBe(0);
    });

    it("answers ModelInfer as MLServer does and exports the inputs' histograms and the predictions", async () => {
      const rows = knownRows(60);
      const batchSizes = [1, 4, 10, 20, 25]; // sums to 60
      const predicted: number[] = [];
      let offset = 0;
      for (const [i, size] of batchSizes.entries()) {
        const request = grpcInfer(rows.slice(offset, offset + size), i % 2 === 1);
        offset += size;
        const proxied = await viaProxy.modelInfer(request);
        const mlserver = await direct.modelInfer(request);
        expect(proxied.response).toEqual(mlserver.response);
        expect(proxied.headers.get("x-modelops-revision")).toEqual(["grpc1"]);
        predicted.push(...grpcLabels(proxied.response));
      }
      expect(offset).toBe(rows.length);
      // The same model over REST gives the same labels.
      expect(predicted).toEqual(await predict(modelA.url, rows));

      await expectFeatureHistograms(grpcProm.url, "grpc1", rows);
      for (const label of [0, 1, 2]) {
        const n = await queryValue(
          grpcProm.url,
          `modelops_proxy_prediction_category_total{output="species",category="${label}"}`,
        );
        expect(n, `predicted ${label}`).toBe(predicted.filter((p) => p === label).length);
      }
      expect(await queryValue(grpcProm.url, 'modelops_proxy_requests_total{code="2xx"}')).toBe(
        batchSizes.length,
      );
    });
  });
});
