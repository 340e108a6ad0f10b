// A real Argo CD for the GitOps tests: its repo server and application
// controller (built from its Go module by hack/argocd.sh) on loopback, with a
// Redis, against the shared test cluster. Its argocd-cm starts from Argo CD's
// defaults and then gets the project's config/argocd patch applied exactly as
// README.md tells a user to (`kubectl kustomize` + `kubectl patch`).
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join, resolve } from "node:path";
import yaml from "js-yaml";
import { kubectl, kubectlOk, waitFor } from "../../hack/localcluster/kubectl.ts";
import {
  type Component,
  freePorts,
  pollUntil,
  startComponent,
  stopComponents,
  track,
  untrack,
} from "../../hack/localcluster/procs.ts";

export const ARGOCD_NAMESPACE = "argocd";
const root = resolve(import.meta.dirname, "../..");
const CRDS = ["applications.argoproj.io", "appprojects.argoproj.io"];

/** hack/argocd.sh (cached by version): the directory with argocd, redis and the CRDs. */
export function argocdBuild(): string {
  const out = execFileSync("bash", [join(root, "hack/argocd.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 64 << 20,
  });
  return out.trim().split("\n").pop() ?? "";
}

export interface ArgoCd {
  /** The multi-call binary, for `argocd admin` commands (resource actions). */
  binary: string;
  /** The test cluster as Argo CD knows it: an Application's spec.destination.server. */
  server: string;
  /** How often the controller compares every Application with git (and re-reads git). */
  resyncSeconds: number;
  stop(): Promise<void>;
}

// The minimum Argo CD's own install manifests ship: settings ConfigMaps and
// Secret, and the default AppProject (which argocd-server would create).
const BASE = `
apiVersion: v1
kind: ConfigMap
metadata: {name: argocd-cm, namespace: argocd, labels: {app.kubernetes.io/part-of: argocd}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: argocd-rbac-cm, namespace: argocd, labels: {app.kubernetes.io/part-of: argocd}}
---
apiVersion: v1
kind: Secret
metadata: {name: argocd-secret, namespace: argocd, labels: {app.kubernetes.io/part-of: argocd}}
stringData: {server.secretkey: gitops-test}
---
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: default, namespace: argocd}
spec:
  sourceRepos: ["*"]
  destinations: [{server: "*", namespace: "*"}]
  clusterResourceWhitelist: [{group: "*", kind: "*"}]
`;

export async function startArgoCd(opts: {
  kubeconfig: string;
  binDir: string;
  dir: string;
  resyncSeconds?: number;
}): Promise<ArgoCd> {
  const build = argocdBuild();
  const k = { kubeconfig: opts.kubeconfig, binDir: opts.binDir };
  const crdFiles = ["application-crd.yaml", "appproject-crd.yaml"].flatMap((f) => ["-f", join(build, f)]);
  await kubectlOk(["apply", "--server-side", ...crdFiles], k);
  // A CRD created a moment ago may have no conditions yet, which `kubectl wait` reports as an error.
  const established = [
    "wait",
    "--for=condition=Established",
    "--timeout=30s",
    ...CRDS.map((c) => `crd/${c}`),
  ];
  await waitFor(async () => (await kubectl(established, k)).code === 0, {
    timeoutMs: 60_000,
    description: "Argo CD's CRDs Established",
  });
  await kubectlOk(["create", "namespace", ARGOCD_NAMESPACE], k);
  const cluster = clusterSecret(opts.kubeconfig);
  await kubectlOk(["apply", "-f", "-"], { ...k, input: `${BASE}\n---\n${cluster.manifest}` });
  // README.md "## Argo CD": the patch a user renders from config/argocd and applies.
  const patch = join(opts.dir, "modelops-argocd-cm.yaml");
  writeFileSync(patch, await kubectlOk(["kustomize", join(root, "config/argocd")], k));
  await kubectlOk(["-n", ARGOCD_NAMESPACE, "patch", "configmap", "argocd-cm", "--patch-file", patch], k);

  const resyncSeconds = opts.resyncSeconds ?? 5;
  const [redisPort, repoPort, repoMetrics, ctrlMetrics] = (await freePorts(4)) as [
    number,
    number,
    number,
    number,
  ];
  const tmp = join(opts.dir, "tmp");
  mkdirSync(tmp, { recursive: true });
  // Both read ARGOCD_RECONCILIATION_TIMEOUT: the controller's resync and the
  // repo server's cache of git refs, so a commit shows within one period.
  const env = [
    `KUBECONFIG=${opts.kubeconfig}`,
    `HOME=${opts.dir}`,
    `TMPDIR=${tmp}`,
    "ARGOCD_GPG_ENABLED=false",
    `ARGOCD_RECONCILIATION_TIMEOUT=${resyncSeconds}s`,
    `ARGOCD_ASK_PASS_SOCK=${join(opts.dir, "askpass.sock")}`,
  ];
  const as = (name: string) => ["env", ...env, `ARGOCD_BINARY_NAME=${name}`];
  const binary = join(build, "argocd");
  const redisAddr = `127.0.0.1:${redisPort}`;
  const components: Component[] = [];
  const start = (name: string, bin: string, args: string[], prefix: string[] = []) => {
    const c = startComponent(name, bin, args, join(opts.dir, `${name}.log`), prefix);
    components.push(c);
    track([c]);
    return c;
  };
  const stop = async () => {
    await stopComponents(components);
    untrack(components);
  };
  try {
    const redis = start("redis", join(build, "redis"), [redisAddr]);
    await waitPort(redisPort, [redis]);
    const repo = start(
      "argocd-repo-server",
      binary,
      [
        "--address=127.0.0.1",
        `--port=${repoPort}`,
        "--metrics-address=127.0.0.1",
        `--metrics-port=${repoMetrics}`,
        "--disable-tls",
        `--redis=${redisAddr}`,
        "--loglevel=info",
      ],
      as("argocd-repo-server"),
    );
    await waitPort(repoPort, [repo]);
    const controller = start(
      "argocd-application-controller",
      binary,
      [
        `--namespace=${ARGOCD_NAMESPACE}`,
        `--repo-server=127.0.0.1:${repoPort}`,
        "--repo-server-plaintext",
        `--redis=${redisAddr}`,
        `--metrics-port=${ctrlMetrics}`,
        `--app-resync=${resyncSeconds}`,
        "--app-resync-jitter=0",
        // Self-heal retries back off up to 4 s (default 5 min), so a sync loop shows within a test.
        "--self-heal-backoff-cap-seconds=4",
        // Per-resource health in the Application's status, as Argo CD 2.x
        // did and `argocd app get` shows; 3.x keeps it only in Redis by default.
        "--persist-resource-health",
        "--status-processors=4",
        "--operation-processors=4",
        "--loglevel=info",
      ],
      as("argocd-application-controller"),
    );
    await pollUntil(
      "the application controller's metrics endpoint",
      async () => ((await fetch(`http://127.0.0.1:${ctrlMetrics}/metrics`)).ok ? true : undefined),
      { timeoutMs: 60_000, watch: [redis, repo, controller], log: console.log },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    binary,
    server: cluster.server,
    resyncSeconds,
    stop: async () => {
      await stop();
      await kubectl(["-n", ARGOCD_NAMESPACE, "delete", "applications", "--all", "--wait=false"], k);
      await kubectl(["delete", "namespace", ARGOCD_NAMESPACE, "--wait=false"], k);
      for (const crd of CRDS) await kubectl(["delete", "crd", crd, "--wait=false"], k);
    },
  };
}

function waitPort(port: number, watch: Component[]): Promise<true> {
  return pollUntil(
    `127.0.0.1:${port}`,
    () =>
      new Promise<true | undefined>((res) => {
        const s = createConnection({ host: "127.0.0.1", port }, () => {
          s.destroy();
          res(true);
        });
        s.on("error", () => res(undefined));
      }),
    { timeoutMs: 30_000, watch, log: console.log },
  );
}

/**
 * The test cluster as an Argo CD cluster Secret. Argo CD's built-in
 * in-cluster destination reads a pod's service account, which a controller
 * on the host has not; it reaches the apiserver as admin instead.
 */
function clusterSecret(kubeconfig: string): { server: string; manifest: string } {
  type Kubeconfig = {
    clusters: Array<{ cluster: { server: string; "certificate-authority-data": string } }>;
    users: Array<{ user: { "client-certificate-data": string; "client-key-data": string } }>;
  };
  const kc = yaml.load(readFileSync(kubeconfig, "utf8")) as Kubeconfig;
  const { server, "certificate-authority-data": caData } = kc.clusters[0]?.cluster ?? { server: "" };
  const user = kc.users[0]?.user;
  const config = {
    tlsClientConfig: {
      caData,
      certData: user?.["client-certificate-data"],
      keyData: user?.["client-key-data"],
    },
  };
  const manifest = `
apiVersion: v1
kind: Secret
metadata:
  name: test-cluster
  namespace: ${ARGOCD_NAMESPACE}
  labels: {argocd.argoproj.io/secret-type: cluster}
stringData:
  name: test-cluster
  server: ${server}
  config: '${JSON.stringify(config)}'
`;
  return { server, manifest };
}
