// The MLflow source against a hostile stand-in server, for what a real MLflow
// never sends (e2e/mlflow.test.ts runs it against a real one): names that
// would escape dest, nested directories, a size over the limit.
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { FetchContext } from "./context.ts";
import { fetchMlflowModel } from "./mlflow.ts";

type Entry = { path: string; is_dir?: boolean; file_size?: number };

async function standIn(tree: Record<string, Entry[]>): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (u.pathname === "/api/2.0/mlflow/model-versions/get")
      return json(200, { model_version: { name: "m", version: "1", status: "READY", run_id: "r1" } });
    if (u.pathname === "/api/2.0/mlflow/model-versions/get-download-uri")
      return json(200, { artifact_uri: "mlflow-artifacts:/1/models/m-x/artifacts" });
    if (u.pathname === "/api/2.0/mlflow-artifacts/artifacts")
      return json(200, { files: tree[u.searchParams.get("path") ?? ""] ?? [] });
    const file = u.pathname.replace("/api/2.0/mlflow-artifacts/artifacts/1/models/m-x/artifacts/", "");
    res.end(`content of ${decodeURIComponent(file)}`);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

let server: Server | undefined;
afterEach(() => server?.close());

function ctx(url: string, maxBytes = 1 << 20): FetchContext & { lines: string[] } {
  const lines: string[] = [];
  return { log: (l) => lines.push(l), allowHttp: true, maxBytes, env: { MLFLOW_TRACKING_URI: url }, lines };
}

const root = "1/models/m-x/artifacts";

describe("fetchMlflowModel", () => {
  it("downloads nested files keeping their relative paths", async () => {
    const s = await standIn({
      [root]: [
        { path: "MLmodel", file_size: 10 },
        { path: "data", is_dir: true },
      ],
      [`${root}/data`]: [{ path: "data/model.pkl", file_size: 10 }],
    });
    server = s.server;
    const dest = mkdtempSync(join(tmpdir(), "mlflow-fetch-"));
    const result = await fetchMlflowModel("models:/m/1", dest, ctx(s.url));
    expect(result.kind).toBe("dir");
    expect(readdirSync(dest).sort()).toEqual(["MLmodel", "data"]);
    expect(readFileSync(join(dest, "data", "model.pkl"), "utf8")).toBe("content of data/model.pkl");
  });

  it("refuses a name that would escape dest", async () => {
    const s = await standIn({ [root]: [{ path: "MLmodel" }, { path: "..\\..\\etc\\passwd" }] });
    server = s.server;
    const dest = mkdtempSync(join(tmpdir(), "mlflow-fetch-"));
    await expect(fetchMlflowModel("models:/m/1", join(dest, "in"), ctx(s.url))).rejects.toThrow(
      /refusing entry .*'\.\.' would escape the destination/,
    );
  });

  it("refuses before downloading when the listed sizes exceed the limit", async () => {
    const s = await standIn({ [root]: [{ path: "model.pkl", file_size: 5000 }] });
    server = s.server;
    const dest = mkdtempSync(join(tmpdir(), "mlflow-fetch-"));
    await expect(fetchMlflowModel("models:/m/1", dest, ctx(s.url, 1000))).rejects.toThrow(
      /5000 bytes exceeds the size limit of 1000 bytes/,
    );
    expect(readdirSync(dest)).toEqual([]);
  });

  it("refuses a plain http tracking server unless http is allowed", async () => {
    const c = { ...ctx("http://127.0.0.1:1"), allowHttp: false };
    await expect(fetchMlflowModel("models:/m/1", "/nonexistent", c)).rejects.toThrow(
      /plain http MLflow tracking server .*refused/,
    );
  });
});
