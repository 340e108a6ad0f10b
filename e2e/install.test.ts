// The install as platform teams run it: the Helm chart lints, renders with
// default and non-default values, and every rendered object passes a
// server-side dry run on the real test apiserver (schema, defaulting,
// admission); the kustomize bases are the chart's defaults and dry-run too.
import { execFile } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import yaml from "js-yaml";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { kubectl, kubectlOk, waitFor } from "../hack/localcluster/kubectl.ts";
import { LABEL_DEPLOYMENT } from "../operator/api/contract.ts";
import { parseNotificationsConfig } from "../operator/notifications/config.ts";

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const chart = join(root, "charts/modelops-operator");
const kubeconfig = inject("kubeconfig");
const binDir = inject("binDir");
const opts = { kubeconfig, binDir };
const releaseNs = `modelops-install-${process.pid}`;
const installed: string[] = [];
/** Aggregated ClusterRoles applied for real (the built-in roles pick them up); deleted after. */
const aggregateRoles: string[] = [];
let helm = "";
const MONITORING_CRDS = [
  "servicemonitors.monitoring.coreos.com",
  "podmonitors.monitoring.coreos.com",
  "prometheusrules.monitoring.coreos.com",
];

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

/** helm as a user types it: in the repository, the chart by its relative path, no extra flags. */
function helmAsUser(args: string[]): Promise<string> {
  return run(helm, args, { cwd: root, maxBuffer: 64 << 20 }).then((r) => r.stdout);
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
  for (const role of aggregateRoles) await kubectl(["delete", "clusterrole", role, "--wait=false"], opts);
  await rm(join(root, "tmp", `install-values-${process.pid}.yaml`), { force: true });
  await rm(join(root, "tmp", `helm-package-${process.pid}`), { recursive: true, force: true });
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
      "ValidatingAdmissionPolicy",
      "ValidatingAdmissionPolicyBinding",
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
      "rbac.scope=namespace,replicaCount=3,serviceMonitor.enabled=true,podMonitor.enabled=true,prometheusRule.enabled=true",
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
    expect(kinds).toEqual(expect.arrayContaining(["ServiceMonitor", "PodMonitor", "PrometheusRule"]));
    // The PodMonitor finds the inference pods of every namespace by the label
    // the operator gives them, on the sidecar's metrics port.
    const podMonitor = objs.find((o) => o.kind === "PodMonitor") as unknown as {
      spec: {
        namespaceSelector: unknown;
        selector: { matchExpressions: unknown[] };
        podMetricsEndpoints: { port: string }[];
      };
    };
    expect(podMonitor.spec.namespaceSelector).toEqual({ any: true });
    expect(podMonitor.spec.selector.matchExpressions).toEqual([
      { key: LABEL_DEPLOYMENT, operator: "Exists" },
    ]);
    // The port's name in operator/core/proxy-sidecar.ts.
    expect(podMonitor.spec.podMetricsEndpoints.map((e) => e.port)).toEqual(["metrics"]);
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
    expect(bindings).toHaveLength(3);
    for (const binding of bindings)
      expect(binding.spec).toMatchObject({
        validationActions: ["Deny"],
        matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "models" } } },
      });
    expect(objs.filter((o) => o.kind === "ValidatingAdmissionPolicy")).toHaveLength(3);
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

  it("renders notification channels as the operator's config file, with get on exactly their Secrets; nothing when empty", async () => {
    const text = await template([
      "--set",
      "notifications.webhooks[0].name=ops,notifications.webhooks[0].url=https://hooks.example.com/modelops," +
        "notifications.webhooks[0].headersSecret=ops-hook-headers,notifications.webhooks[0].events={RolledBack,DriftCritical}",
      "--set",
      "notifications.webhooks[1].name=audit,notifications.webhooks[1].urlSecret.name=audit-hook," +
        "notifications.webhooks[1].urlSecret.key=url",
      "--set",
      "notifications.slack.webhookUrlSecret.name=slack-webhook",
    ]);
    const objs = objects(text);
    const config = objs.find(
      (o) => o.kind === "ConfigMap" && o.metadata.name === "modelops-operator-notifications",
    );
    // What the chart writes is what the operator reads.
    const file = (config as unknown as { data: Record<string, string> }).data["notifications.json"] ?? "";
    const channels = parseNotificationsConfig(file);
    expect(
      channels.map((c) => [c.name, c.format, c.url ?? c.urlSecret?.name, c.headersSecret, [...c.events]]),
    ).toEqual([
      [
        "ops",
        "webhook",
        "https://hooks.example.com/modelops",
        "ops-hook-headers",
        ["RolledBack", "DriftCritical"],
      ],
      ["audit", "webhook", "audit-hook", undefined, []],
      ["slack", "slack", "slack-webhook", undefined, []],
    ]);
    const deployment = deploymentOf(text);
    const pod = deployment.spec.template;
    expect(pod.spec.containers[0]?.args).toContain(
      "--notifications-config=/etc/modelops/notifications/notifications.json",
    );
    expect(pod.metadata.annotations?.["checksum/notifications"]).toMatch(/^[0-9a-f]{64}$/);
    const podSpec = pod.spec as unknown as {
      volumes: { name: string; configMap?: { name: string } }[];
      containers: { volumeMounts: { name: string; mountPath: string }[] }[];
    };
    expect(podSpec.volumes).toContainEqual({
      name: "notifications",
      configMap: { name: "modelops-operator-notifications" },
    });
    expect(podSpec.containers[0]?.volumeMounts).toContainEqual(
      expect.objectContaining({ name: "notifications", mountPath: "/etc/modelops/notifications" }),
    );
    const role = objs.find((o) => o.kind === "Role" && o.metadata.name === "modelops-operator-notifications");
    expect((role as unknown as Role).rules).toEqual([
      {
        apiGroups: [""],
        resources: ["secrets"],
        resourceNames: ["audit-hook", "ops-hook-headers", "slack-webhook"],
        verbs: ["get"],
      },
    ]);
    expect(
      objs.find((o) => o.kind === "RoleBinding" && o.metadata.name === "modelops-operator-notifications"),
    ).toBeDefined();
    await dryRun(text);
    const defaults = await template();
    expect(defaults).not.toMatch(/notifications/);
    await expect(template(["--set", "notifications.webhooks[0].name=ops"])).rejects.toThrow(
      /webhooks\/0.*missing property 'url'/s,
    );
    await expect(
      template([
        "--set",
        "notifications.slack.webhookUrlSecret.name=s,notifications.slack.events={Deployed}",
      ]),
    ).rejects.toThrow(/slack\/events/);
  });

  it("rejects values outside its schema", async () => {
    await expect(template(["--set", "rbac.scope=everywhere"])).rejects.toThrow(/rbac\/scope/);
    await expect(template(["--set", "replicas=3"])).rejects.toThrow(/additional properties 'replicas'/);
  });
});

type Deployment = {
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    replicas: number;
    template: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: {
        containers: {
          image: string;
          imagePullPolicy: string;
          args: string[];
          env: { name: string; value?: string }[];
          resources: Record<string, unknown>;
          securityContext: Record<string, unknown>;
        }[];
        securityContext: Record<string, unknown>;
        imagePullSecrets?: { name: string }[];
        nodeSelector?: Record<string, string>;
        tolerations?: unknown[];
        affinity?: Record<string, unknown>;
        priorityClassName?: string;
      };
    };
  };
};
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
type Role = Obj & { metadata: { labels: Record<string, string> }; rules: Rule[] };

const deploymentOf = (text: string) =>
  objects(text).find((o) => o.kind === "Deployment") as unknown as Deployment;
const KINDS = ["modelversions", "modeldeployments", "driftmonitors"];

describe("Helm chart as a user runs it", () => {
  it("`helm template` and `helm lint` need no flags", async () => {
    const text = await helmAsUser(["template", "charts/modelops-operator"]);
    expect(objects(text).map((o) => o.kind)).toContain("Deployment");
    // Neither the crds/ symlink warning nor a kubeVersion refusal.
    const lint = await run(helm, ["lint", "charts/modelops-operator", "--strict"], { cwd: root });
    expect(lint.stdout).toContain("0 chart(s) failed");
    expect(lint.stderr).not.toMatch(/symlink/i);
  });

  it("refuses a Kubernetes older than 1.30, given or discovered, with the reason", async () => {
    await expect(
      helmAsUser(["template", "charts/modelops-operator", "--kube-version", "1.29.4"]),
    ).rejects.toThrow(/requires Kubernetes >= 1.30.*v1.29.4/);
    // What helm install sees on a real cluster: the discovered API set names kinds.
    await expect(
      helmAsUser([
        "template",
        "charts/modelops-operator",
        "--kube-version",
        "1.20.0",
        "--api-versions",
        "apps/v1/Deployment",
      ]),
    ).rejects.toThrow(/requires Kubernetes >= 1.30/);
    await helmAsUser(["template", "charts/modelops-operator", "--kube-version", "1.30.0"]);
  });

  it("pulls REGISTRY/REPOSITORY:TAG, the tag defaulting to appVersion; the proxy its own image beside it, the fetcher the operator's", async () => {
    const appVersion = (
      yaml.load(await helmAsUser(["show", "chart", "charts/modelops-operator"])) as {
        appVersion: string;
      }
    ).appVersion;
    const envOf = (d: Deployment, name: string) =>
      d.spec.template.spec.containers[0]?.env.find((e) => e.name === name)?.value;
    const proxyImage = (d: Deployment) => envOf(d, "MODELOPS_PROXY_IMAGE");
    const fetcherImage = (d: Deployment) => envOf(d, "MODELOPS_FETCHER_IMAGE");
    const plain = deploymentOf(await helmAsUser(["template", "charts/modelops-operator"]));
    expect(plain.spec.template.spec.containers[0]?.image).toBe(`modelops-operator:${appVersion}`);
    expect(proxyImage(plain)).toBe(`modelops-proxy:${appVersion}`);
    expect(fetcherImage(plain)).toBe(`modelops-operator:${appVersion}`);
    const published = deploymentOf(
      await helmAsUser([
        "template",
        "charts/modelops-operator",
        ...["--set", "image.registry=registry.example:5000/ml,image.tag=1.2.3,image.pullPolicy=Always"],
        ...["--set", "imagePullSecrets[0].name=regcred"],
      ]),
    );
    const container = published.spec.template.spec.containers[0];
    expect(container?.image).toBe("registry.example:5000/ml/modelops-operator:1.2.3");
    expect(container?.imagePullPolicy).toBe("Always");
    expect(proxyImage(published)).toBe("registry.example:5000/ml/modelops-proxy:1.2.3");
    expect(fetcherImage(published)).toBe("registry.example:5000/ml/modelops-operator:1.2.3");
    expect(published.spec.template.spec.imagePullSecrets).toEqual([{ name: "regcred" }]);
    const digest = `sha256:${"a".repeat(64)}`;
    const pinned = deploymentOf(
      await helmAsUser(["template", "charts/modelops-operator", "--set", `image.digest=${digest}`]),
    );
    expect(pinned.spec.template.spec.containers[0]?.image).toBe(`modelops-operator@${digest}`);
  });

  it("renders every conventional value where it belongs; the apiserver accepts the result", async () => {
    const values = {
      global: { imageRegistry: "registry.example", anyParentValue: { x: 1 } },
      nameOverride: "mlops",
      fullnameOverride: "ml-operator",
      extraArgs: ["--mlflow-tracking-uri=http://mlflow.{{ .Release.Namespace }}:5000"],
      extraEnv: [{ name: "NODE_OPTIONS", value: "--max-old-space-size=384" }],
      podSecurityContext: { fsGroup: 65532 },
      securityContext: { runAsNonRoot: true },
      resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } },
      nodeSelector: { "kubernetes.io/os": "linux" },
      tolerations: [{ key: "dedicated", operator: "Equal", value: "ml", effect: "NoSchedule" }],
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: "kubernetes.io/arch", operator: "In", values: ["amd64"] }] },
            ],
          },
        },
      },
      priorityClassName: "modelops-critical",
      podAnnotations: { "example.com/team": "ml" },
      podLabels: { team: "ml" },
      extraObjects: [
        {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "{{ .Release.Name }}-extra" },
          data: { a: "b" },
        },
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: as-a-string\n  namespace: {{ .Release.Namespace }}\n",
      ],
    };
    const file = join(root, "tmp", `install-values-${process.pid}.yaml`);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, yaml.dump(values));
    const text = await helmAsUser([
      "template",
      "modelops-operator",
      "charts/modelops-operator",
      "-n",
      releaseNs,
      "-f",
      file,
    ]);
    const objs = objects(text);
    const d = deploymentOf(text);
    expect(d.metadata.name).toBe("ml-operator");
    expect(d.metadata.labels["app.kubernetes.io/name"]).toBe("mlops");
    const pod = d.spec.template;
    const container = pod.spec.containers[0];
    expect(container?.image).toBe("registry.example/modelops-operator:0.1.0");
    expect(container?.args).toContain(`--mlflow-tracking-uri=http://mlflow.${releaseNs}:5000`);
    expect(container?.env).toContainEqual({ name: "NODE_OPTIONS", value: "--max-old-space-size=384" });
    // Merged into the restricted defaults, which stay.
    expect(pod.spec.securityContext).toMatchObject({ fsGroup: 65532, runAsNonRoot: true, runAsUser: 65532 });
    expect(container?.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true });
    expect(container?.resources).toEqual(values.resources);
    expect(pod.spec.nodeSelector).toEqual(values.nodeSelector);
    expect(pod.spec.tolerations).toEqual(values.tolerations);
    expect(pod.spec.affinity).toEqual(values.affinity);
    expect(pod.spec.priorityClassName).toBe("modelops-critical");
    expect(pod.metadata.annotations).toEqual({ "example.com/team": "ml" });
    expect(pod.metadata.labels).toMatchObject({ team: "ml", "app.kubernetes.io/name": "mlops" });
    const configMaps = objs
      .filter((o) => o.kind === "ConfigMap")
      .map((o) => `${o.metadata.namespace ?? ""}/${o.metadata.name}`);
    expect(configMaps).toEqual(
      expect.arrayContaining(["/modelops-operator-extra", `${releaseNs}/as-a-string`]),
    );
    for (const o of objs.filter((o) => o.kind !== "CustomResourceDefinition" && o.kind !== "ConfigMap"))
      expect(o.metadata.name, o.kind).toMatch(/^ml-operator|^modelops-operator$/);
    await dryRun(text);
  });

  it("refuses typos, at the top and inside its own objects, and accepts free-form maps", async () => {
    const tpl = (set: string) => helmAsUser(["template", "charts/modelops-operator", "--set", set]);
    await expect(tpl("fullNameOverride=x")).rejects.toThrow(/additional properties 'fullNameOverride'/);
    await expect(tpl("extraArg[0]=--x")).rejects.toThrow(/additional properties 'extraArg'/);
    await expect(tpl("podSecurityContexts.fsGroup=1")).rejects.toThrow(
      /additional properties 'podSecurityContexts'/,
    );
    await expect(tpl("image.regsitry=r")).rejects.toThrow(/additional properties 'regsitry'/);
    await expect(tpl("createClusterAggregateRole=false")).rejects.toThrow(/additional properties/);
    await expect(tpl("extraArgs=--x")).rejects.toThrow(/extraArgs/);
    await expect(tpl("image.digest=latest")).rejects.toThrow(/digest/);
    await expect(tpl("podMonitor.enable=true")).rejects.toThrow(/additional properties 'enable'/);
    await expect(tpl("podMonitor.interval=15")).rejects.toThrow(/podMonitor\/interval/);
    await tpl("global.imageRegistry=r,global.someParentChart.enabled=true,podSecurityContext.fsGroup=1");
  });

  it("renders a PodDisruptionBudget only with more than one replica", async () => {
    const kindsWith = async (set: string) =>
      objects(await helmAsUser(["template", "charts/modelops-operator", "--set", set])).map((o) => o.kind);
    expect(await kindsWith("replicaCount=1")).not.toContain("PodDisruptionBudget");
    expect(await kindsWith("replicaCount=2")).toContain("PodDisruptionBudget");
    expect(await kindsWith("replicaCount=3,podDisruptionBudget.enabled=false")).not.toContain(
      "PodDisruptionBudget",
    );
  });

  it("aggregates the three kinds into view (read) and edit/admin (write), or not at all", async () => {
    const roles = objects(await helmAsUser(["template", "charts/modelops-operator"])).filter(
      (o) => o.kind === "ClusterRole" && o.metadata.name.includes("aggregate"),
    ) as Role[];
    expect(roles.map((r) => r.metadata.name).sort()).toEqual([
      "release-name-modelops-operator-aggregate-to-admin",
      "release-name-modelops-operator-aggregate-to-edit",
      "release-name-modelops-operator-aggregate-to-view",
    ]);
    const verbsOn = (role: Role, resource: string) =>
      role.rules
        .filter((r) => r.apiGroups.includes("modelops.io") && r.resources.includes(resource))
        .flatMap((r) => r.verbs);
    for (const role of roles) {
      const level = role.metadata.name.replace(/.*-aggregate-to-/, "");
      expect(role.metadata.labels[`rbac.authorization.k8s.io/aggregate-to-${level}`]).toBe("true");
      for (const kind of KINDS) {
        expect(verbsOn(role, kind)).toEqual(expect.arrayContaining(["get", "list", "watch"]));
        expect(verbsOn(role, `${kind}/status`)).toEqual(expect.arrayContaining(["get", "list", "watch"]));
        const writes = ["create", "update", "patch", "delete"];
        if (level === "view") expect(verbsOn(role, kind).filter((v) => writes.includes(v))).toEqual([]);
        else expect(verbsOn(role, kind)).toEqual(expect.arrayContaining(writes));
      }
    }
    const off = await helmAsUser([
      "template",
      "charts/modelops-operator",
      "--set",
      "createClusterAggregateRoles=false",
    ]);
    expect(off).not.toContain("aggregate-to");
    const namespaced = await helmAsUser([
      "template",
      "charts/modelops-operator",
      "--set",
      "rbac.scope=namespace",
    ]);
    expect(namespaced).not.toContain("aggregate-to");
  });

  it("the built-in view and edit roles, bound in a namespace, then cover the three kinds", async () => {
    const name = `modelops-aggregate-${process.pid}`;
    const text = await helmAsUser([
      "template",
      name,
      "charts/modelops-operator",
      "--show-only",
      "templates/aggregate-roles.yaml",
    ]);
    aggregateRoles.push(...objects(text).map((o) => o.metadata.name));
    await kubectlOk(["apply", "--server-side", "--field-manager=install-test", "-f", "-"], {
      ...opts,
      input: text,
    });
    await kubectlOk(
      ["-n", releaseNs, "create", "rolebinding", "viewer", "--clusterrole=view", "--user=ada"],
      opts,
    );
    await kubectlOk(
      ["-n", releaseNs, "create", "rolebinding", "editor", "--clusterrole=edit", "--user=bob"],
      opts,
    );
    const can = async (user: string, verb: string, resource: string) =>
      (
        await kubectl(
          ["-n", releaseNs, "auth", "can-i", verb, `${resource}.modelops.io`, `--as=${user}`],
          opts,
        )
      ).stdout.trim();
    // The clusterrole-aggregation controller copies the rules in shortly.
    await waitFor(
      async () => ((await can("bob", "create", "modeldeployments")) === "yes" ? true : undefined),
      {
        timeoutMs: 30_000,
        intervalMs: 500,
        description: "edit covers modeldeployments",
      },
    );
    for (const kind of KINDS) {
      expect(await can("ada", "list", kind)).toBe("yes");
      expect(await can("ada", "delete", kind)).toBe("no");
      expect(await can("bob", "patch", kind)).toBe("yes");
      expect(await can("bob", "delete", kind)).toBe("yes");
    }
  });

  it("`helm package` output installs (server-side dry run of helm install against the apiserver)", async () => {
    const dest = join(root, "tmp", `helm-package-${process.pid}`);
    await mkdir(dest, { recursive: true });
    const out = await helmAsUser(["package", "charts/modelops-operator", "--destination", dest]);
    const tgz = out.trim().split(" ").pop() ?? "";
    expect(tgz).toMatch(/modelops-operator-0\.1\.0\.tgz$/);
    // The package carries the CRDs as files (not a dangling link).
    const listing = (await run("tar", ["-tzf", tgz])).stdout;
    expect(listing).toContain("modelops-operator/crds/modelops.io_modeldeployments.yaml");
    const installedText = await helmAsUser([
      "install",
      "modelops-operator",
      tgz,
      ...["-n", releaseNs, "--kubeconfig", kubeconfig, "--dry-run=server"],
      ...["--set", "fullnameOverride=modelops-pkg,createClusterAggregateRoles=false"],
    ]);
    expect(installedText).toContain("STATUS: pending-install");
    const manifest = installedText.slice(
      installedText.indexOf("MANIFEST:") + "MANIFEST:".length,
      installedText.indexOf("NOTES:"),
    );
    const applied = await dryRun(manifest);
    expect(applied).toMatch(/deployment.apps\/modelops-pkg serverside-applied \(server dry run\)/);
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
          { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "modelops-system" } } },
        ]);
      }
      // The namespace does not exist yet; dry-run what it holds in ours.
      const moved = text.replaceAll("namespace: modelops-system", `namespace: ${releaseNs}`);
      await dryRun(moved);
    }
  });
});
