import { describe, expect, it } from "vitest";
import { authHeader, MlflowClient, parseModelsUri, proxiedArtifactPath } from "./client.ts";

describe("parseModelsUri", () => {
  it("reads a pinned version and an alias", () => {
    expect(parseModelsUri("models:/iris/3")).toEqual({ name: "iris", version: "3" });
    expect(parseModelsUri("models:/team/iris@champion")).toEqual({ name: "team/iris", alias: "champion" });
    expect(parseModelsUri("models:/iris@prod")).toEqual({ name: "iris", alias: "prod" });
  });
  it("refuses stages, missing versions and other schemes with the expected form", () => {
    expect(() => parseModelsUri("models:/iris/Production")).toThrow(/version number/);
    expect(() => parseModelsUri("models:/iris")).toThrow(/models:\/<name>\/<version>/);
    expect(() => parseModelsUri("runs:/abc/model")).toThrow(/not a models:\//);
    expect(() => parseModelsUri("models:/iris@")).toThrow(/empty alias/);
  });
});

describe("proxiedArtifactPath", () => {
  it("maps mlflow-artifacts URIs (MLflow 3 logged models and MLflow 2 run paths)", () => {
    expect(proxiedArtifactPath("mlflow-artifacts:/1/models/m-abc/artifacts")).toBe(
      "1/models/m-abc/artifacts",
    );
    expect(proxiedArtifactPath("mlflow-artifacts://mlflow:5000/2/run1/artifacts/model/")).toBe(
      "2/run1/artifacts/model",
    );
  });
  it("says the server must proxy artifacts for other stores", () => {
    expect(() => proxiedArtifactPath("s3://bucket/1/models/m-abc/artifacts?X-Amz=1")).toThrow(
      /s3 \(s3:\/\/bucket\/1\/models\/m-abc\/artifacts\).*--serve-artifacts/,
    );
    expect(() => proxiedArtifactPath("/srv/mlruns/1/abc")).toThrow(/a local path/);
  });
});

describe("auth", () => {
  it("prefers the token, else basic", () => {
    expect(authHeader({ token: "t0k", username: "u", password: "p" })).toBe("Bearer t0k");
    expect(authHeader({ username: "u", password: "p" })).toBe(
      `Basic ${Buffer.from("u:p").toString("base64")}`,
    );
    expect(authHeader({})).toBeUndefined();
  });
  it("takes user info from the tracking URI and never prints it", () => {
    const c = new MlflowClient({ trackingUri: "https://alice:s3cret@mlflow.example/prefix?x=1" });
    expect(c.address).toBe("https://mlflow.example/prefix");
    expect(c.headers().authorization).toBe(`Basic ${Buffer.from("alice:s3cret").toString("base64")}`);
    expect(c.artifactUrl("1/models/m a/artifacts/MLmodel").href).toBe(
      "https://mlflow.example/prefix/api/2.0/mlflow-artifacts/artifacts/1/models/m%20a/artifacts/MLmodel",
    );
  });
  it("words a refusal with the call, the server's message and what to set, without the token", async () => {
    const c = new MlflowClient({
      trackingUri: "http://127.0.0.1:5000",
      token: "very-secret-token",
      transport: async () => ({
        status: 401,
        statusText: "Unauthorized",
        text: async () => "You are not authenticated.",
      }),
    });
    const err = await c.getModelVersion("iris", "1").catch((e: Error) => e);
    expect(String(err)).toMatch(
      /MLflow get model version iris\/1 at http:\/\/127.0.0.1:5000: 401 Unauthorized: You are not authenticated.: the tracking server rejected the credentials/,
    );
    expect(String(err)).not.toContain("very-secret-token");
  });
});
