// MLflow against a real tracking server and model registry (mlflow server
// with sqlite and proxied artifacts, hack/localcluster/mlflow-server.ts):
// models registered as a training pipeline would (hack/mlflow/register.py),
// fetched by the artifact fetcher run as the init container runs it (a
// separate node process, env only, FETCHER_ENV), refusals with their reason
// in the termination log, and `kubectl modelops import mlflow` round-tripped
// through the apiserver (CRD schema and CEL rules).
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import yaml from "js-yaml";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  type MlflowServer,
  mlflowVenv,
  type RegisteredModel,
  startMlflowServer,
} from "../hack/localcluster/mlflow-server.ts";
import { FETCHER_ENV } from "../operator/api/contract.ts";
import { runIsolated } from "../operator/testing/fetcher-run.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";

const root = resolve(import.meta.dirname, "..");
let dir: string;
let plain: MlflowServer;
let secured: MlflowServer;
let good: RegisteredModel;
let bad: RegisteredModel;
let securedModel: RegisteredModel;

/** node SCRIPT args with only `env` (plus PATH/HOME), as a pod would run it. */
function runNode(script: string, args: string[], env: Record<string, string>) {
  return runIsolated(join(root, script), args, env);
}

let n = 0;
function fetchModel(server: MlflowServer, uri: string, extra: Record<string, string> = {}) {
  const dest = join(dir, `dest-${++n}`);
  return runNode("operator/fetcher/main.ts", [], {
    [FETCHER_ENV.uri]: uri,
    [FETCHER_ENV.dest]: dest,
    [FETCHER_ENV.mlflowTrackingUri]: server.url,
    [FETCHER_ENV.allowHttp]: "true",
    ...extra,
  }).then((r) => ({ ...r, dest }));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mlflow-e2e-"));
  const venv = await mlflowVenv();
  const started = await Promise.allSettled([
    startMlflowServer({ dir: join(dir, "plain"), venv }),
    startMlflowServer({ dir: join(dir, "secured"), venv, auth: true }),
  ]);
  // Both are kept before any failure is thrown, so afterAll stops the one that started.
  const [p, s] = started;
  if (p.status === "fulfilled") plain = p.value;
  if (s.status === "fulfilled") secured = s.value;
  for (const r of started) if (r.status === "rejected") throw r.reason;
  // One registration at a time per server (each creates or extends one registered model).
  [[good, bad], securedModel] = await Promise.all([
    (async () => [
      await plain.register({ name: "iris", alias: "champion" }),
      await plain.register({ name: "iris", kind: "bad" }),
    ])(),
    secured.register({ name: "iris-secured" }),
  ]);
}, 600_000);

afterAll(async () => {
  await Promise.all([plain?.stop(), secured?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the MLflow registry", () => {
  it("registers numbered versions with a run", () => {
    expect(good).toMatchObject({ name: "iris", version: "1", modelUri: "models:/iris/1" });
    expect(bad).toMatchObject({ name: "iris", version: "2" });
    expect(good.runId).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe("fetching models:/ as the init container", () => {
  it("downloads every file of a version, as MLflow laid it out", async () => {
    const r = await fetchModel(plain, "models:/iris/1");
    expect(r.code, r.stderr).toBe(0);
    const mlmodel = yaml.load(readFileSync(join(r.dest, "MLmodel"), "utf8")) as {
      flavors: Record<string, { pickled_model?: string }>;
      run_id: string;
    };
    expect(mlmodel.flavors.sklearn?.pickled_model).toBe("model.pkl");
    expect(mlmodel.run_id).toBe(good.runId);
    for (const f of ["model.pkl", "requirements.txt", "python_env.yaml", "conda.yaml"])
      expect(existsSync(join(r.dest, f)), f).toBe(true);
    expect(r.stdout).toMatch(/MLflow iris\/1 .* 5 files/);
  });

  it("resolves an alias", async () => {
    const r = await fetchModel(plain, "models:/iris@champion");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`MLflow iris/1 (run ${good.runId})`);
  });

  it("says which version is missing (404)", async () => {
    const r = await fetchModel(plain, "models:/iris/99");
    expect(r.code).toBe(1);
    expect(r.termination).toMatch(
      /MLflow get model version iris\/99 at http:\/\/127\.0\.0\.1:\d+: 404 Not Found: RESOURCE_DOES_NOT_EXIST: Model Version \(name=iris, version=99\) not found/,
    );
  });

  it("downloads from a server with basic auth, given the password", async () => {
    const r = await fetchModel(secured, "models:/iris-secured/1", {
      MLFLOW_TRACKING_USERNAME: secured.username ?? "",
      MLFLOW_TRACKING_PASSWORD: secured.password ?? "",
    });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(r.dest, "model.pkl"))).toBe(true);
    expect(securedModel.version).toBe("1");
  });

  it("refuses a wrong password with a 401 reason that does not carry it", async () => {
    const r = await fetchModel(secured, "models:/iris-secured/1", {
      MLFLOW_TRACKING_USERNAME: secured.username ?? "",
      MLFLOW_TRACKING_PASSWORD: "wrong-password-123",
    });
    expect(r.code).toBe(1);
    expect(r.termination).toMatch(
      /MLflow get model version iris-secured\/1 at .*: 401 .*rejected the credentials/,
    );
    expect(r.termination + r.stdout + r.stderr).not.toContain("wrong-password-123");
  });

  it("refuses a wrong token, and no credentials at all, with what to set", async () => {
    const token = await fetchModel(secured, "models:/iris-secured/1", {
      MLFLOW_TRACKING_TOKEN: "not-a-token-456",
    });
    expect(token.code).toBe(1);
    expect(token.termination).toMatch(/: 40[13] /);
    expect(token.termination + token.stdout + token.stderr).not.toContain("not-a-token-456");
    const none = await fetchModel(secured, "models:/iris-secured/1");
    expect(none.code).toBe(1);
    expect(none.termination).toMatch(/401 .*wants credentials: set MLFLOW_TRACKING_TOKEN/);
  });
});

describe("kubectl modelops import mlflow", () => {
  let ns: TestNamespace;
  beforeAll(async () => {
    ns = await createTestNamespace("mlflow", inject("kubeconfig"), inject("binDir"));
  });
  afterAll(async () => {
    await ns?.delete();
  });

  const importCli = (args: string[], env: Record<string, string> = {}) =>
    runNode("operator/cli/main.ts", ["import", "mlflow", "--tracking-uri", plain.url, ...args], env);

  it("prints a manifest the apiserver accepts, pinned to the alias's version", async () => {
    const r = await importCli(["--model", "iris", "--alias", "champion", "--stage", "Staging"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^# .*\n# The alias "champion" pointed at version 1/);
    const doc = yaml.load(r.stdout) as { metadata: { name: string }; spec: Record<string, unknown> };
    expect(doc.metadata.name).toBe("iris-v1");
    await ns.kubectlOk(["apply", "-f", "-"], r.stdout);
    const got = await ns.getJson<{ spec: Record<string, unknown> }>("modelversion", "iris-v1");
    expect(got?.spec).toMatchObject({
      modelName: "iris",
      version: "1",
      stage: "Staging",
      artifact: {
        uri: "models:/iris/1",
        format: "sklearn",
        mlflow: { trackingUri: plain.url },
        allowHttp: true,
      },
      runtime: { name: "mlserver", image: "seldonio/mlserver:1.7.1" },
      signature: {
        inputs: [
          { name: "sepal_length", type: "numeric", datatype: "FP64" },
          { name: "sepal_width", type: "numeric", datatype: "FP64" },
          { name: "petal_length", type: "numeric", datatype: "FP64" },
          { name: "petal_width", type: "numeric", datatype: "FP64" },
        ],
        outputs: [{ name: "species", type: "categorical", datatype: "INT64" }],
      },
      lineage: {
        trainingRun: good.runId,
        dataset: expect.stringMatching(/^iris@[0-9a-f]+$/),
        gitCommit: expect.stringMatching(/^[0-9a-f]{40}$/),
        framework: "scikit-learn 1.5.2",
        createdBy: expect.any(String),
      },
      metrics: { accuracy: expect.any(Number), log_loss: expect.any(Number) },
      reference: {
        sampleSize: 150,
        features: expect.arrayContaining([
          expect.objectContaining({ name: "petal_length", type: "numeric" }),
        ]),
        predictions: [expect.objectContaining({ name: "species", type: "categorical" })],
      },
    });
    const spec = got?.spec as { metrics: { accuracy: number }; reference: { features: unknown[] } };
    expect(spec.metrics.accuracy).toBeGreaterThan(0.9);
    expect(spec.reference.features).toHaveLength(4);
  });

  it("imports the worse version by number, with its lower accuracy, under a chosen name", async () => {
    const r = await importCli([
      "--model",
      "iris",
      "--version",
      "2",
      "--name",
      "iris-candidate",
      "--image",
      "mlserver:dev",
    ]);
    expect(r.code, r.stderr).toBe(0);
    await ns.kubectlOk(["apply", "-f", "-"], r.stdout);
    const got = await ns.getJson<{ spec: { artifact: { uri: string }; metrics: { accuracy: number } } }>(
      "modelversion",
      "iris-candidate",
    );
    expect(got?.spec.artifact.uri).toBe("models:/iris/2");
    expect(got?.spec.metrics.accuracy).toBeLessThan(0.7);
  });

  it("fails with the server's reason for a missing alias", async () => {
    const r = await importCli(["--model", "iris", "--alias", "nope"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: MLflow get model version iris@nope at .*: 400 .*alias nope not found/);
  });
});
