// "Nobody gets more than they were given", for DriftMonitors: the operator
// acts with its own rights, so what a DriftMonitor's author may make it do is
// fenced. Attacks tried here against a real control plane and a real
// Prometheus: a webhook and a Prometheus address on loopback (as the
// operator's own metrics or a node's metadata endpoint would be), a
// privileged retraining Job, and a ConfigMap reference holding garbage.
// The operator runs as an admin would start it with --outbound-allow=127.0.0.1;
// the attacks use 127.0.0.2, loopback too but not allowed.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { FixtureExporter } from "../hack/localcluster/exporter.ts";
import { waitFor } from "../hack/localcluster/kubectl.ts";
import { publishFeature, SCORER_EDGES, scorerVersion, seeded } from "./harness/drift.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { type Observed, startObserved } from "./harness/observed.ts";
import { waitStatus } from "./harness/rollout.ts";

const ALLOWED = "127.0.0.1";
const FENCED = "127.0.0.2";

let ns: TestNamespace;
let exporter: FixtureExporter;
let observed: Observed;
/** Every request any of the recording servers got, by the address it arrived on. */
const arrived: { address: string; url: string }[] = [];
const servers: Server[] = [];
const port: Record<string, number> = {};

type Condition = { type: string; status: string; reason: string; message: string };
type DriftStatus = {
  verdict?: string;
  message?: string;
  lastActionResult?: string;
  conditions?: Condition[];
};

const INLINE = `    sampleSize: 10000
    features:
      - {name: x, type: numeric, edges: [${SCORER_EDGES.join(", ")}], fractions: [0.25, 0.25, 0.25, 0.25]}`;
const mdep = (name: string, v: string) => `
apiVersion: modelops.io/v1alpha1
kind: ModelDeployment
metadata: {name: ${name}}
spec: {modelVersion: ${v}, replicas: 1}
`;
const monitor = (name: string, target: string, extra: string) => `
apiVersion: modelops.io/v1alpha1
kind: DriftMonitor
metadata: {name: ${name}}
spec:
  targetRef: {name: ${target}}
  interval: 2s
  window: 10m
  minSampleSize: 100
  predictions: false
${extra}
`;

async function driftStatus(name: string): Promise<DriftStatus | undefined> {
  return (await ns.getJson<{ status?: DriftStatus }>("driftmonitor", name))?.status;
}

function waitDrift(name: string, ok: (s: DriftStatus) => boolean, what: string) {
  return waitFor(
    async () => {
      const s = await driftStatus(name);
      return s && ok(s) ? s : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200, description: `${name}: ${what}` },
  );
}

/** The actions' clauses are written after the "event recorded" that marks the episode acted on. */
const acted = (what: string) => (s: DriftStatus) => s.lastActionResult?.includes(what) ?? false;
const condition = (s: DriftStatus | undefined, type: string) => s?.conditions?.find((c) => c.type === type);

async function jobCount(): Promise<number> {
  const out = await ns.kubectlOk(["get", "jobs", "-o", "name"]);
  return out.split("\n").filter((l) => l.trim() !== "").length;
}

/** A server on `address` that records what reaches it and answers like Prometheus with nothing. */
async function recordingServer(address: string): Promise<void> {
  const server = createServer((req: IncomingMessage, res) => {
    arrived.push({ address, url: req.url ?? "" });
    req.resume();
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ status: "success", data: { resultType: "vector", result: [] } }));
  });
  await new Promise<void>((r) => server.listen(0, address, r));
  servers.push(server);
  port[address] = (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  ns = await createTestNamespace("drift-fence", inject("kubeconfig"), inject("binDir"));
  await recordingServer(ALLOWED);
  await recordingServer(FENCED);
  observed = await startObserved({
    namespace: ns.name,
    binDir: inject("binDir"),
    kubeconfig: inject("operatorKubeconfig"),
    outboundAllow: ALLOWED,
  });
  exporter = observed.exporter;
  await ns.kubectlOk(["create", "serviceaccount", "trainer"]);
  await ns.kubectlOk(
    ["apply", "-f", "-"],
    `${scorerVersion("scorer-v1", INLINE)}---${mdep("fenced", "scorer-v1")}`,
  );
  const s = await waitStatus(ns, "fenced", (x) => x.phase === "Available", "serving");
  const series = {
    namespace: ns.name,
    deployment: "fenced",
    revision: s.stableRevision ?? "",
    version: "scorer-v1",
  };
  publishFeature(exporter, series, "x", SCORER_EDGES, []);
  await new Promise((r) => setTimeout(r, 2500)); // two scrapes of the zeros
  const random = seeded(7);
  // Every value in the top bucket: Critical at the first evaluation.
  publishFeature(
    exporter,
    series,
    "x",
    SCORER_EDGES,
    Array.from({ length: 3000 }, () => 3 + random()),
  );
});

afterAll(async () => {
  await observed?.stop();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await ns?.delete();
});

describe("DriftMonitor fences", () => {
  it("sends no webhook to a loopback address the admin did not allow, and says why; an allowed one is called", async () => {
    const hook = (address: string) =>
      `  actions: {webhook: {url: "http://${address}:${port[address]}/drift-${address}"}}`;
    await ns.kubectlOk(
      ["apply", "-f", "-"],
      `${monitor("hook-fenced", "fenced", hook(FENCED))}---${monitor("hook-allowed", "fenced", hook(ALLOWED))}`,
    );
    const refused = await waitDrift("hook-fenced", acted("webhook"), "webhook action");
    expect(refused.verdict).toBe("Critical");
    expect(refused.lastActionResult).toMatch(
      /webhook failed: refused to send to 127\.0\.0\.2: it is a loopback address; allow it with the operator flag --outbound-allow/,
    );
    await waitDrift(
      "hook-allowed",
      (s) => s.lastActionResult?.includes("notified") ?? false,
      "webhook called",
    );
    expect(arrived.filter((a) => a.url.startsWith("/drift"))).toEqual([
      { address: ALLOWED, url: `/drift-${ALLOWED}` },
    ]);
    const events = await ns.kubectlOk([
      "get",
      "events",
      "--field-selector",
      "reason=DriftActionFailed",
      "-o",
      "json",
    ]);
    expect(events).toContain("refused to send to 127.0.0.2");
  });

  it("reads no per-object Prometheus on a fenced address; the condition says why", async () => {
    const extra = (address: string) => `  prometheus: {address: "http://${address}:${port[address]}"}`;
    await ns.kubectlOk(
      ["apply", "-f", "-"],
      `${monitor("prom-fenced", "fenced", extra(FENCED))}---${monitor("prom-allowed", "fenced", extra(ALLOWED))}`,
    );
    const s = await waitDrift("prom-fenced", (x) => x.verdict === "Unknown", "Unknown");
    expect(condition(s, "DriftDetected")).toMatchObject({ status: "Unknown", reason: "QueryFailed" });
    expect(s.message).toMatch(/refused to send to 127\.0\.0\.2: it is a loopback address.*--outbound-allow/);
    // The allowed one is read (it answers with no series: InsufficientData).
    await waitDrift("prom-allowed", (x) => x.verdict === "InsufficientData", "read");
    expect(arrived.some((a) => a.address === ALLOWED && a.url === "/api/v1/query")).toBe(true);
    expect(arrived.filter((a) => a.address === FENCED)).toEqual([]);
  });

  it("creates no privileged retraining Job: RetrainJobAllowed=False with the fix and a Warning Event", async () => {
    const job = (security: string) => `  actions:
    retrainJob:
      template:
        spec:
          template:
            spec:
              serviceAccountName: trainer
              restartPolicy: Never
              containers: [{name: train, image: "trainer:1", securityContext: ${security}}]`;
    await ns.kubectlOk(["apply", "-f", "-"], monitor("privileged", "fenced", job("{privileged: true}")));
    const s = await waitDrift("privileged", acted("retraining"), "retraining action");
    expect(s.verdict).toBe("Critical");
    expect(condition(s, "RetrainJobAllowed")).toMatchObject({
      status: "False",
      reason: "TemplateNotAllowed",
      message: expect.stringContaining("container train is privileged: remove securityContext.privileged"),
    });
    expect(s.lastActionResult).toContain("retraining Job refused");
    expect(await jobCount()).toBe(0);
    const events = await ns.kubectlOk([
      "get",
      "events",
      "--field-selector",
      "reason=RetrainJobNotAllowed",
      "-o",
      "name",
    ]);
    expect(events.trim()).not.toBe("");

    // The same template without the privilege: allowed, and the next episode's Job is created.
    await ns.kubectlOk(
      ["apply", "-f", "-"],
      monitor("unprivileged", "fenced", job("{allowPrivilegeEscalation: false}")),
    );
    const ok = await waitDrift("unprivileged", acted("retraining"), "retraining action");
    expect(condition(ok, "RetrainJobAllowed")?.status).toBe("True");
    expect(ok.lastActionResult).toMatch(/retraining Job unprivileged-retrain-\w+ created/);
    expect(await jobCount()).toBe(1);
  });

  it("turns a ConfigMap reference holding garbage into InvalidReference, not a reconcile error loop", async () => {
    await ns.kubectlOk(["create", "configmap", "garbage", `--from-literal=ref.json={"features": "oops"}`]);
    const ref = "    configMapRef: {name: garbage, key: ref.json}";
    await ns.kubectlOk(
      ["apply", "-f", "-"],
      `${scorerVersion("scorer-bad", ref)}---${mdep("bad", "scorer-bad")}`,
    );
    await ns.kubectlOk(["apply", "-f", "-"], monitor("garbage", "bad", ""));
    const s = await waitDrift(
      "garbage",
      (x) => condition(x, "DriftDetected")?.reason === "InvalidReference",
      "InvalidReference",
    );
    expect(condition(s, "DriftDetected")?.message).toMatch(
      /ConfigMap garbage key ref\.json is not a valid reference: features: /,
    );
    expect(condition(s, "Reconciled")?.status).toBe("True");
  });
});
