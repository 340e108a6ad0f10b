// What SREs and platform teams do around rollouts: promote, abort, retry and
// undo with kubectl annotate (no spec edits, so GitOps sees no drift); a
// Prometheus that cannot be reached; and weights and mirroring carried by
// the user's Gateway API HTTPRoute and Istio VirtualService, and a cohort's header route there.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createPrometheusProvider } from "../operator/analysis/prometheus.ts";
import type { RunningManager } from "../operator/manager.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { startInProcess } from "./harness/operator.ts";
import { mdepManifest, type RolloutStatus, serviceRevision, waitStatus } from "./harness/rollout.ts";
import { installRouterCrds } from "./harness/router-crds.ts";

const kubeconfig = inject("kubeconfig");
const binDir = inject("binDir");
const namespaces: TestNamespace[] = [];
let operators: RunningManager[] = [];
let removeRouterCrds: () => Promise<void> = async () => {};

/** A namespace with both sample versions and an operator whose Prometheus does not answer. */
async function setup(prefix: string): Promise<TestNamespace> {
  const ns = await createTestNamespace(prefix, kubeconfig, binDir);
  namespaces.push(ns);
  await ns.applySampleVersions();
  const operator = await startInProcess({
    kubeconfig: inject("operatorKubeconfig"),
    namespace: ns.name,
    prometheus: createPrometheusProvider({ address: "http://127.0.0.1:9", timeoutMs: 1000 }),
  });
  operators.push(operator);
  return ns;
}

async function act(ns: TestNamespace, name: string, value: string): Promise<void> {
  await ns.kubectlOk(["annotate", "mdep", name, `modelops.io/action=${value}`, "--overwrite"]);
}

const handled = (value: string) => (s: RolloutStatus) => s.lastHandledAction === value;
// biome-ignore lint/suspicious/noExplicitAny: route JSON is probed freely
type Json = Record<string, any>;

beforeAll(async () => {
  removeRouterCrds = await installRouterCrds(kubeconfig, binDir);
});

afterAll(async () => {
  await Promise.all(operators.map((o) => o.stop()));
  operators = [];
  for (const ns of namespaces) await ns.delete();
  await removeRouterCrds();
});

describe("SRE actions", () => {
  it("promote, undo, retry and abort by annotation", async () => {
    const ns = await setup("actions");
    const strategy = "canary:\n  steps:\n    - setWeight: 30\n    - pause: {}";
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest("ops", "iris-classifier-v1", strategy));
    const v1 = await waitStatus(ns, "ops", (s) => s.phase === "Available", "v1 Available");
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest("ops", "iris-classifier-v2", strategy));
    const paused = await waitStatus(ns, "ops", (s) => s.pauseReason === "PauseStep", "paused until promoted");
    expect(paused.message).toContain("modelops.io/action=promote");

    await act(ns, "ops", "promote@1");
    // Past the last step the canary grows to full size, then takes all traffic.
    const promoted = await waitStatus(
      ns,
      "ops",
      (s) => handled("promote@1")(s) && s.stableVersion === "iris-classifier-v2",
      "promoted",
    );
    expect(promoted.history?.[0]?.result).toBe("Promoted");

    await act(ns, "ops", "undo@1");
    const undone = await waitStatus(ns, "ops", handled("undo@1"), "undo handled");
    expect(undone.stableVersion).toBe("iris-classifier-v1");
    expect(undone.phase).toBe("RolledBack");
    expect(await serviceRevision(ns, "ops")).toBe(v1.stableRevision);

    await act(ns, "ops", "retry@1");
    await waitStatus(
      ns,
      "ops",
      (s) => handled("retry@1")(s) && s.pauseReason === "PauseStep",
      "retried to the pause",
    );

    await act(ns, "ops", "abort@1");
    const aborted = await waitStatus(ns, "ops", handled("abort@1"), "abort handled");
    expect(aborted.phase).toBe("RolledBack");
    expect(aborted.stableVersion).toBe("iris-classifier-v1");
    expect(await serviceRevision(ns, "ops")).toBe(v1.stableRevision);

    await act(ns, "ops", "rollback");
    await waitStatus(ns, "ops", handled("rollback"), "invalid action recorded");
    await expect
      .poll(() => ns.eventMessages("ops", "InvalidAction"))
      .toContain('"rollback" is not an action');
    const spec = await ns.kubectlOk(["get", "mdep", "ops", "-o", "jsonpath={.spec.modelVersion}"]);
    expect(spec).toBe("iris-classifier-v2"); // the operator never edited the spec
  });
});

describe("Prometheus unreachable", () => {
  it("never promotes, and aborts the rollout", async () => {
    const ns = await setup("noprom");
    const strategy = `canary:
  steps:
    - setWeight: 30
    - analysis: {interval: 2s, count: 2, metrics: [{name: error-rate, builtin: errorRate, max: 0.05}]}`;
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest("blind", "iris-classifier-v1", strategy));
    await waitStatus(ns, "blind", (s) => s.phase === "Available", "v1 Available");
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest("blind", "iris-classifier-v2", strategy));
    const s = await waitStatus(ns, "blind", (x) => x.phase === "RolledBack", "rolled back");
    expect(s.stableVersion).toBe("iris-classifier-v1");
    expect(s.history?.some((h) => h.result === "Promoted" && h.version === "iris-classifier-v2")).toBe(false);
    expect(s.history?.[0]?.message).toMatch(/could not be taken/);
  });
});

describe("routers", () => {
  it("Gateway API: the user's HTTPRoute carries each step's weights and keeps the user's fields", async () => {
    const ns = await setup("gateway");
    await ns.kubectlOk(["apply", "-f", "e2e/fixtures/routers/httproute.yaml"]);
    const strategy =
      "canary:\n  steps:\n    - setWeight: 30\n    - pause: {}\n    - setWeight: 70\n    - pause: {}";
    const manifest = (v: string) =>
      `${mdepManifest("iris", v, strategy)}  trafficRouting: {gatewayAPI: {httpRoute: iris}}\n`;
    await ns.kubectlOk(["apply", "-f", "-"], manifest("iris-classifier-v1"));
    await waitStatus(ns, "iris", (s) => s.phase === "Available", "v1 Available");
    await ns.kubectlOk(["apply", "-f", "-"], manifest("iris-classifier-v2"));
    const weights = async () =>
      ns.kubectlOk(["get", "httproute", "iris", "-o", "jsonpath={.spec.rules[0].backendRefs[*].weight}"]);
    await waitStatus(ns, "iris", (s) => s.pauseReason === "PauseStep" && s.currentStepIndex === 1, "step 1");
    expect(await weights()).toBe("70 30");
    await act(ns, "iris", "promote@1");
    await waitStatus(ns, "iris", (s) => s.currentStepIndex === 3, "step 3");
    expect(await weights()).toBe("30 70");
    await act(ns, "iris", "promote@2");
    const done = await waitStatus(ns, "iris", (s) => s.stableVersion === "iris-classifier-v2", "promoted");
    expect(await weights()).toBe("100 0");
    expect(await serviceRevision(ns, "iris-stable")).toBe(done.stableRevision);
    const route = await ns.kubectlOk(["get", "httproute", "iris", "-o", "json"]);
    const parsed = JSON.parse(route) as {
      spec: { hostnames: string[]; rules: { name?: string; timeouts?: unknown }[] };
    };
    expect(parsed.spec.hostnames).toEqual(["iris.example.test", "iris.internal.example.test"]);
    expect(parsed.spec.rules[0]?.timeouts).toEqual({ request: "10s" });
    expect(parsed.spec.rules.map((r) => r.name)).toEqual(["predict", "docs"]);
  });

  // A cohort (header or cookie) goes to the new version from the step that routes it until the rollout ends.
  it.each([
    {
      label: "Gateway API",
      resource: "httproute",
      fixture: "e2e/fixtures/routers/httproute.yaml",
      routing: "{gatewayAPI: {httpRoute: iris}}",
      list: "rules",
      headers: (entry: Json) => entry.matches[0].headers,
      backends: (entry: Json) => entry.backendRefs.map((b: Json) => `${b.name}:${b.weight}`),
      cohort: [{ name: "x-cohort", type: "Exact", value: "beta" }],
    },
    {
      label: "Istio",
      resource: "virtualservice",
      fixture: "e2e/fixtures/routers/virtualservice.yaml",
      routing: "{istio: {virtualService: iris}}",
      list: "http",
      headers: (entry: Json) => entry.match[0].headers,
      backends: (entry: Json) =>
        entry.route.map((d: Json) => `${d.destination.host.split(".")[0]}:${d.weight ?? ""}`),
      cohort: { "x-cohort": { exact: "beta" } },
    },
  ])(
    "$label: setHeaderRoute puts the cohort's route before the model's while the rollout runs; promotion removes it",
    async (c) => {
      const ns = await setup(`cohort-${c.resource}`);
      const route = readFileSync(c.fixture, "utf8").replaceAll("__NAMESPACE__", ns.name);
      await ns.kubectlOk(["apply", "-f", "-"], route);
      const strategy =
        "canary:\n  steps:\n    - setHeaderRoute: {match: [{header: x-cohort, value: beta}]}\n    - pause: {}\n" +
        "    - setWeight: 50\n    - pause: {}";
      const manifest = (v: string) => `${mdepManifest("iris", v, strategy)}  trafficRouting: ${c.routing}\n`;
      await ns.kubectlOk(["apply", "-f", "-"], manifest("iris-classifier-v1"));
      await waitStatus(ns, "iris", (s) => s.phase === "Available", "v1 Available");
      const userList = (await ns.getJson<Json>(c.resource, "iris"))?.spec[c.list];
      await ns.kubectlOk(["apply", "-f", "-"], manifest("iris-classifier-v2"));
      const list = async () => (await ns.getJson<Json>(c.resource, "iris"))?.spec[c.list] as Json[];

      const dogfood = await waitStatus(
        ns,
        "iris",
        (s) => s.currentStepIndex === 1,
        "step 1: the cohort only",
      );
      expect(dogfood.trafficMessage).toBe(
        `0% to iris-classifier-v2 through the ${c.routing.includes("gatewayAPI") ? "gatewayAPI" : "istio"} router; ` +
          "requests with header x-cohort: beta all go to iris-classifier-v2",
      );
      const held = await list();
      expect(held).toHaveLength(userList.length + 1);
      expect(c.headers(held[0] as Json)).toEqual(c.cohort);
      expect(c.backends(held[0] as Json)).toEqual(["iris-canary:100"]);
      expect(c.backends(held[1] as Json)).toEqual(["iris-stable:100", "iris-canary:0"]);

      await act(ns, "iris", "promote@1");
      await waitStatus(ns, "iris", (s) => s.currentStepIndex === 3, "step 3: the cohort and 50%");
      const weighted = await list();
      expect(c.headers(weighted[0] as Json)).toEqual(c.cohort);
      expect(c.backends(weighted[1] as Json)).toEqual(["iris-stable:50", "iris-canary:50"]);

      await act(ns, "iris", "promote@2");
      await waitStatus(ns, "iris", (s) => s.stableVersion === "iris-classifier-v2", "promoted");
      await expect.poll(async () => (await list()).length, { timeout: 10_000 }).toBe(userList.length);
      const after = await list();
      expect(c.backends(after[0] as Json)).toEqual(["iris-stable:100", "iris-canary:0"]);
      expect(JSON.stringify(after)).not.toContain("x-cohort");
    },
  );

  it("Istio: a shadow rollout mirrors a share of traffic in the VirtualService, then promotes", async () => {
    const ns = await setup("istio");
    const vs = readFileSync("e2e/fixtures/routers/virtualservice.yaml", "utf8").replaceAll(
      "__NAMESPACE__",
      ns.name,
    );
    await ns.kubectlOk(["apply", "-f", "-"], vs);
    const strategy = "shadow:\n  mirrorPercent: 40\n  duration: 6s";
    const manifest = (v: string) =>
      `${mdepManifest("iris", v, strategy)}  trafficRouting: {istio: {virtualService: iris}}\n`;
    await ns.kubectlOk(["apply", "-f", "-"], manifest("iris-classifier-v1"));
    await waitStatus(ns, "iris", (s) => s.phase === "Available", "v1 Available");
    await ns.kubectlOk(["apply", "-f", "-"], manifest("iris-classifier-v2"));
    const mirror = () =>
      ns.kubectlOk([
        "get",
        "virtualservice",
        "iris",
        "-o",
        "jsonpath={.spec.http[0].mirrorPercentage.value}",
      ]);
    await waitStatus(ns, "iris", (s) => s.stage === "Mirroring", "mirroring");
    await expect.poll(mirror, { timeout: 10_000 }).toBe("40");
    const mirrored = await waitStatus(ns, "iris", (s) => s.stage === "Mirroring", "mirroring");
    expect(mirrored.canaryWeight).toBe(0);
    await waitStatus(ns, "iris", (s) => s.stableVersion === "iris-classifier-v2", "promoted after 6 s");
    await expect.poll(mirror, { timeout: 10_000 }).toBe("");
    const host = await ns.kubectlOk([
      "get",
      "virtualservice",
      "iris",
      "-o",
      "jsonpath={.spec.http[1].route[0].destination.host}",
    ]);
    expect(host).toBe("docs");
  });
});
