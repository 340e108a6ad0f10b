// The two controllers the benchmark compares, each as a "subject": the objects
// one fleet member is made of, how its version is bumped, when it counts as
// Available and as rolled, and how the controller process starts.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildOperator, OPERATOR_NODE_FLAGS } from "../../hack/build-operator.ts";
import { type Component, freePorts, startComponent, track } from "../../hack/localcluster/procs.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export const NAMESPACE = "bench";
/** Long enough that a backlog at N=1000 is not mistaken for a stuck rollout (Argo's default). */
const PROGRESS_DEADLINE_S = 600;
const IMAGE = "seldonio/mlserver:1.7.1";

export interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; generation?: number; [k: string]: unknown };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

/** A request the benchmark makes (as the cluster admin, so it never counts as the controller's). */
export interface Request {
  method: "POST" | "PATCH";
  path: string;
  body: unknown;
}

export interface Subject {
  name: string;
  /** CRDs installed before the cluster's controllers start. */
  crdsDir: string;
  /** Requests that create fleet member `i` at version 1, in order. */
  create(i: number): Request[];
  /** Requests that move fleet member `i` to version 2, in order. */
  bump(i: number): Request[];
  /** Where the fleet is listed. */
  listPath: string;
  available(o: Obj): boolean;
  rolled(o: Obj): boolean;
  /** Starts the controller as its own process, killed should the benchmark exit first. */
  start(kubeconfig: string, logPath: string): Promise<Component>;
}

const ns = `/namespaces/${NAMESPACE}`;
const name = (i: number) => `model-${i}`;

function spawnLogged(command: string, args: string[], logPath: string): Component {
  const c = startComponent("controller", command, args, logPath);
  track([c]);
  return c;
}

// ---- modelops-operator: a ModelVersion per version, a ModelDeployment naming it.

function modelVersion(i: number, v: number): Obj {
  return {
    apiVersion: "modelops.io/v1alpha1",
    kind: "ModelVersion",
    metadata: { name: `${name(i)}-v${v}` },
    spec: {
      modelName: name(i),
      version: String(v),
      artifact: { uri: `pvc://models/${name(i)}/v${v}`, format: "sklearn" },
      runtime: {
        name: "mlserver",
        image: IMAGE,
        protocol: "v2",
        port: 8080,
        resources: { requests: { cpu: "100m", memory: "256Mi" } },
      },
    },
  };
}

const mdeps = `/apis/modelops.io/v1alpha1${ns}/modeldeployments`;
const mversions = `/apis/modelops.io/v1alpha1${ns}/modelversions`;

function mdepStatus(o: Obj) {
  const s = (o.status ?? {}) as {
    phase?: string;
    stableVersion?: string;
    canaryVersion?: string;
    observedGeneration?: number;
  };
  return { ...s, current: s.observedGeneration === o.metadata.generation };
}

export const modelops: Subject = {
  name: "modelops-operator",
  crdsDir: join(root, "crds"),
  create: (i) => [
    { method: "POST", path: mversions, body: modelVersion(i, 1) },
    {
      method: "POST",
      path: mdeps,
      body: {
        apiVersion: "modelops.io/v1alpha1",
        kind: "ModelDeployment",
        metadata: { name: name(i) },
        spec: {
          modelVersion: `${name(i)}-v1`,
          replicas: 1,
          progressDeadlineSeconds: PROGRESS_DEADLINE_S,
          strategy: { canary: { steps: [{ setWeight: 50 }] } },
        },
      },
    },
  ],
  bump: (i) => [
    { method: "POST", path: mversions, body: modelVersion(i, 2) },
    { method: "PATCH", path: `${mdeps}/${name(i)}`, body: { spec: { modelVersion: `${name(i)}-v2` } } },
  ],
  listPath: mdeps,
  available: (o) => {
    const s = mdepStatus(o);
    return s.current && s.phase === "Available" && s.stableVersion === `${o.metadata.name}-v1`;
  },
  rolled: (o) => {
    const s = mdepStatus(o);
    return (
      s.current && s.phase === "Available" && s.stableVersion === `${o.metadata.name}-v2` && !s.canaryVersion
    );
  },
  start: async (kubeconfig, logPath) => {
    const [metrics] = await freePorts(1);
    // The bundle the image runs, every namespace and the default workers, as the chart installs it.
    const main = await buildOperator(join(root, "dist/operator/main.mjs"));
    return spawnLogged(
      process.execPath,
      [
        ...OPERATOR_NODE_FLAGS,
        main,
        `--kubeconfig=${kubeconfig}`,
        `--metrics-bind-address=127.0.0.1:${metrics}`,
        "--log-level=info",
      ],
      logPath,
    );
  },
};

// ---- Argo Rollouts: a Rollout with stable and canary Services; the version is an env var.

const rollouts = `/apis/argoproj.io/v1alpha1${ns}/rollouts`;
const services = `/api/v1${ns}/services`;

function container(v: number) {
  return {
    name: "model",
    image: IMAGE,
    env: [{ name: "MODEL_VERSION", value: String(v) }],
    ports: [{ name: "http", containerPort: 8080 }],
    resources: { requests: { cpu: "100m", memory: "256Mi" } },
  };
}

function service(svcName: string, app: string): Obj {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: svcName },
    spec: { selector: { app }, ports: [{ name: "http", port: 80, targetPort: "http" }] },
  };
}

function rolloutStatus(o: Obj) {
  const s = (o.status ?? {}) as {
    phase?: string;
    stableRS?: string;
    currentPodHash?: string;
    observedGeneration?: string;
  };
  // Argo writes observedGeneration as a string.
  return { ...s, current: s.observedGeneration === String(o.metadata.generation) };
}

export function argoRollouts(binary: string, crdsDir: string): Subject {
  return {
    name: "Argo Rollouts",
    crdsDir,
    create: (i) => [
      { method: "POST", path: services, body: service(name(i), name(i)) },
      { method: "POST", path: services, body: service(`${name(i)}-canary`, name(i)) },
      {
        method: "POST",
        path: rollouts,
        body: {
          apiVersion: "argoproj.io/v1alpha1",
          kind: "Rollout",
          metadata: { name: name(i) },
          spec: {
            replicas: 1,
            progressDeadlineSeconds: PROGRESS_DEADLINE_S,
            selector: { matchLabels: { app: name(i) } },
            template: { metadata: { labels: { app: name(i) } }, spec: { containers: [container(1)] } },
            strategy: {
              canary: {
                stableService: name(i),
                canaryService: `${name(i)}-canary`,
                steps: [{ setWeight: 50 }],
              },
            },
          },
        },
      },
    ],
    bump: (i) => [
      {
        method: "PATCH",
        path: `${rollouts}/${name(i)}`,
        body: { spec: { template: { spec: { containers: [container(2)] } } } },
      },
    ],
    listPath: rollouts,
    available: (o) => {
      const s = rolloutStatus(o);
      return s.current && s.phase === "Healthy";
    },
    rolled: (o) => {
      const s = rolloutStatus(o);
      type Template = { spec?: { containers?: Array<{ env?: Array<{ value?: string }> }> } };
      const env = (o.spec?.template as Template | undefined)?.spec?.containers?.[0]?.env?.[0]?.value;
      return (
        s.current && s.phase === "Healthy" && env === "2" && !!s.stableRS && s.stableRS === s.currentPodHash
      );
    },
    start: async (kubeconfig, logPath) => {
      const [metrics, healthz] = await freePorts(2);
      return spawnLogged(
        binary,
        [
          `--kubeconfig=${kubeconfig}`,
          "--leader-elect=false",
          `--metricsport=${metrics}`,
          `--healthzPort=${healthz}`,
          "--loglevel=info",
        ],
        logPath,
      );
    },
  };
}
