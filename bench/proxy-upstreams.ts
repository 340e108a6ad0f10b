// The model servers bench/proxy.ts puts behind each hop, and the requests it
// sends them: a stub (a fixed answer at once, REST over node:http and gRPC
// over node:http2 h2c) that isolates a hop's own cost, and MLServer serving
// a scikit-learn LogisticRegression on 10 features ("wide", served as "iris").
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createH2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { prepareModels, startModelServer } from "../hack/model-server/mlserver.ts";

export const FEATURES = Array.from({ length: 10 }, (_, i) => `f${i}`);
export const REST_PATH = "/v2/models/iris/infer";
export const GRPC_PATH = "/inference.GRPCInferenceService/ModelInfer";

export interface Upstream {
  /** REST base URL, e.g. http://127.0.0.1:41234 */
  rest: string;
  /** gRPC (h2c) base URL */
  grpc: string;
  stop(): Promise<void>;
}

function row(i: number): number[] {
  return FEATURES.map((_, f) => Math.round(Math.sin(i * 7 + f) * 300) / 100);
}

/** V2 JSON bodies, one per line (the load generator cycles through them). */
export function restBodies(n = 64): string {
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      inputs: [{ name: "input-0", shape: [1, FEATURES.length], datatype: "FP64", data: row(i) }],
    }),
  ).join("\n");
}

// Protobuf, hand-encoded: the messages are small and fixed (field numbers
// from the Open Inference Protocol's grpc_service.proto).
const utf8 = (s: string) => Buffer.from(s, "utf8");
function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 127) {
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}
/** A length-delimited field (wire type 2): strings, messages, packed repeated scalars. */
const field = (no: number, payload: Buffer) =>
  Buffer.concat([varint((no << 3) | 2), varint(payload.length), payload]);
const packedVarints = (no: number, values: number[]) => field(no, Buffer.concat(values.map(varint)));
function packedDoubles(no: number, values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 8);
  for (const [i, v] of values.entries()) b.writeDoubleLE(v, i * 8);
  return field(no, b);
}
/** A gRPC message frame: uncompressed flag, big-endian length, message. */
export function grpcFrame(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

/** ModelInferRequest{model_name, inputs[{name, datatype, shape, contents.fp64_contents}]}. */
function inferRequest(values: number[]): Buffer {
  const contents = packedDoubles(7, values);
  const tensor = Buffer.concat([
    field(1, utf8("input-0")),
    field(2, utf8("FP64")),
    packedVarints(3, [1, values.length]),
    field(5, contents),
  ]);
  return Buffer.concat([field(1, utf8("iris")), field(5, tensor)]);
}

/** gRPC frames back to back (the load generator cycles through them). */
export function grpcBodies(n = 64): Buffer {
  return Buffer.concat(Array.from({ length: n }, (_, i) => grpcFrame(inferRequest(row(i)))));
}

/** ModelInferResponse{model_name, outputs[{name "predict", INT64, shape [1,1], contents.int64_contents [1]}]}. */
export function stubGrpcAnswer(): Buffer {
  const tensor = Buffer.concat([
    field(1, utf8("predict")),
    field(2, utf8("INT64")),
    packedVarints(3, [1, 1]),
    field(5, packedVarints(3, [1])),
  ]);
  return grpcFrame(Buffer.concat([field(1, utf8("iris")), field(5, tensor)]));
}

/** REST and gRPC stubs answering one class label per request at once, after reading the body. */
export async function startStub(): Promise<Upstream> {
  const answer = JSON.stringify({
    model_name: "iris",
    outputs: [{ name: "predict", shape: [1, 1], datatype: "INT64", data: [1] }],
  });
  const rest = createServer({ keepAliveTimeout: 120_000 }, (req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(answer);
    });
  });
  const frame = stubGrpcAnswer();
  const grpc = createH2Server();
  grpc.on("stream", (stream) => {
    stream.resume();
    stream.on("end", () => {
      if (stream.destroyed) return;
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(frame);
    });
    stream.on("error", () => {});
  });
  await Promise.all([
    new Promise<void>((r) => rest.listen(0, "127.0.0.1", r)),
    new Promise<void>((r) => grpc.listen(0, "127.0.0.1", r)),
  ]);
  const url = (s: { address(): unknown }) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  return {
    rest: url(rest),
    grpc: url(grpc),
    stop: async () => {
      rest.closeAllConnections();
      await Promise.all([
        new Promise<void>((r) => rest.close(() => r())),
        new Promise<void>((r) => grpc.close(() => r())),
      ]);
    },
  };
}

export async function startMlserver(dir: string): Promise<Upstream & { pid: number }> {
  const { venv, modelsDir } = await prepareModels(dir);
  const server = await startModelServer(venv, modelsDir, "wide");
  // startModelServer picks the gRPC port and writes it in the model's settings.json.
  const settings = JSON.parse(readFileSync(join(modelsDir, "wide", "settings.json"), "utf8")) as {
    grpc_port: number;
  };
  return {
    rest: server.url,
    grpc: `http://127.0.0.1:${settings.grpc_port}`,
    pid: server.pid,
    stop: server.stop,
  };
}
