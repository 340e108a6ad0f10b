// The chart's RBAC, used for real: an operator authenticated as the chart's
// ServiceAccount (impersonated) in namespaced mode rolls a model out with
// only the rules the chart grants, cannot see other namespaces, and fails to
// reconcile once one rule is taken away — so the rules are all needed.
// (The whole suite as the cluster-wide ServiceAccount: npm run test:rbac.)
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import yaml from "js-yaml";
import { afterAll, describe, expect, inject, it } from "vitest";
import { kubectl, kubectlOk, waitFor } from "../hack/localcluster/kubectl.ts";
import { createPrometheusProvider } from "../operator/analysis/prometheus.ts";
import type { RunningManager } from "../operator/manager.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { scrapeMetric, startInProcess } from "./harness/operator.ts";
import { impersonating } from "./harness/rbac.ts";
import { mdepManifest, rolloutStatus, waitStatus } from "./harness/rollout.ts";

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const kubeconfig = inject("kubeconfig");
const binDir = inject("binDir");
const opts = { kubeconfig, binDir };
const cleanups: (() => Promise<unknown>)[] = [];

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
type Obj = { kind: string; metadata: { name: string; namespace?: string }; rules?: Rule[] };

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** The chart's RBAC objects for a release in `ns`, rendered with `--set` values. */
async function renderRbac(ns: TestNamespace, release: string, values: string[]): Promise<Obj[]> {
  const helm = (await run("bash", [join(root, "hack/helm.sh")])).stdout.trim().split("\n").pop() ?? "";
  const { stdout } = await run(helm, [
    ...["template", release, join(root, "charts/modelops-operator"), "-n", ns.name],
    ...["--kube-version", "1.34.4", ...values.flatMap((v) => ["--set", v])],
  ]);
  const rbacKinds = ["ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"];
  return (yaml.loadAll(stdout) as Obj[]).filter((o) => o && rbacKinds.includes(o.kind));
}

/** Applies RBAC objects, removing the cluster-scoped ones after the file. */
async function applyRbac(objs: Obj[]): Promise<void> {
  await kubectlOk(["apply", "-f", "-"], { ...opts, input: objs.map((o) => JSON.stringify(o)).join("\n") });
  cleanups.push(() =>
    Promise.all(
      objs
        .filter((o) => o.kind.startsWith("Cluster"))
        .map((o) => kubectl(["delete", o.kind.toLowerCase(), o.metadata.name, "--wait=false"], opts)),
    ),
  );
}

/** The chart's RBAC in namespaced mode for `ns`, as objects; `edit` may change the operator's rules. */
async function chartRbac(
  ns: TestNamespace,
  release: string,
  edit?: (rules: Rule[]) => Rule[],
): Promise<Obj[]> {
  const objs = await renderRbac(ns, release, [
    "rbac.scope=namespace",
    `prometheus.authSecret=${ns.name}/prom-token`,
  ]);
  const operatorRole = objs.find(
    (o) => o.kind === "Role" && o.metadata.name === `${release}-modelops-operator`,
  );
  if (!operatorRole?.rules) throw new Error("the chart rendered no operator Role");
  if (edit) operatorRole.rules = edit(operatorRole.rules);
  return objs;
}

/** Installs the RBAC and starts an operator for `ns` as the chart's ServiceAccount. */
async function operatorAs(ns: TestNamespace, objs: Obj[]): Promise<RunningManager> {
  await applyRbac(objs);
  const path = join(dirname(inject("operatorKubeconfig")), `sa-${ns.name}.kubeconfig`);
  const sa = `system:serviceaccount:${ns.name}:modelops-operator`;
  writeFileSync(path, impersonating(readFileSync(inject("operatorKubeconfig"), "utf8"), sa));
  const operator = await startInProcess({
    kubeconfig: path,
    namespace: ns.name,
    leaderElect: true,
    prometheus: createPrometheusProvider({ address: "http://127.0.0.1:9", timeoutMs: 1000 }),
  });
  cleanups.push(() => operator.stop());
  return operator;
}

async function namespace(prefix: string): Promise<TestNamespace> {
  const ns = await createTestNamespace(prefix, kubeconfig, binDir);
  cleanups.push(() => ns.delete());
  await ns.applySampleVersions();
  return ns;
}

const STRATEGY = "canary:\n  steps:\n    - setWeight: 50\n    - pause: {}";

describe("chart RBAC, namespaced mode", () => {
  it("is enough to roll a model out in the watched namespace, and grants nothing outside it", async () => {
    const ns = await namespace("rbac-ns");
    const release = `r${randomBytes(3).toString("hex")}`;
    const objs = await chartRbac(ns, release);
    await operatorAs(ns, objs);
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest("iris", "iris-classifier-v1", STRATEGY));
    await waitStatus(ns, "iris", (s) => s.phase === "Available", "v1 Available");
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest("iris", "iris-classifier-v2", STRATEGY));
    await waitStatus(ns, "iris", (s) => s.pauseReason === "PauseStep", "paused");
    await ns.kubectlOk(["annotate", "mdep", "iris", "modelops.io/action=promote@1", "--overwrite"]);
    await waitStatus(ns, "iris", (s) => s.stableVersion === "iris-classifier-v2", "promoted");
    const events = await ns.kubectlOk(["get", "events.events.k8s.io", "-o", "name"]);
    expect(events.trim()).not.toBe("");
    const lease = await ns.kubectlOk(["get", "lease", "-o", "name"]);
    expect(lease).toContain("modelops-operator-leader");

    const as = `--as=system:serviceaccount:${ns.name}:modelops-operator`;
    const canI = async (...args: string[]) =>
      (await kubectl(["auth", "can-i", as, ...args], opts)).stdout.trim();
    expect(await canI("patch", "deployments.apps", "-n", ns.name)).toBe("yes");
    expect(await canI("list", "modeldeployments.modelops.io", "-n", "default")).toBe("no");
    expect(await canI("list", "modeldeployments.modelops.io", "--all-namespaces")).toBe("no");
    expect(await canI("get", "secrets", "-n", "default")).toBe("no");
    expect(await canI("create", "pods", "-n", ns.name)).toBe("no");
    // Secrets: get by name only (webhook secretRefs in the watched namespace,
    // the admission policy vouching for their authors); never list or watch.
    expect(await canI("get", "secrets/prom-token", "-n", ns.name)).toBe("yes");
    expect(await canI("list", "secrets", "-n", ns.name)).toBe("no");
    expect(await canI("watch", "secrets", "-n", ns.name)).toBe("no");
    expect(objs.filter((o) => o.kind.startsWith("Cluster")).map((o) => o.metadata.name)).toEqual([]);
  });
});

describe("a missing rule", () => {
  it("makes reconciles fail: without patch on Services the model is never served", async () => {
    const ns = await namespace("rbac-missing");
    const release = `r${randomBytes(3).toString("hex")}`;
    const withoutServicePatch = (rules: Rule[]) =>
      rules.map((r) =>
        r.resources.includes("services")
          ? { ...r, verbs: r.verbs.filter((v) => v !== "patch" && v !== "create") }
          : r,
      );
    const operator = await operatorAs(ns, await chartRbac(ns, release, withoutServicePatch));
    await ns.kubectlOk(["apply", "-f", "-"], mdepManifest("iris", "iris-classifier-v1", STRATEGY));
    const metrics = `http://${operator.metricsAddress}/metrics`;
    const forbidden = await waitFor(
      async () => {
        const n = await scrapeMetric(metrics, "modelops_kube_requests_total", { verb: "apply", code: "403" });
        return n && n > 0 ? n : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, description: "a 403 on applying the Service" },
    );
    expect(forbidden).toBeGreaterThan(0);
    expect(
      await scrapeMetric(metrics, "controller_runtime_reconcile_errors_total", {
        controller: "modeldeployment",
      }),
    ).toBeGreaterThan(0);
    expect(await ns.kubectl(["get", "service", "iris"]).then((r) => r.code)).not.toBe(0);
    expect((await rolloutStatus(ns, "iris"))?.phase).not.toBe("Available");
  });
});

describe("chart RBAC, cluster mode without webhook Secrets", () => {
  it("reads only the Prometheus credentials, by name, in their namespace", async () => {
    const ns = await namespace("rbac-secrets");
    const release = `r${randomBytes(3).toString("hex")}`;
    await applyRbac(
      await renderRbac(ns, release, [
        "rbac.webhookSecrets=false,admissionPolicy.enabled=false",
        `prometheus.authSecret=${ns.name}/prom-token`,
      ]),
    );
    const as = `--as=system:serviceaccount:${ns.name}:modelops-operator`;
    const canI = async (...args: string[]) =>
      (await kubectl(["auth", "can-i", as, ...args], opts)).stdout.trim();
    expect(await canI("list", "deployments.apps", "--all-namespaces")).toBe("yes");
    expect(await canI("get", "secrets/prom-token", "-n", ns.name)).toBe("yes");
    expect(await canI("get", "secrets/other", "-n", ns.name)).toBe("no");
    expect(await canI("get", "secrets/prom-token", "-n", "default")).toBe("no");
    expect(await canI("list", "secrets", "-n", ns.name)).toBe("no");
  });
});
