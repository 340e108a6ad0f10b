// The proxy's gRPC behaviour (Open Inference Protocol over h2c) against
// loopback grpc-js stand-in model servers: forwarding, metrics from
// ModelInfer (typed and raw tensor contents), status classes from
// grpc-status, passthrough of the readiness and metadata calls, a model
// server that is down, and shadow mirroring. MLServer's real gRPC server is
// in e2e/proxy.test.ts.
import { createServer } from "node:net";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { proxyBinary } from "../../hack/proxy-binary.ts";
import { REVISION_HEADER } from "../api/contract.ts";
import { SHADOW_HEADER } from "../api/proxy-config.ts";
import {
  CallFailed,
  type GrpcClient,
  type GrpcStub,
  grpc,
  grpcClient,
  grpcStub,
  type InferHandler,
  labelsResponse,
  StubStatus,
  xRequest,
} from "./grpc-test-client.ts";
import { closeAll, closers, metricsOf, proxy } from "./test-servers.ts";

// The first call may build the binary (minutes on a cold cache): not inside a test's time.
beforeAll(() => {
  proxyBinary();
}, 15 * 60_000);
afterEach(closeAll);

async function stub(handler: InferHandler): Promise<GrpcStub> {
  const s = await grpcStub(handler);
  closers.push(s.close);
  return s;
}

function client(port: number): GrpcClient {
  const c = grpcClient(port);
  closers.push(async () => c.close());
  return c;
}

/** The value of the series `name` whose labels include all of `labels` (in any order); NaN if none. */
async function series(
  p: { metricsPort: number },
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = (await metricsOf(p))
    .split("\n")
    .find((l) => l.startsWith(`${name}{`) && pairs.every((pair) => l.includes(pair)));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(" ") + 1));
}

/** Runs `call`, which must fail; returns how. */
async function failure(call: Promise<unknown>): Promise<CallFailed> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof CallFailed)) throw new Error(`expected a failed call, got ${String(err)}`);
  return err;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

describe("modelops-proxy gRPC", () => {
  it("answers ModelInfer exactly as the model server did, with the revision header", async () => {
    const model = await stub((req) => ({ ...labelsResponse(["a", "z"]), id: req.id ?? "" }));
    const p = await proxy({ grpcUpstream: model.url });
    const request = { ...xRequest([0.5, 1.5]), id: "req-7" };
    const direct = await client(model.port).modelInfer(request);
    const proxied = await client(p.port).modelInfer(request);
    expect(proxied.response).toEqual(direct.response);
    expect(proxied.response.id).toBe("req-7");
    expect(proxied.headers.get(REVISION_HEADER)).toEqual(["r1"]);
    // The model server received the proxied request as the client sent it.
    expect(model.calls.map((c) => c.method)).toEqual(["ModelInfer", "ModelInfer"]);
    expect(model.calls[1]?.request).toEqual(model.calls[0]?.request);
  });

  it("records features, predictions and a 2xx from a ModelInfer with typed tensor contents", async () => {
    const model = await stub(() => labelsResponse(["a", "z"]));
    const p = await proxy({ grpcUpstream: model.url });
    await client(p.port).modelInfer(xRequest([0.5, 1.5]));
    await expect.poll(() => series(p, "modelops_proxy_requests_total", { code: "2xx" })).toBe(1);
    await expect
      .poll(() => series(p, "modelops_proxy_feature_value_bucket", { feature: "x", le: "1" }))
      .toBe(1);
    expect(await series(p, "modelops_proxy_feature_value_count", { feature: "x" })).toBe(2);
    expect(
      await series(p, "modelops_proxy_prediction_category_total", { output: "label", category: "a" }),
    ).toBe(1);
    expect(
      await series(p, "modelops_proxy_prediction_category_total", { output: "label", category: "__other__" }),
    ).toBe(1);
    expect(await series(p, "modelops_proxy_passthrough_requests_total", { code: "2xx" })).toBe(0);
  });

  it("records features and predictions from raw_input_contents and raw_output_contents", async () => {
    const model = await stub(() => labelsResponse(["b", "b", "a"], true));
    const p = await proxy({ grpcUpstream: model.url });
    const answer = await client(p.port).modelInfer(xRequest([0.5, 1.5, 1.7], true));
    expect(answer.response.raw_output_contents).toHaveLength(1);
    await expect.poll(() => series(p, "modelops_proxy_feature_value_count", { feature: "x" })).toBe(3);
    expect(await series(p, "modelops_proxy_feature_value_bucket", { feature: "x", le: "1" })).toBe(1);
    expect(await series(p, "modelops_proxy_feature_value_bucket", { feature: "x", le: "+Inf" })).toBe(3);
    expect(
      await series(p, "modelops_proxy_prediction_category_total", { output: "label", category: "b" }),
    ).toBe(2);
    expect(
      await series(p, "modelops_proxy_prediction_category_total", { output: "label", category: "a" }),
    ).toBe(1);
    expect(await series(p, "modelops_proxy_requests_total", { code: "2xx" })).toBe(1);
  });

  it("passes the model server's error status through and counts it 4xx or 5xx by grpc-status", async () => {
    const byValue: Record<number, StubStatus> = {
      1: new StubStatus(grpc.status.INVALID_ARGUMENT, "bad shape"),
      2: new StubStatus(grpc.status.NOT_FOUND, "no such model"),
      3: new StubStatus(grpc.status.UNAVAILABLE, "loading"),
      4: new StubStatus(grpc.status.INTERNAL, "boom"),
      5: new StubStatus(grpc.status.UNKNOWN, "?"),
      6: new StubStatus(grpc.status.DEADLINE_EXCEEDED, "slow"),
    };
    const model = await stub(
      (req) => byValue[req.inputs[0]?.contents?.fp64_contents?.[0] ?? 0] ?? labelsResponse(["a"]),
    );
    const p = await proxy({ grpcUpstream: model.url });
    const c = client(p.port);
    for (const [value, expected] of Object.entries(byValue)) {
      const err = await failure(c.modelInfer(xRequest([Number(value)])));
      expect({ code: grpc.status[err.code], details: err.details }).toEqual({
        code: grpc.status[expected.code],
        details: expected.details,
      });
      // A trailers-only answer carries its metadata in the trailers.
      const revision = [...(err.headers?.get(REVISION_HEADER) ?? []), ...err.trailers.get(REVISION_HEADER)];
      expect(revision).toContain("r1");
    }
    await expect.poll(() => series(p, "modelops_proxy_requests_total", { code: "5xx" })).toBe(4);
    expect(await series(p, "modelops_proxy_requests_total", { code: "4xx" })).toBe(2);
    expect(await series(p, "modelops_proxy_requests_total", { code: "2xx" })).toBe(0);
  });

  it("passes ServerLive, ModelReady and ModelMetadata through unchanged and counts them as passthrough", async () => {
    const model = await stub(() => labelsResponse(["a"]));
    const p = await proxy({ grpcUpstream: model.url });
    const direct = client(model.port);
    const proxied = client(p.port);
    const live = await proxied.serverLive();
    expect(live.response).toEqual((await direct.serverLive()).response);
    expect(live.headers.get(REVISION_HEADER)).toEqual(["r1"]);
    expect((await proxied.modelReady("iris")).response).toEqual((await direct.modelReady("iris")).response);
    expect((await proxied.modelMetadata("iris")).response).toEqual(
      (await direct.modelMetadata("iris")).response,
    );
    expect(grpc.status[(await failure(proxied.modelReady("nope"))).code]).toBe("NOT_FOUND");
    await expect.poll(() => series(p, "modelops_proxy_passthrough_requests_total", { code: "2xx" })).toBe(3);
    expect(await series(p, "modelops_proxy_passthrough_requests_total", { code: "4xx" })).toBe(1);
    expect(await series(p, "modelops_proxy_requests_total", { code: "2xx" })).toBe(0);
    expect(await series(p, "modelops_proxy_feature_value_count", { feature: "x" })).toBe(0);
  });

  it("fails ModelInfer with UNAVAILABLE and counts a 5xx when the gRPC model server is down", async () => {
    const p = await proxy({ grpcUpstream: `http://127.0.0.1:${await closedPort()}` });
    const err = await failure(client(p.port).modelInfer(xRequest([0.5])));
    expect(grpc.status[err.code]).toBe("UNAVAILABLE");
    await expect.poll(() => series(p, "modelops_proxy_requests_total", { code: "5xx" })).toBe(1);
    expect(await series(p, "modelops_proxy_requests_total", { code: "2xx" })).toBe(0);
  });

  it("mirrors ModelInfer to a gRPC shadow and compares its labels with the primary's", async () => {
    const primary = await stub(() => labelsResponse(["a", "b", "a"]));
    const shadow = await stub(() => labelsResponse(["a", "a", "a"]));
    const p = await proxy({ grpcUpstream: primary.url, shadow: { url: shadow.url, percent: 100 } });
    const request = xRequest([0.5, 1.5, 0.2]);
    const answer = await client(p.port).modelInfer(request);
    // The client gets the primary's answer, never the shadow's.
    expect(answer.response).toEqual((await client(primary.port).modelInfer(request)).response);
    await expect.poll(() => series(p, "modelops_proxy_shadow_agreement_total", { result: "agree" })).toBe(2);
    expect(await series(p, "modelops_proxy_shadow_agreement_total", { result: "disagree" })).toBe(1);
    expect(await series(p, "modelops_proxy_shadow_requests_total", { result: "sent", code: "2xx" })).toBe(1);
    // The shadow received the client's request, marked as a mirrored copy.
    expect(shadow.calls.map((c) => c.method)).toEqual(["ModelInfer"]);
    expect(shadow.calls[0]?.request).toEqual(primary.calls[0]?.request);
    expect(shadow.calls[0]?.metadata.get(SHADOW_HEADER)).not.toEqual([]);
  });
});
