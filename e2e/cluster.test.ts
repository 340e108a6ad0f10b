// Proves the integration harness is a real cluster: Deployments get pods from
// the real controller-manager, scheduler and kwok nodes, garbage collection
// runs, the operator's requests reach the audit log under its own user, and
// the aggregation layer serves an APIService as it does for metrics adapters.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { kubectl, kubectlOk, waitFor } from "../hack/localcluster/kubectl.ts";
import { FRONT_PROXY_CLIENT_CN, pkiIn } from "../hack/localcluster/pki.ts";
import { auditEvents } from "./harness/audit.ts";

const kubeconfig = inject("kubeconfig");
const binDir = inject("binDir");
const opts = { kubeconfig, binDir };
const ns = `harness-${randomBytes(3).toString("hex")}`;

interface Pod {
  metadata: { name: string };
  spec: { nodeName?: string };
  status: { phase?: string; conditions?: Array<{ type: string; status: string }> };
}

async function list<T>(kind: string, selector: string): Promise<T[]> {
  const out = await kubectlOk(["get", kind, "-n", ns, "-l", selector, "-o", "json"], opts);
  return (JSON.parse(out) as { items: T[] }).items;
}

const deployment = (name: string) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${ns}}
spec:
  replicas: 2
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers: [{name: app, image: registry.invalid/app:1}]
`;

describe("local control plane", () => {
  beforeAll(async () => {
    await kubectlOk(["create", "namespace", ns], opts);
  });
  afterAll(async () => {
    await kubectl(["delete", "namespace", ns, "--wait=false"], opts);
  });

  it("runs a Deployment's pods on kwok nodes and garbage-collects them", async () => {
    await kubectlOk(["apply", "-f", "-"], { ...opts, input: deployment("web") });
    const pods = await waitFor(
      async () => {
        const running = (await list<Pod>("pods", "app=web")).filter(
          (p) =>
            p.status.phase === "Running" &&
            p.spec.nodeName?.startsWith("kwok-node-") &&
            p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
        );
        return running.length === 2 ? running : undefined;
      },
      { timeoutMs: 60_000, description: "2 Running+Ready pods of deployment web" },
    );
    expect(pods).toHaveLength(2);
    expect((await list("replicasets", "app=web")).length).toBe(1);

    await kubectlOk(["delete", "deployment", "web", "-n", ns, "--wait=false"], opts);
    await waitFor(
      async () => {
        const left = [...(await list("replicasets", "app=web")), ...(await list("pods", "app=web"))];
        return left.length === 0 ? true : left.length;
      },
      { timeoutMs: 60_000, description: "ReplicaSet and pods of web to be garbage-collected" },
    );
  });

  it("records the operator user's writes in the audit log", async () => {
    const since = new Date(Date.now() - 1000);
    await kubectlOk(["create", "configmap", "audit-probe", "-n", ns], {
      ...opts,
      kubeconfig: inject("operatorKubeconfig"),
    });
    const writes = auditEvents(inject("auditLogPath"), { since }).filter(
      (e) => e.objectRef?.namespace === ns,
    );
    expect(writes.map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.name}`)).toEqual([
      "create configmaps/audit-probe",
    ]);
  });

  it("serves an APIService from a server on loopback (ExternalName localhost), passing the caller's identity only to a front-proxy client", async () => {
    // What any metrics adapter gets: requests proxied with the front-proxy
    // client certificate, the caller in X-Remote-User/X-Remote-Group.
    const dir = mkdtempSync(join(tmpdir(), "modelops-aggregated-"));
    const [key, cert] = [join(dir, "tls.key"), join(dir, "tls.crt")];
    // The apiserver dials localhost but verifies the name <service>.<namespace>.svc.
    await promisify(execFile)("openssl", [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc"],
      ...["-keyout", key, "-out", cert, "-subj", "/CN=probe", "-days", "1"],
      ...["-addext", `subjectAltName=DNS:probe.${ns}.svc`],
    ]);
    const group = "aggregation-probe.modelops.io";
    const callers: { user: unknown; groups: string[] }[] = [];
    const proxies = new Set<string>();
    const server = createServer(
      {
        key: readFileSync(key),
        cert: readFileSync(cert),
        ca: readFileSync(pkiIn(join(inject("clusterDir"), "pki")).frontProxyCaCert),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        proxies.add(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN));
        const json = (body: unknown) => {
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify(body));
        };
        const path = req.url?.split("?")[0];
        if (path === `/apis/${group}/v1`)
          return json({
            kind: "APIResourceList",
            apiVersion: "v1",
            groupVersion: `${group}/v1`,
            resources: [
              { name: "callers", singularName: "caller", namespaced: false, kind: "Caller", verbs: ["list"] },
            ],
          });
        if (path === `/apis/${group}/v1/callers`) {
          // Repeated X-Remote-Group headers arrive joined by ", ".
          const groups = String(req.headers["x-remote-group"] ?? "").split(", ");
          const caller = String(req.headers["x-remote-user"]);
          callers.push({ user: caller, groups });
          return json({
            kind: "CallerList",
            apiVersion: `${group}/v1`,
            metadata: {},
            items: [{ metadata: { name: caller } }],
          });
        }
        res.statusCode = 404;
        res.end();
      },
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const apiService = `v1.${group}`;
    try {
      await kubectlOk(["apply", "-f", "-"], {
        ...opts,
        input: `
apiVersion: v1
kind: Service
metadata: {name: probe, namespace: ${ns}}
spec: {type: ExternalName, externalName: localhost}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: ${apiService}}
spec:
  group: ${group}
  version: v1
  groupPriorityMinimum: 100
  versionPriority: 100
  caBundle: ${readFileSync(cert).toString("base64")}
  service: {namespace: ${ns}, name: probe, port: ${port}}
`,
      });
      await waitFor(
        async () =>
          (
            await kubectl(
              [
                "get",
                "apiservice",
                apiService,
                "-o",
                "jsonpath={.status.conditions[?(@.type=='Available')].status}",
              ],
              opts,
            )
          ).stdout === "True" || undefined,
        { timeoutMs: 30_000, intervalMs: 250, description: `${apiService} Available` },
      );
      // The proxy learns of the availability from the APIService's status, a moment after it is written.
      const raw = await waitFor(
        async () => {
          const r = await kubectl(["get", "--raw", `/apis/${group}/v1/callers`], opts);
          return r.code === 0 ? r.stdout : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 250, description: `a list through ${apiService}` },
      );
      const list = JSON.parse(raw) as { items: { metadata: { name: string } }[] };
      expect(list.items.map((i) => i.metadata.name)).toEqual(["kubernetes-admin"]);
      expect(callers).toEqual([
        { user: "kubernetes-admin", groups: expect.arrayContaining(["system:masters"]) },
      ]);
      // Only the apiserver's front-proxy client got through (rejectUnauthorized).
      expect([...proxies]).toEqual([FRONT_PROXY_CLIENT_CN]);
    } finally {
      // A registered APIService nobody serves would fail every later discovery.
      await kubectl(["delete", "apiservice", apiService], opts);
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
