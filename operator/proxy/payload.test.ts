import { describe, expect, it } from "vitest";
import type { SignatureField } from "./config.ts";
import { inferenceRoute, parseRequest, parseResponse, tensorColumns } from "./payload.ts";

const num = (name: string): SignatureField => ({ name, type: "numeric" });
const cat = (name: string): SignatureField => ({ name, type: "categorical" });
const iris = ["sepal_length", "sepal_width", "petal_length", "petal_width"].map(num);

function columns(parsed: ReturnType<typeof parseRequest>) {
  if (!parsed.ok) throw new Error(parsed.reason);
  return Object.fromEntries(parsed.columns);
}

describe("inferenceRoute", () => {
  it.each([
    ["POST", "/v2/models/iris/infer", { protocol: "v2", model: "iris" }],
    ["POST", "/v2/models/iris/versions/3/infer", { protocol: "v2", model: "iris" }],
    ["POST", "/v2/models/iris/infer?x=1", { protocol: "v2", model: "iris" }],
    ["POST", "/v1/models/iris:predict", { protocol: "v1", model: "iris" }],
    ["GET", "/v2/models/iris/infer", undefined],
    ["GET", "/v2/health/ready", undefined],
    ["POST", "/v2/models/iris/ready", undefined],
    ["POST", "/v1/models/iris:explain", undefined],
    ["POST", "/v2/models/a/b/infer", undefined],
  ])("%s %s", (method, url, want) => {
    expect(inferenceRoute(method, url)).toEqual(want);
  });
});

describe("V2 request tensors", () => {
  it("splits one [N, K] row-major tensor into the signature's columns, in order", () => {
    const body = {
      inputs: [{ name: "input-0", shape: [2, 4], datatype: "FP32", data: [1, 2, 3, 4, 5, 6, 7, 8] }],
    };
    expect(columns(parseRequest("v2", JSON.stringify(body), iris))).toEqual({
      sepal_length: [1, 5],
      sepal_width: [2, 6],
      petal_length: [3, 7],
      petal_width: [4, 8],
    });
  });

  it("reads data nested deeper than the call stack without throwing", () => {
    const depth = 20_000;
    const body = `{"inputs":[{"name":"x","shape":[1],"data":${"[".repeat(depth)}1${"]".repeat(depth)}}]}`;
    expect(columns(parseRequest("v2", body, [num("x")]))).toEqual({ x: [1] });
  });

  it("does not allocate the columns an empty tensor claims ([0, 1e9])", () => {
    const body = JSON.stringify({ inputs: [{ name: "x", shape: [0, 1e9], data: [] }] });
    const parsed = parseRequest("v2", body, [num("x")]);
    expect(parsed.ok && parsed.rows).toBe(0);
  });

  it("does not loop over the rows an empty tensor claims ([1e15, 0])", () => {
    const body = JSON.stringify({ inputs: [{ name: "x", shape: [1e15, 0], data: [] }] });
    // Before the fix this call did not return (found by the proxy's fuzz test).
    const parsed = parseRequest("v2", body, [num("x")]);
    expect(parsed.ok && parsed.rows).toBe(0);
  });

  it("reads nested data the same as flat data", () => {
    const body = {
      inputs: [
        {
          name: "x",
          shape: [2, 2],
          datatype: "INT64",
          data: [
            [1, 2],
            [3, 4],
          ],
        },
      ],
    };
    expect(columns(parseRequest("v2", JSON.stringify(body), [num("a"), num("b")]))).toEqual({
      a: [1, 3],
      b: [2, 4],
    });
  });

  it("maps tensors named like signature fields, the rest positionally", () => {
    const body = {
      inputs: [
        { name: "color", shape: [3], datatype: "BYTES", data: ["red", "blue", "red"] },
        { name: "rest", shape: [3, 1], datatype: "FP64", data: [0.5, 1.5, 2.5] },
      ],
    };
    const parsed = columns(parseRequest("v2", JSON.stringify(body), [num("size"), cat("color")]));
    expect(parsed).toEqual({ color: ["red", "blue", "red"], size: [0.5, 1.5, 2.5] });
  });

  it("names columns beyond the signature by tensor and position", () => {
    const body = { inputs: [{ name: "t", shape: [1, 3], datatype: "BOOL", data: [true, false, true] }] };
    expect(columns(parseRequest("v2", JSON.stringify(body), [cat("first")]))).toEqual({
      first: [true],
      "t[1]": [false],
      "t[2]": [true],
    });
  });

  it("treats a scalar tensor (shape []) as one row", () => {
    const body = { inputs: [{ name: "a", shape: [], datatype: "FP32", data: [7] }] };
    expect(columns(parseRequest("v2", JSON.stringify(body), [num("a")]))).toEqual({ a: [7] });
  });

  it.each([
    ["not JSON", "{", "body is not JSON"],
    ["no inputs", "{}", 'no "inputs" list'],
    [
      "shape mismatch",
      JSON.stringify({ inputs: [{ name: "a", shape: [2, 2], data: [1, 2, 3] }] }),
      "needs 4 values",
    ],
    ["bad shape", JSON.stringify({ inputs: [{ name: "a", shape: [-1], data: [1] }] }), "shape"],
    ["object data", JSON.stringify({ inputs: [{ name: "a", shape: [1], data: [{ x: 1 }] }] }), "non-scalar"],
    ["nameless tensor", JSON.stringify({ inputs: [{ shape: [1], data: [1] }] }), "no name"],
  ])("rejects %s", (_what, body, reason) => {
    const parsed = parseRequest("v2", body, iris);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(reason);
  });
});

describe("V2 responses", () => {
  it("takes a single unnamed output as the signature's single output", () => {
    const body = {
      model_name: "iris",
      outputs: [{ name: "predict", shape: [3, 1], datatype: "INT64", data: [0, 2, 1] }],
    };
    const parsed = parseResponse("v2", JSON.stringify(body), [cat("species")]);
    expect(parsed.ok && Object.fromEntries(parsed.columns)).toEqual({ species: [0, 2, 1] });
  });

  it("keeps tensor names without a signature", () => {
    const body = { outputs: [{ name: "predict", shape: [2], datatype: "FP64", data: [0.1, 0.2] }] };
    const parsed = parseResponse("v2", JSON.stringify(body), []);
    expect(parsed.ok && Object.fromEntries(parsed.columns)).toEqual({ predict: [0.1, 0.2] });
  });
});

describe("V1", () => {
  it("reads instances given as arrays by position", () => {
    const parsed = parseRequest(
      "v1",
      JSON.stringify({
        instances: [
          [1, 2, 3, 4],
          [5, 6, 7, 8],
        ],
      }),
      iris,
    );
    expect(columns(parsed)).toEqual({
      sepal_length: [1, 5],
      sepal_width: [2, 6],
      petal_length: [3, 7],
      petal_width: [4, 8],
    });
  });

  it("reads instances given as objects by key", () => {
    const parsed = parseRequest(
      "v1",
      JSON.stringify({
        instances: [
          { a: 1, b: "x" },
          { a: 2, b: "y" },
        ],
      }),
      [],
    );
    expect(columns(parsed)).toEqual({ a: [1, 2], b: ["x", "y"] });
  });

  it("reads scalar predictions as the first output", () => {
    const parsed = parseResponse("v1", JSON.stringify({ predictions: [1, 0, 1] }), [cat("label")]);
    expect(parsed.ok && Object.fromEntries(parsed.columns)).toEqual({ label: [1, 0, 1] });
  });

  it.each([
    ["no instances", "{}"],
    ["null row", JSON.stringify({ instances: [null] })],
    ["nested row", JSON.stringify({ instances: [[[1]]] })],
  ])("rejects %s", (_what, body) => {
    expect(parseRequest("v1", body, iris).ok).toBe(false);
  });
});

describe("tensorColumns", () => {
  it("splits a [1, K] tensor into K one-row columns", () => {
    expect(tensorColumns({ name: "x", shape: [1, 3], data: [1, 2, 3] })).toEqual({
      name: "x",
      columns: [[1], [2], [3]],
    });
  });
});
