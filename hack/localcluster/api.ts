// A minimal HTTPS client for the harness's own calls (readiness, nodes), so
// starting the cluster does not spawn kubectl dozens of times.
import { readFileSync } from "node:fs";
import { request } from "node:https";

export interface ApiConnection {
  url: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export interface ApiResponse {
  status: number;
  body: string;
}

export function apiConnection(url: string, caPath: string, certPath: string, keyPath: string): ApiConnection {
  return { url, ca: readFileSync(caPath), cert: readFileSync(certPath), key: readFileSync(keyPath) };
}

export function apiRequest(
  conn: ApiConnection,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 5000,
): Promise<ApiResponse> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { accept: "application/json" };
  if (payload !== undefined) {
    headers["content-type"] = method === "PATCH" ? "application/merge-patch+json" : "application/json";
  }
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, conn.url),
      { method, ca: conn.ca, cert: conn.cert, key: conn.key, headers, timeout: timeoutMs, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs}ms`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** GET returning parsed JSON on 200 and undefined otherwise, the shape polling wants. */
export async function getJson<T>(conn: ApiConnection, path: string): Promise<T | undefined> {
  const res = await apiRequest(conn, "GET", path);
  if (res.status !== 200) return undefined;
  return JSON.parse(res.body) as T;
}

/**
 * Health of a component's own HTTPS endpoint (controller-manager, scheduler).
 * They serve a self-signed certificate and allow /healthz and /readyz
 * anonymously, so no client identity or CA is needed.
 */
export function componentHealthy(port: number, path: string): Promise<true | undefined> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "GET",
        rejectUnauthorized: false,
        timeout: 2000,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          if (res.statusCode === 200) resolve(true);
          else
            reject(
              new Error(`${path} ${res.statusCode}: ${Buffer.concat(chunks).toString("utf8").slice(0, 300)}`),
            );
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${path} timed out`)));
    req.on("error", reject);
    req.end();
  });
}
