// Notifications against the real control plane: the operator in-process,
// rollouts driven with kubectl, a receiver of this test's own on loopback
// standing in for both a generic webhook and a Slack-compatible endpoint.
// Both channels read a Secret in the "operator's namespace" (here the first
// test namespace); loopback is allowed as an admin would with --outbound-allow.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { FixtureExporter } from "../hack/localcluster/exporter.ts";
import type { RunningManager } from "../operator/manager.ts";
import { channelsFrom } from "../operator/notifications/config.ts";
import { DELIVERIES_METRIC } from "../operator/notifications/delivery.ts";
import { metricValue } from "../operator/runtime/metrics.ts";
import { scorerVersion, sendScorerTraffic } from "./harness/drift.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { type Observed, startObserved } from "./harness/observed.ts";
import { startInProcess } from "./harness/operator.ts";
import { mdepManifest, waitStatus } from "./harness/rollout.ts";

type Body = { text?: string; blocks?: unknown[]; [field: string]: unknown };
type Request = {
  path: string;
  key: string;
  event: string;
  authorization?: string;
  status: number;
  body: Body;
};

let receiver: Server;
let port = 0;
const requests: Request[] = [];
/** Keys starting with one of these prefixes fail (503) this many times before they are accepted. */
const flaky = new Map<string, number>();

let ns: TestNamespace;
let operator: RunningManager;

function startReceiver(): Promise<void> {
  receiver = createServer((req, res) => {
    let text = "";
    req.on("data", (c) => {
      text += c;
    });
    req.on("end", () => {
      const key = String(req.headers["idempotency-key"] ?? "");
      const path = req.url ?? "";
      const prefix = [...flaky.keys()].find((p) => key.startsWith(p));
      const tries = requests.filter((r) => r.path === path && r.key === key).length;
      const status = prefix !== undefined && tries < (flaky.get(prefix) ?? 0) ? 503 : 200;
      requests.push({
        path,
        key,
        event: String(req.headers["x-modelops-event"] ?? ""),
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        status,
        body: JSON.parse(text) as Body,
      });
      res.writeHead(status).end();
    });
  });
  return new Promise((r) =>
    receiver.listen(0, "127.0.0.1", () => {
      port = (receiver.address() as AddressInfo).port;
      r();
    }),
  );
}

/** The channels as the chart's values would give them. */
function notifications() {
  return {
    channels: channelsFrom({
      webhooks: [{ name: "ops", url: `http://127.0.0.1:${port}/hook`, headersSecret: "ops-hook" }],
      slack: { webhookUrlSecret: { name: "slack-webhook", key: "url" } },
    }),
    namespace: ns.name,
    retry: { initialDelayMs: 500 },
  };
}

function startOperator(): Promise<RunningManager> {
  return startInProcess({
    kubeconfig: inject("operatorKubeconfig"),
    namespace: ns.name,
    outboundAllow: "127.0.0.1",
    notifications: notifications(),
  });
}

/** Accepted messages about `name` in namespace `namespace`, by receiver path. */
const accepted = (path: string, namespace: string, name: string) =>
  requests.filter((r) => r.path === path && r.status === 200 && r.key.startsWith(`${namespace}/${name}/`));
const eventsAt = (path: string, name: string, namespace = ns.name) =>
  accepted(path, namespace, name).map((r) => r.event);

const act = (name: string, value: string) =>
  ns.kubectlOk(["annotate", "mdep", name, `modelops.io/action=${value}`, "--overwrite"]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  await startReceiver();
  ns = await createTestNamespace("notify", inject("kubeconfig"), inject("binDir"));
  await ns.applySampleVersions();
  await ns.kubectlOk([
    "create",
    "secret",
    "generic",
    "ops-hook",
    "--from-literal=authorization=Bearer t0ken",
  ]);
  await ns.kubectlOk([
    "create",
    "secret",
    "generic",
    "slack-webhook",
    `--from-literal=url=http://127.0.0.1:${port}/slack`,
  ]);
  operator = await startOperator();
});

afterAll(async () => {
  await operator?.stop();
  await ns?.delete();
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
});

const PAUSED_CANARY = "canary:\n  steps:\n    - setWeight: 50\n    - pause: {}";

describe("rollout notifications", () => {
  it("started, paused and promoted reach the webhook and the Slack endpoint once each, also after a restart", async () => {
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest("canary", "iris-classifier-v1", PAUSED_CANARY));
    await waitStatus(ns, "canary", (s) => s.phase === "Available", "v1 Available");
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest("canary", "iris-classifier-v2", PAUSED_CANARY));
    await waitStatus(ns, "canary", (s) => s.pauseReason === "PauseStep", "paused until promoted");
    await act("canary", "promote@1");
    const done = await waitStatus(
      ns,
      "canary",
      (s) => s.stableVersion === "iris-classifier-v2" && s.phase === "Available",
      "promoted",
    );
    const expected = ["RolloutStarted", "RolloutPaused", "Promoted"];
    await expect.poll(() => eventsAt("/hook", "canary"), { timeout: 10_000 }).toEqual(expected);
    await expect.poll(() => eventsAt("/slack", "canary"), { timeout: 10_000 }).toEqual(expected);

    const promoted = accepted("/hook", ns.name, "canary")[2];
    expect(promoted?.body).toEqual({
      kind: "ModelDeployment",
      event: "Promoted",
      key: promoted?.key,
      namespace: ns.name,
      name: "canary",
      modelDeployment: "canary",
      version: "iris-classifier-v2",
      previousVersion: "iris-classifier-v1",
      reason: "promoted over iris-classifier-v1",
      time: done.history?.[0]?.time,
    });
    expect(promoted?.authorization).toBe("Bearer t0ken");
    const slack = accepted("/slack", ns.name, "canary");
    expect(slack.map((r) => r.key)).toEqual(accepted("/hook", ns.name, "canary").map((r) => r.key));
    expect(slack[1]?.body.text).toContain(`ModelDeployment ${ns.name}/canary`);
    expect(slack[1]?.body.text).toContain(`kubectl modelops promote canary -n ${ns.name}`);
    expect(slack[2]?.body.text).toContain("iris-classifier-v2 promoted over iris-classifier-v1");
    expect(slack[2]?.body.blocks?.length).toBeGreaterThan(0);

    // A new operator remembers nothing but the status: it reconciles and stays quiet.
    const before = requests.length;
    await operator.stop();
    operator = await startOperator();
    await expect
      .poll(
        () =>
          // Any result: most reconciles here ask to be requeued later.
          metricValue(operator.registry, "controller_runtime_reconcile_total", {
            controller: "modeldeployment",
          }),
        { timeout: 30_000 },
      )
      .toBeGreaterThan(0);
    await act("canary", "promote@noop"); // one more reconcile with the same status
    await waitStatus(ns, "canary", (s) => s.lastHandledAction === "promote@noop", "action handled");
    await sleep(2000);
    expect(requests.slice(before)).toEqual([]);
  });

  it("a receiver that fails twice gets the message on the third attempt, once", async () => {
    flaky.set(`${ns.name}/flaky/`, 2);
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest("flaky", "iris-classifier-v1", ""));
    await waitStatus(ns, "flaky", (s) => s.phase === "Available", "v1 Available");
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest("flaky", "iris-classifier-v2", ""));
    await waitStatus(ns, "flaky", (s) => s.stableVersion === "iris-classifier-v2", "promoted");
    // Both wait out the same backoff, so either may arrive first.
    await expect
      .poll(() => eventsAt("/hook", "flaky").sort(), { timeout: 20_000 })
      .toEqual(["Promoted", "RolloutStarted"]);
    await expect.poll(() => eventsAt("/slack", "flaky"), { timeout: 20_000 }).toHaveLength(2);
    for (const path of ["/hook", "/slack"]) {
      const tries = requests.filter((r) => r.path === path && r.key.startsWith(`${ns.name}/flaky/`));
      const byKey = Map.groupBy(tries, (r) => r.key);
      expect([...byKey.values()].map((rs) => rs.map((r) => r.status))).toEqual([
        [503, 503, 200],
        [503, 503, 200],
      ]);
    }
    expect(
      await metricValue(operator.registry, DELIVERIES_METRIC, {
        channel: "ops",
        event: "Promoted",
        result: "retried",
      }),
    ).toBe(2);
  });

  it("a rollout aborted by an SRE announces the rollback with the version serving again", async () => {
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest("aborted", "iris-classifier-v1", PAUSED_CANARY));
    await waitStatus(ns, "aborted", (s) => s.phase === "Available", "v1 Available");
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest("aborted", "iris-classifier-v2", PAUSED_CANARY));
    await waitStatus(ns, "aborted", (s) => s.pauseReason === "PauseStep", "paused");
    await act("aborted", "abort@1");
    await waitStatus(ns, "aborted", (s) => s.phase === "RolledBack", "rolled back");
    const expected = ["RolloutStarted", "RolloutPaused", "RolledBack"];
    await expect.poll(() => eventsAt("/hook", "aborted"), { timeout: 10_000 }).toEqual(expected);
    await expect.poll(() => eventsAt("/slack", "aborted"), { timeout: 10_000 }).toEqual(expected);
    const rolledBack = accepted("/hook", ns.name, "aborted")[2]?.body;
    expect(rolledBack).toMatchObject({
      event: "RolledBack",
      version: "iris-classifier-v2",
      previousVersion: "iris-classifier-v1",
    });
    expect(accepted("/slack", ns.name, "aborted")[2]?.body.text).toContain(
      "iris-classifier-v2 rolled back; iris-classifier-v1 serves",
    );
  });

  it("modelops.io/notify=none keeps a ModelDeployment quiet", async () => {
    const quiet = (v: string) =>
      mdepManifest("quiet", v, "").replace(
        "metadata: {name: quiet}",
        "metadata: {name: quiet, annotations: {modelops.io/notify: none}}",
      );
    await ns.kubectlOk(["apply", "-f", "-"], quiet("iris-classifier-v1"));
    await waitStatus(ns, "quiet", (s) => s.phase === "Available", "v1 Available");
    await ns.kubectlOk(["apply", "-f", "-"], quiet("iris-classifier-v2"));
    const done = await waitStatus(ns, "quiet", (s) => s.stableVersion === "iris-classifier-v2", "promoted");
    expect(done.history?.[0]?.result).toBe("Promoted");
    await sleep(1000);
    expect(requests.filter((r) => r.key.startsWith(`${ns.name}/quiet/`))).toEqual([]);
  });
});

describe("drift notifications", () => {
  let driftNs: TestNamespace;
  let observed: Observed;
  let exporter: FixtureExporter;

  beforeAll(async () => {
    driftNs = await createTestNamespace("notify-drift", inject("kubeconfig"), inject("binDir"));
    await driftNs.kubectlOk(["apply", "-f", "-"], scorerVersion("scorer-v1"));
    observed = await startObserved({
      namespace: driftNs.name,
      binDir: inject("binDir"),
      kubeconfig: inject("operatorKubeconfig"),
      outboundAllow: "127.0.0.1",
      notifications: notifications(),
    });
    exporter = observed.exporter;
  });

  afterAll(async () => {
    await observed?.stop();
    await driftNs?.delete();
  });

  it("a Critical verdict reaches both receivers once per episode", async () => {
    await driftNs.kubectlOk(
      ["apply", "-f", "-"],
      "apiVersion: modelops.io/v1alpha1\nkind: ModelDeployment\nmetadata: {name: scorer}\nspec: {modelVersion: scorer-v1, replicas: 1}\n",
    );
    const s = await waitStatus(driftNs, "scorer", (x) => x.phase === "Available", "serving");
    const series = {
      namespace: driftNs.name,
      deployment: "scorer",
      revision: s.stableRevision ?? "",
      version: "scorer-v1",
    };
    sendScorerTraffic(exporter, series, 0, 0, 4, 0.5, 1);
    await sleep(2500); // two scrapes of the zeros, so increase() counts what follows
    await driftNs.kubectlOk(
      ["apply", "-f", "-"],
      "apiVersion: modelops.io/v1alpha1\nkind: DriftMonitor\nmetadata: {name: scorer-drift}\nspec: {targetRef: {name: scorer}, interval: 3s, window: 10m, minSampleSize: 100}\n",
    );
    sendScorerTraffic(exporter, series, 6000, 2.5, 4, 0.9, 3);
    await expect
      .poll(() => eventsAt("/hook", "scorer-drift", driftNs.name), { timeout: 60_000, interval: 500 })
      .toEqual(["DriftCritical"]);
    await expect
      .poll(() => eventsAt("/slack", "scorer-drift", driftNs.name), { timeout: 10_000 })
      .toEqual(["DriftCritical"]);
    const [hook] = accepted("/hook", driftNs.name, "scorer-drift");
    const status = (
      await driftNs.getJson<{ status: { criticalSince: string } }>("driftmonitor", "scorer-drift")
    )?.status;
    expect(hook?.body).toMatchObject({
      kind: "DriftMonitor",
      event: "DriftCritical",
      namespace: driftNs.name,
      name: "scorer-drift",
      modelDeployment: "scorer",
      version: "scorer-v1",
      time: status?.criticalSince,
    });
    expect(accepted("/slack", driftNs.name, "scorer-drift")[0]?.body.text).toContain(
      `kubectl modelops drift scorer-drift -n ${driftNs.name}`,
    );
    await sleep(3 * 3000); // three more evaluations, still Critical: the same episode
    expect(eventsAt("/hook", "scorer-drift", driftNs.name)).toEqual(["DriftCritical"]);
    expect(eventsAt("/slack", "scorer-drift", driftNs.name)).toEqual(["DriftCritical"]);
  });
});
