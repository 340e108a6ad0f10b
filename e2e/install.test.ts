// The install as platform teams run it: the Helm chart lints, renders with
// default and non-default values, and every rendered object passes a
// server-side dry run on the real test apiserver (schema, defaulting,
// admission); the kustomize bases are the chart's defaults and dry-run too.
import { execFile } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import yaml from "js-yaml";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { kubectl, kubectlOk, waitFor } from "../hack/localcluster/kubectl.ts";

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const chart = join(root, "charts/modelops-operator");
const kubeconfig = inject("kubeconfig");
const binDir = inject("binDir");
const opts = { kubeconfig, binDir };
const releaseNs = `modelops-install-${process.pid}`;
const installed: string[] = [];
let helm = "";
const MONITORING_CRDS = ["servicemonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com"];

type Obj = { kind: string; metadata: { name: string; namespace?: string }; spec?: Record<string, unknown> };

async function helmRun(args: string[]): Promise<string> {
  return (await run(helm, args, { maxBuffer: 64 << 20 })).stdout;
}

function template(values: string[] = []): Promise<string> {
  return helmRun([
    "template",
    "modelops-operator",
    chart,
    "-n",
    releaseNs,
    "--kube-version",
    "1.34.4",
    ...values,
  ]);
}

async function dryRun(manifests: string): Promise<string> {
  return kubectlOk(
    // --force-conflicts: the harness installed the CRDs with another field manager.
    [
      "apply",
      "--server-side",
      "--force-conflicts",
      "--dry-run=server",
      "--field-manager=install-test",
      "-f",
      "-",
    ],
    {
      ...opts,
      input: manifests,
    },
  );
}

const objects = (text: string) => (yaml.loadAll(text) as (Obj | null)[]).filter((o): o is Obj => o !== null);

beforeAll(async () => {
  helm = (await run("bash", [join(root, "hack/helm.sh")])).stdout.trim().split("\n").pop() ?? "";
  await kubectlOk(["create", "namespace", releaseNs], opts);
  await kubectlOk(["label", "namespace", releaseNs, "pod-security.kubernetes.io/enforce=restricted"], opts);
  const { stdout } = await run("bash", [join(root, "hack/helm-monitoring-crds.sh")]);
  const present = await kubectl(["get", "crd", MONITORING_CRDS[0] ?? ""], opts);
  const files = stdout.trim().split("\n");
  await kubectlOk(["apply", "--server-side", ...files.flatMap((f) => ["-f", f])], opts);
  if (present.code !== 0) installed.push(...MONITORING_CRDS);
  // kubectl wait errors while a new CRD has no conditions yet; poll instead.
  const crds = MONITORING_CRDS.map((c) => `crd/${c}`);
  await waitFor(
    async () =>
      (await kubectl(["wait", "--for=condition=Established", "--timeout=5s", ...crds], opts)).code === 0 ||
      undefined,
    { timeoutMs: 60_000, intervalMs: 500, description: "monitoring CRDs established" },
  );
});

afterAll(async () => {
  await kubectl(["delete", "namespace", releaseNs, "--wait=false"], opts);
  for (const crd of installed) await kubectl(["delete", "crd", crd, "--wait=false"], opts);
});

describe("Helm chart", () => {
  it("lints clean, strictly", async () => {
    const out = await helmRun(["lint", chart, "--strict", "--kube-version", "1.34.4"]);
    expect(out).toContain("0 chart(s) failed");
  });

  it("renders defaults: two replicas with leader election, cluster-wide RBAC, restricted pods; the apiserver accepts them", async () => {
    const text = await template(["--include-crds"]);
    const objs = objects(text);
    const kinds = objs.map((o) => o.kind).sort();
    expect(kinds).toEqual([
      "ClusterRole",
      "ClusterRole",
      "ClusterRole",
      "ClusterRoleBinding",
      "ClusterRoleBinding",
      "ConfigMap",
      "CustomResourceDefinition",
      "CustomResourceDefinition",
      "CustomResourceDefinition",
      "Deployment",
      "PodDisruptionBudget",
      "RoleBinding",
      "Service",
      "ServiceAccount",
      "ValidatingAdmissionPolicy",
      "ValidatingAdmissionPolicy",
      "ValidatingAdmissionPolicyBinding",
      "ValidatingAdmissionPolicyBinding",
    ]);
    const deployment = objs.find((o) => o.kind === "Deployment") as unknown as {
      spec: {
        replicas: number;
        template: {
          spec: {
            containers: { args: string[]; securityContext: Record<string, unknown> }[];
            securityContext: Record<string, unknown>;
          };
        };
      };
    };
    expect(deployment.spec.replicas).toBe(2);
    const container = deployment.spec.template.spec.containers[0];
    expect(container?.args).toContain("--leader-elect");
    expect(container?.args.some((a) => a.startsWith("--namespace"))).toBe(false);
    expect(container?.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(deployment.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true });
    const applied = await dryRun(text);
    expect(applied).toMatch(/deployment.apps\/modelops-operator serverside-applied \(server dry run\)/);
    // The restricted Pod Security Standard admits a pod of the template
    // (the namespace enforces it; a violation is a 403 from admission).
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "psa-probe", namespace: releaseNs },
      spec: { ...deployment.spec.template.spec, serviceAccountName: "default" },
    };
    await kubectlOk(["create", "--dry-run=server", "-f", "-"], { ...opts, input: JSON.stringify(pod) });
    const privileged = { ...pod, spec: { ...pod.spec, securityContext: {} } };
    const denied = await kubectl(["create", "--dry-run=server", "-f", "-"], {
      ...opts,
      input: JSON.stringify(privileged),
    });
    expect(denied.stderr).toMatch(/violates PodSecurity "restricted/);
  });

  it("renders non-default values: namespaced RBAC, monitoring, Prometheus flags; the apiserver accepts them", async () => {
    const text = await template([
      "--set",
      "rbac.scope=namespace,replicaCount=3,serviceMonitor.enabled=true,prometheusRule.enabled=true",
      "--set",
      // The credentials' Role goes to their namespace; ours exists for the dry run.
      `prometheus.address=http://prometheus.monitoring:9090,prometheus.authSecret=${releaseNs}/prom-token`,
      "--set",
      "leaderElection.enabled=false,podDisruptionBudget.enabled=false,grafanaDashboard.enabled=false",
      "--set",
      "image.tag=9.9.9,logLevel=debug,prometheusRule.stuckFor=45m",
    ]);
    const objs = objects(text);
    const kinds = objs.map((o) => o.kind);
    expect(kinds.filter((k) => k.startsWith("Cluster"))).toEqual([]);
    expect(kinds).not.toContain("PodDisruptionBudget");
    expect(kinds).toEqual(expect.arrayContaining(["ServiceMonitor", "PrometheusRule"]));
    expect(text).toContain(`--namespace=${releaseNs}`);
    expect(text).toContain(`--prometheus-auth-secret=${releaseNs}/prom-token`);
    expect(text).toContain("image: modelops-operator:9.9.9");
    expect(text).not.toContain("--leader-elect");
    const rule = objs.find((o) => o.kind === "PrometheusRule") as unknown as {
      spec: { groups: { rules: { alert: string; for?: string }[] }[] };
    };
    const alerts = rule.spec.groups[0]?.rules ?? [];
    expect(alerts.map((r) => r.alert)).toEqual([
      "ModelRolloutRolledBack",
      "ModelRolloutStuck",
      "ModelDriftCritical",
      "ModelOpsOperatorDown",
      "ModelOpsReconcileErrors",
    ]);
    expect(alerts.find((r) => r.alert === "ModelRolloutStuck")?.for).toBe("45m");
    await dryRun(text);
  });

  it("grants Secrets by name where it can: the Prometheus credentials through a Role in their namespace", async () => {
    const text = await template(["--set", "prometheus.authSecret=monitoring/prom-token"]);
    const secretRules = objects(text).flatMap((o) =>
      ((o as { rules?: { resources: string[]; resourceNames?: string[] }[] }).rules ?? [])
        .filter((r) => r.resources.includes("secrets"))
        .map((r) => `${o.kind}/${o.metadata.name} ${o.metadata.namespace ?? ""} ${r.resourceNames ?? "*"}`),
    );
    expect(secretRules.sort()).toEqual([
      "ClusterRole/modelops-operator-webhook-secrets  *",
      "Role/modelops-operator-prometheus-auth monitoring prom-token",
    ]);
  });

  it("renders the admission policy for namespaced installs too, scoped to the watched namespace", async () => {
    const objs = objects(await template(["--set", "rbac.scope=namespace,watchNamespace=models"]));
    const bindings = objs.filter((o) => o.kind === "ValidatingAdmissionPolicyBinding");
    expect(bindings).toHaveLength(2);
    for (const binding of bindings)
      expect(binding.spec).toMatchObject({
        validationActions: ["Deny"],
        matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "models" } } },
      });
    expect(objs.filter((o) => o.kind === "ValidatingAdmissionPolicy")).toHaveLength(2);
  });

  it("turns the admission policy off only together with the operator's reading of webhook Secrets", async () => {
    await expect(template(["--set", "admissionPolicy.enabled=false"])).rejects.toThrow(
      /rbac.webhookSecrets needs admissionPolicy.enabled/,
    );
    const text = await template(["--set", "admissionPolicy.enabled=false,rbac.webhookSecrets=false"]);
    expect(text).not.toContain("ValidatingAdmissionPolicy");
    expect(text).not.toMatch(/resources: \[secrets\]/);
  });

  it("renders the outbound fence values as the operator's flags, and nothing when empty", async () => {
    const text = await template([
      ...["--set", "outbound.allow={prometheus.monitoring.svc,10.20.0.0/16}"],
      ...["--set", "outbound.serviceCIDRs={10.96.0.0/12,fd00:10:96::/112},outbound.podCIDRs={10.244.0.0/16}"],
    ]);
    expect(text).toContain("- --outbound-allow=prometheus.monitoring.svc,10.20.0.0/16");
    expect(text).toContain("- --service-cidr=10.96.0.0/12,fd00:10:96::/112");
    expect(text).toContain("- --pod-cidr=10.244.0.0/16");
    expect(await template()).not.toMatch(/--outbound-allow|--service-cidr|--pod-cidr/);
    await expect(template(["--set", "outbound.allow={a b}"])).rejects.toThrow(/outbound/);
    await expect(template(["--set", "outbound.podCIDRs={10.0.0.0}"])).rejects.toThrow(/podCIDRs/);
  });

  it("passes the default MLflow tracking server to the operator, and nothing when empty", async () => {
    const text = await template(["--set", "mlflow.trackingUri=http://mlflow.mlops:5000"]);
    expect(text).toContain("- --mlflow-tracking-uri=http://mlflow.mlops:5000");
    expect(await template()).not.toContain("--mlflow-tracking-uri");
    await expect(template(["--set", "mlflow.trackingUri=mlflow:5000"])).rejects.toThrow(/trackingUri/);
  });

  it("rejects values outside its schema", async () => {
    await expect(template(["--set", "rbac.scope=everywhere"])).rejects.toThrow(/rbac\/scope/);
    await expect(template(["--set", "replicas=3"])).rejects.toThrow(/additional properties 'replicas'/);
  });
});

describe("kustomize bases", () => {
  it("are generated from the chart's defaults, with the current CRDs", async () => {
    const { stdout } = await run(process.execPath, [
      join(root, "hack/helm-config.ts"),
      "--check",
      "--helm",
      helm,
    ]);
    expect(stdout).toContain("up to date");
  });

  it("config/default and config/namespaced dry-run on the apiserver", async () => {
    for (const base of ["default", "namespaced"]) {
      const text = await kubectlOk(["kustomize", join(root, "config", base)], opts);
      const ns = objects(text).find((o) => o.kind === "Namespace");
      expect(ns?.metadata.name).toBe("modelops-system");
      if (base === "namespaced") {
        // Nothing bound cluster-wide; the admission policy where the operator acts.
        expect(objects(text).filter((o) => o.kind === "ClusterRoleBinding")).toEqual([]);
        const bindings = objects(text).filter((o) => o.kind === "ValidatingAdmissionPolicyBinding");
        expect(bindings.map((b) => b.spec?.matchResources)).toEqual([
          { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "modelops-system" } } },
          { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "modelops-system" } } },
        ]);
      }
      // The namespace does not exist yet; dry-run what it holds in ours.
      const moved = text.replaceAll("namespace: modelops-system", `namespace: ${releaseNs}`);
      await dryRun(moved);
    }
  });
});
