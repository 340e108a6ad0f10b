import { mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import http from "node:http";
import type https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "./kube.ts";
import {
  type ApiAccess,
  inClusterAccess,
  kubeconfigAccess,
  loadApiAccess,
  tokenFromFile,
} from "./kubeconfig.ts";

const dir = mkdtempSync(join(tmpdir(), "kubeconfig-test-"));
let server: http.Server;
let url = "";
const seen: http.IncomingHttpHeaders[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ kind: "Namespace", metadata: { name: "default" } }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function kubeconfig(name: string, user: string): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    [
      "apiVersion: v1",
      "kind: Config",
      "current-context: here",
      "contexts:",
      "- name: elsewhere",
      "  context: {cluster: other, user: nobody}",
      "- name: here",
      "  context: {cluster: local, user: me}",
      "clusters:",
      "- name: other",
      "  cluster: {server: 'https://192.0.2.1:6443'}",
      "- name: local",
      `  cluster: {server: '${url}', insecure-skip-tls-verify: true}`,
      "users:",
      "- name: me",
      `  user: ${user}`,
    ].join("\n"),
  );
  return path;
}

/** A file the small loader reads itself (no exec plugin). */
function ownAccess(name: string, user: string): ApiAccess {
  const access = kubeconfigAccess(kubeconfig(name, user));
  if (!access) throw new Error(`${name}: handed to client-node`);
  return access;
}

async function headersOfOneRequest(access: ApiAccess) {
  seen.length = 0;
  await new KubeClient(access).get({ apiVersion: "v1", kind: "Namespace", name: "default" });
  return seen[0] ?? {};
}

describe("kubeconfig loader", () => {
  it("uses the current context's cluster and sends its token and impersonation", async () => {
    const access = ownAccess("token", "{token: abc, as: operator, as-groups: [g1, g2]}");
    expect(access.getCurrentCluster()?.server).toBe(url);
    const headers = await headersOfOneRequest(access);
    expect(headers.authorization).toBe("Bearer abc");
    expect(headers["impersonate-user"]).toBe("operator");
    expect(headers["impersonate-group"]).toBe("g1, g2");
  });

  it("reads a tokenFile relative to the kubeconfig's directory", async () => {
    writeFileSync(join(dir, "token.txt"), "from-file\n");
    const headers = await headersOfOneRequest(ownAccess("tokenfile", "{tokenFile: token.txt}"));
    expect(headers.authorization).toBe("Bearer from-file");
  });

  it("sends basic auth", async () => {
    const headers = await headersOfOneRequest(ownAccess("basic", "{username: u, password: p}"));
    expect(headers.authorization).toBe(`Basic ${Buffer.from("u:p").toString("base64")}`);
  });

  it("leaves exec plugins to client-node, which runs the plugin", async () => {
    const plugin = join(dir, "plugin.sh");
    writeFileSync(
      plugin,
      `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-exec"}}'\n`,
      { mode: 0o755 },
    );
    const file = kubeconfig(
      "exec",
      `{exec: {apiVersion: client.authentication.k8s.io/v1, command: ${plugin}}}`,
    );
    expect(kubeconfigAccess(file)).toBeUndefined();
    const headers = await headersOfOneRequest(await loadApiAccess(file));
    expect(headers.authorization).toBe("Bearer from-exec");
  });

  it("names the context when the kubeconfig has no server for it", () => {
    const path = join(dir, "broken");
    writeFileSync(path, "current-context: gone\ncontexts: []\n");
    expect(() => kubeconfigAccess(path)).toThrow(/no server for the current context "gone"/);
  });

  it("builds the in-cluster address (IPv6 in brackets) and reads the service account's CA and token", async () => {
    const sa = mkdtempSync(join(tmpdir(), "sa-"));
    writeFileSync(join(sa, "ca.crt"), "");
    writeFileSync(join(sa, "token"), "sa-token");
    const access = inClusterAccess(
      { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" },
      sa,
    );
    expect(access.getCurrentCluster()?.server).toBe("https://[fd00::1]:443");
    const opts: https.RequestOptions = {};
    await access.applyToHTTPSOptions(opts);
    expect((opts.headers as Record<string, string>).authorization).toBe("Bearer sa-token");
    expect(() => inClusterAccess({}, sa)).toThrow(/not in a cluster/);
  });

  it("reads a rotated token file again after a minute, not on every request", () => {
    const path = join(dir, "rotating");
    writeFileSync(path, "one");
    let now = 0;
    const token = tokenFromFile(path, () => now);
    expect(token()).toBe("Bearer one");
    writeFileSync(path, "two");
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    now = 59_000;
    expect(token()).toBe("Bearer one");
    now = 60_000;
    expect(token()).toBe("Bearer two");
  });
});
