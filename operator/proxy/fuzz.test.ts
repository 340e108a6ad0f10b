// Random and malformed payloads through the real proxy (its own process, as
// in the pod; the parser's own fuzzing is in src/payload.rs and src/grpc.rs,
// `cargo test`): V1/V2 bodies with wrong types, huge
// shapes, deep nesting and binary junk, answered by a stand-in model server
// with random statuses and equally hostile bodies. The proxy must never
// crash, must answer exactly what the model server answered (status, body and
// its headers; the one header the proxy adds names the revision), and its
// memory must stay bounded (figures printed).
import { createServer, type IncomingMessage, type Server } from "node:http";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { REVISION_HEADER } from "../api/contract.ts";
import { closeAll, proxy, residentMiB, sample, serveOnLoopback } from "./test-servers.ts";

afterEach(closeAll);

const deep = (depth: number, leaf: string) => `${"[".repeat(depth)}${leaf}${"]".repeat(depth)}`;
const scalar = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.string({ maxLength: 8 }),
  fc.boolean(),
  fc.constant(null),
);
const shape = fc.array(fc.oneof(fc.nat(4), fc.constantFrom(0, -1, 1.5, 1e9, 2 ** 53, "3")), { maxLength: 4 });
const data = fc.oneof(
  fc.array(scalar, { maxLength: 12 }),
  fc.array(fc.array(scalar, { maxLength: 4 }), { maxLength: 4 }),
  scalar,
  fc.jsonValue({ maxDepth: 4 }),
);
const tensor = fc.record(
  {
    name: fc.oneof(fc.constantFrom("x", "label", "predict", "input-0"), fc.string(), fc.integer()),
    shape,
    data,
    datatype: fc.string(),
  },
  { requiredKeys: [] },
);
/** A body as JSON text: mostly protocol-shaped, with every kind of wrongness. */
const jsonBody = fc.oneof(
  fc.record({ inputs: fc.array(tensor, { maxLength: 3 }) }).map((v) => JSON.stringify(v)),
  fc.record({ outputs: fc.array(tensor, { maxLength: 3 }) }).map((v) => JSON.stringify(v)),
  fc
    .record({
      instances: fc.array(fc.oneof(scalar, fc.array(scalar), fc.dictionary(fc.string(), scalar)), {
        maxLength: 6,
      }),
    })
    .map((v) => JSON.stringify(v)),
  fc
    .record({ predictions: fc.array(fc.oneof(scalar, fc.array(scalar)), { maxLength: 6 }) })
    .map((v) => JSON.stringify(v)),
  fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.stringify(v)),
  fc
    .nat(3)
    .map(
      (i) =>
        [
          `{"inputs":[{"name":"x","shape":[1],"data":${deep(5_000, "1")}}]}`,
          `{"instances":${deep(5_000, "")}}`,
          `{"outputs":[{"name":"x","shape":[0, 1000000000],"data":[]}]}`,
          `{"__proto__":{"inputs":1},"inputs":[{"name":"__proto__","shape":[1],"data":[1]}]}`,
        ][i] as string,
    ),
);
const body = fc.oneof(
  { weight: 4, arbitrary: jsonBody.map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: jsonBody.map((s) => Buffer.from(s.slice(0, Math.floor(s.length / 2)))) },
);
/** A stand-in model server answering each request with the status and body the test chose for it. */
async function scriptedModel(answers: Answers): Promise<string> {
  const server: Server = createServer((req: IncomingMessage, res) => {
    req.resume();
    req.on("end", () => {
      const id = req.headers["x-fuzz-id"];
      // Shadow copies carry no test headers: they get junk the proxy must survive.
      const a = answers.get(String(id)) ?? {
        status: 200,
        body: Buffer.from(`{"outputs":${deep(3_000, "1")}}`),
      };
      res.writeHead(a.status, { "content-type": "application/octet-stream", "x-model": "stand-in" });
      res.end(a.body);
    });
  });
  return serveOnLoopback(server);
}

const exchange = fc.record({
  path: fc.constantFrom(
    "/v2/models/iris/infer",
    "/v1/models/iris:predict",
    "/v2/models/iris/versions/1/infer",
    "/v2/models/iris",
    "/x",
  ),
  status: fc.constantFrom(200, 200, 200, 201, 400, 404, 422, 500, 503),
  request: body,
  answer: body,
});

type Exchange = { path: string; status: number; request: Buffer; answer: Buffer };
type Answers = Map<string, { status: number; body: Buffer }>;

/**
 * Sends every exchange through the proxy, `concurrency` at a time; returns how
 * many matched exactly: the model's status, body and headers, and the
 * revision header the proxy adds (testConfig's revision).
 */
async function run(
  port: number,
  cases: Array<Exchange>,
  answers: Answers,
  concurrency: number,
  onProgress: () => void,
) {
  let next = 0;
  let exact = 0;
  const mismatches: string[] = [];
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      const c = cases[i] as Exchange;
      answers.set(String(i), { status: c.status, body: c.answer });
      const res = await fetch(`http://127.0.0.1:${port}${c.path}`, {
        method: "POST",
        body: c.request,
        headers: { "x-fuzz-id": String(i) },
      });
      const got = Buffer.from(await res.arrayBuffer());
      answers.delete(String(i));
      const headers = [
        res.headers.get("content-type"),
        res.headers.get("x-model"),
        res.headers.get(REVISION_HEADER),
      ].join(" ");
      const expected = "application/octet-stream stand-in r1";
      if (res.status === c.status && got.equals(c.answer) && headers === expected) exact++;
      else if (mismatches.length < 3)
        mismatches.push(`${c.path} ${c.status}->${res.status} headers ${headers} (want ${expected})`);
      if (i % 500 === 0) onProgress();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { exact, mismatches };
}

describe("modelops-proxy under fuzzing", () => {
  it("answers 10,000 hostile exchanges exactly as the model server did, in bounded memory", async () => {
    const answers: Answers = new Map();
    const model = await scriptedModel(answers);
    const p = await proxy({ upstream: model, shadow: { url: model, percent: 100 } });
    const cases = fc.sample(exchange, { numRuns: 10_000, seed: 42 });
    const t0 = performance.now();
    const warm = await run(p.port, cases.slice(0, 1_000), answers, 32, () => {});
    const atWarm = residentMiB(p.pid);
    let highest = atWarm.rss;
    const rest = await run(p.port, cases.slice(1_000), answers, 32, () => {
      highest = Math.max(highest, residentMiB(p.pid).rss);
    });
    const seconds = (performance.now() - t0) / 1000;
    const end = residentMiB(p.pid);
    console.log(
      `fuzz: 10000 exchanges in ${seconds.toFixed(1)} s (${Math.round(10_000 / seconds)}/s, 32 concurrent); ` +
        `proxy RSS after 1000: ${atWarm.rss.toFixed(1)} MiB, highest sampled after: ${highest.toFixed(1)} MiB, ` +
        `at end: ${end.rss.toFixed(1)} MiB, peak (VmHWM): ${end.peak.toFixed(1)} MiB`,
    );
    expect(p.alive()).toBe(true);
    expect(warm.mismatches.concat(rest.mismatches)).toEqual([]);
    expect(warm.exact + rest.exact).toBe(10_000);
    // Bounded: 9,000 more requests do not grow the proxy beyond noise.
    expect(end.rss - atWarm.rss).toBeLessThan(48);
    expect(end.peak).toBeLessThan(256); // the sidecar's memory limit
    expect(await sample(p, "modelops_proxy_buffered_bytes")).toBe(0);
    expect(await sample(p, "modelops_proxy_inflight_requests")).toBe(0);
  }, 60_000);

  it("answers large bodies exactly, keeping copies within maxBufferedBytes", async () => {
    const answers: Answers = new Map();
    const model = await scriptedModel(answers);
    const limit = 8 << 20;
    const p = await proxy({ upstream: model, maxBufferedBytes: limit });
    const big = (n: number, seed: number) =>
      Buffer.from(
        JSON.stringify({
          inputs: [{ name: "x", shape: [n, 1], data: Array.from({ length: n }, (_, i) => (i * seed) % 97) }],
        }),
      );
    const cases: Exchange[] = Array.from({ length: 24 }, (_, i) => ({
      path: "/v2/models/iris/infer",
      status: 200,
      request: big(300_000, i + 1), // about 1.5 MiB each way
      answer: big(300_000, i + 2),
    }));
    const t0 = performance.now();
    const before = residentMiB(p.pid);
    let highest = before.rss;
    let buffered = 0;
    const sampler = setInterval(() => {
      highest = Math.max(highest, residentMiB(p.pid).rss);
      void sample(p, "modelops_proxy_buffered_bytes").then((b) => {
        buffered = Math.max(buffered, b);
      });
    }, 20);
    const result = await run(p.port, cases, answers, 12, () => {});
    clearInterval(sampler);
    const end = residentMiB(p.pid);
    console.log(
      `large bodies: 24 x 1.5 MiB each way, 12 concurrent, in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
        `proxy RSS ${before.rss.toFixed(1)} -> highest ${highest.toFixed(1)} MiB, peak (VmHWM) ${end.peak.toFixed(1)} MiB; ` +
        `highest buffered seen ${(buffered / 2 ** 20).toFixed(1)} MiB of ${limit / 2 ** 20} MiB`,
    );
    expect(result.mismatches).toEqual([]);
    expect(result.exact).toBe(24);
    expect(buffered).toBeLessThanOrEqual(limit);
    expect(await sample(p, "modelops_proxy_unparsed_payloads_total", 'part="request"')).toBeGreaterThan(0);
    // Copies are parsed after their answers, off the answers' path, and released once parsed.
    await expect.poll(() => sample(p, "modelops_proxy_buffered_bytes")).toBe(0);
    expect(p.alive()).toBe(true);
  }, 30_000);
});
