// gRPC helpers for the proxy's tests (Open Inference Protocol, proto/inference.proto):
// a client with promisified calls, a stand-in model server answering from a
// handler, and tensor encoders. Not imported by the proxy itself.
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

// keepCase: messages use the proto's snake_case names, as on the wire.
// defaults: every field present in decoded messages, so two answers compare with toEqual.
const definition = protoLoader.loadSync(join(import.meta.dirname, "proto", "inference.proto"), {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});
const inference = (
  grpc.loadPackageDefinition(definition) as unknown as {
    inference: { GRPCInferenceService: grpc.ServiceClientConstructor };
  }
).inference;
const Service = inference.GRPCInferenceService;

export const GRPC_INFERENCE_SERVICE = "inference.GRPCInferenceService";

export interface TensorContents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: number[];
  uint_contents?: number[];
  uint64_contents?: number[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Buffer[];
}
export interface Tensor {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: Record<string, unknown>;
  contents?: TensorContents | null;
}
export interface ModelInferRequest {
  model_name: string;
  model_version?: string;
  id?: string;
  inputs: Tensor[];
  outputs?: Array<{ name: string }>;
  raw_input_contents?: Buffer[];
}
export interface ModelInferResponse {
  model_name: string;
  model_version?: string;
  id?: string;
  outputs: Tensor[];
  raw_output_contents?: Buffer[];
}

/** A successful call: the answer and the metadata it came with. */
export interface Answer<T> {
  response: T;
  headers: grpc.Metadata;
  trailers: grpc.Metadata;
}

/** A failed call: its gRPC status and the metadata it came with. */
export class CallFailed extends Error {
  readonly code: grpc.status;
  readonly details: string;
  readonly headers: grpc.Metadata | undefined;
  readonly trailers: grpc.Metadata;
  constructor(
    code: grpc.status,
    details: string,
    headers: grpc.Metadata | undefined,
    trailers: grpc.Metadata,
  ) {
    super(`${grpc.status[code]}: ${details}`);
    this.code = code;
    this.details = details;
    this.headers = headers;
    this.trailers = trailers;
  }
}

type UnaryMethod = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response?: unknown) => void,
) => grpc.ClientUnaryCall;

function unary<T>(
  client: grpc.Client,
  method: string,
  request: unknown,
  metadata = new grpc.Metadata(),
): Promise<Answer<T>> {
  return new Promise((resolve, reject) => {
    let headers: grpc.Metadata | undefined;
    let result: { err: grpc.ServiceError | null; response?: unknown } | undefined;
    const call = (client as unknown as Record<string, UnaryMethod>)[method]?.call(
      client,
      request,
      metadata,
      { deadline: Date.now() + 10_000 },
      (err, response) => {
        result = { err, response };
      },
    );
    if (!call) throw new Error(`no method ${method}`);
    call.on("metadata", (m: grpc.Metadata) => {
      headers = m;
    });
    // grpc-js emits "status" after the callback; by then both halves are known.
    call.on("status", (status: grpc.StatusObject) => {
      if (status.code === grpc.status.OK && result && !result.err)
        resolve({
          response: result.response as T,
          headers: headers ?? new grpc.Metadata(),
          trailers: status.metadata,
        });
      else reject(new CallFailed(status.code, status.details, headers, status.metadata));
    });
  });
}

/** A client of GRPCInferenceService at 127.0.0.1:<port> (or host:port), plaintext HTTP/2. */
export function grpcClient(port: number | string) {
  const target = typeof port === "number" ? `127.0.0.1:${port}` : port.replace(/^http:\/\//, "");
  const client = new Service(target, grpc.credentials.createInsecure());
  return {
    serverLive: (md?: grpc.Metadata) => unary<{ live: boolean }>(client, "ServerLive", {}, md),
    serverReady: (md?: grpc.Metadata) => unary<{ ready: boolean }>(client, "ServerReady", {}, md),
    modelReady: (name: string, md?: grpc.Metadata) =>
      unary<{ ready: boolean }>(client, "ModelReady", { name, version: "" }, md),
    serverMetadata: (md?: grpc.Metadata) =>
      unary<{ name: string; version: string; extensions: string[] }>(client, "ServerMetadata", {}, md),
    modelMetadata: (name: string, md?: grpc.Metadata) =>
      unary<Record<string, unknown>>(client, "ModelMetadata", { name, version: "" }, md),
    modelInfer: (request: ModelInferRequest, md?: grpc.Metadata) =>
      unary<ModelInferResponse>(client, "ModelInfer", request, md),
    close: () => client.close(),
  };
}
export type GrpcClient = ReturnType<typeof grpcClient>;

/** Thrown (or returned) by a stub handler: the stub fails the call with this status. */
export class StubStatus {
  readonly code: grpc.status;
  readonly details: string;
  constructor(code: grpc.status, details = "") {
    this.code = code;
    this.details = details;
  }
}

export type InferHandler = (
  request: ModelInferRequest,
  metadata: grpc.Metadata,
) => ModelInferResponse | StubStatus | Promise<ModelInferResponse | StubStatus>;

export interface GrpcStub {
  /** e.g. http://127.0.0.1:41234, as grpcUpstream or shadow.url take it. */
  url: string;
  port: number;
  /** Every call the stub received, in order. */
  calls: Array<{ method: string; metadata: grpc.Metadata; request: unknown }>;
  close(): Promise<void>;
}

/** The model the stub describes: one numeric input `x`, one label output. */
export const STUB_MODEL = "iris";

/**
 * A stand-in gRPC model server on 127.0.0.1: ModelInfer answered by
 * `handler`; server live and ready; model STUB_MODEL ready and described,
 * other models NOT_FOUND.
 */
export async function grpcStub(handler: InferHandler): Promise<GrpcStub> {
  const server = new grpc.Server();
  const calls: GrpcStub["calls"] = [];
  const known = (name: string) =>
    name === STUB_MODEL ? undefined : { code: grpc.status.NOT_FOUND, details: `model ${name} not found` };
  type Call = grpc.ServerUnaryCall<Record<string, unknown>, unknown>;
  const method =
    (name: string, answer: (call: Call) => unknown | Promise<unknown>) =>
    async (call: Call, callback: grpc.sendUnaryData<unknown>) => {
      calls.push({ method: name, metadata: call.metadata, request: call.request });
      try {
        const out = await answer(call);
        if (out instanceof StubStatus) callback({ code: out.code, details: out.details });
        else callback(null, out);
      } catch (err) {
        if (err instanceof StubStatus) callback({ code: err.code, details: err.details });
        else callback({ code: grpc.status.INTERNAL, details: String(err) });
      }
    };
  const modelCheck = (call: Call) => known(String(call.request.name));
  server.addService(Service.service, {
    ServerLive: method("ServerLive", () => ({ live: true })),
    ServerReady: method("ServerReady", () => ({ ready: true })),
    ModelReady: method("ModelReady", (call) => {
      const missing = modelCheck(call);
      return missing ? new StubStatus(missing.code, missing.details) : { ready: true };
    }),
    ServerMetadata: method("ServerMetadata", () => ({ name: "stub", version: "1", extensions: [] })),
    ModelMetadata: method("ModelMetadata", (call) => {
      const missing = modelCheck(call);
      if (missing) return new StubStatus(missing.code, missing.details);
      return {
        name: STUB_MODEL,
        versions: ["1"],
        platform: "stub",
        inputs: [{ name: "x", datatype: "FP64", shape: [-1, 1] }],
        outputs: [{ name: "label", datatype: "BYTES", shape: [-1] }],
      };
    }),
    ModelInfer: method("ModelInfer", (call) =>
      handler(call.request as unknown as ModelInferRequest, call.metadata),
    ),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

// Encoders. Raw contents are little-endian and row-major; a BYTES element is
// its length (4 bytes, little-endian) followed by its bytes.

/** An FP64 input with one value per row ([n, 1]), values in `contents`. */
export function fp64Input(name: string, values: number[]): Tensor {
  return { name, datatype: "FP64", shape: [values.length, 1], contents: { fp64_contents: values } };
}

/** The same input described only (shape and type), for a request carrying raw_input_contents. */
export function fp64InputHeader(name: string, rows: number, columns = 1): Tensor {
  return { name, datatype: "FP64", shape: [rows, columns] };
}

export function rawFp64(values: number[]): Buffer {
  const buf = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => {
    buf.writeDoubleLE(v, i * 8);
  });
  return buf;
}

export function rawBytes(elements: string[]): Buffer {
  return Buffer.concat(
    elements.flatMap((e) => {
      const body = Buffer.from(e);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(body.length);
      return [len, body];
    }),
  );
}

/** A BYTES output with one label per row, values in `contents`. */
export function labelsOutput(name: string, labels: string[]): Tensor {
  return {
    name,
    datatype: "BYTES",
    shape: [labels.length],
    contents: { bytes_contents: labels.map((l) => Buffer.from(l)) },
  };
}

/** A ModelInfer answer with one label output `predict` (in contents, or in raw_output_contents). */
export function labelsResponse(labels: string[], raw = false): ModelInferResponse {
  if (!raw) return { model_name: STUB_MODEL, outputs: [labelsOutput("predict", labels)] };
  return {
    model_name: STUB_MODEL,
    outputs: [{ name: "predict", datatype: "BYTES", shape: [labels.length] }],
    raw_output_contents: [rawBytes(labels)],
  };
}

/** A ModelInfer request with one FP64 input `x` (in contents, or in raw_input_contents). */
export function xRequest(values: number[], raw = false): ModelInferRequest {
  if (!raw) return { model_name: STUB_MODEL, inputs: [fp64Input("x", values)] };
  return {
    model_name: STUB_MODEL,
    inputs: [fp64InputHeader("x", values.length)],
    raw_input_contents: [rawFp64(values)],
  };
}

export { grpc };
