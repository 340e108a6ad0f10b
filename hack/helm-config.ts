// Writes the kustomize bases under config/ from the Helm chart's defaults, so
// `kubectl kustomize config/default` and `helm install` install the same
// objects: the chart is the one place to edit. `--check` fails when config/
// is stale (run by e2e/install.test.ts).
//   node hack/helm-config.ts [--check] [--helm PATH]
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import yaml from "js-yaml";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const HEADER = "# Generated from charts/modelops-operator by hack/helm-config.ts; edit the chart.\n";
// The release name equal to the chart name gives objects the plain name
// "modelops-operator", the name the kustomize install uses.
const RELEASE = ["modelops-operator", "--namespace", "modelops-system", "--kube-version", "1.34.4"];
const HELM_ONLY_LABELS = ["helm.sh/chart", "app.kubernetes.io/managed-by"];

type Obj = { kind: string; metadata: { name: string; labels?: Record<string, string> } };

/** Which config/ base each kind belongs to. */
const BASE_OF: Record<string, string> = {
  CustomResourceDefinition: "crd",
  ServiceAccount: "rbac",
  ClusterRole: "rbac",
  ClusterRoleBinding: "rbac",
  RoleBinding: "rbac",
  // Authorization of DriftMonitor authors: with the RBAC it complements.
  ValidatingAdmissionPolicy: "rbac",
  ValidatingAdmissionPolicyBinding: "rbac",
  Deployment: "manager",
  Service: "manager",
  PodDisruptionBudget: "manager",
  ConfigMap: "grafana",
  ServiceMonitor: "prometheus",
  PodMonitor: "prometheus",
  PrometheusRule: "prometheus",
};

function render(helm: string, extra: string[]): Obj[] {
  const out = execFileSync(helm, ["template", ...RELEASE, join(root, "charts/modelops-operator"), ...extra], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  return (yaml.loadAll(out) as (Obj | null)[]).filter((o): o is Obj => o !== null);
}

function withoutHelmLabels(obj: Obj): Obj {
  for (const label of HELM_ONLY_LABELS) delete obj.metadata.labels?.[label];
  return obj;
}

const fileName = (o: Obj) => `${o.kind.toLowerCase()}-${o.metadata.name}.yaml`;

/** The files config/ should hold, by path relative to config/. */
export function expectedFiles(helm: string): Map<string, string> {
  const defaults = render(helm, ["--include-crds"]);
  const monitoring = render(helm, [
    "--set",
    "serviceMonitor.enabled=true,podMonitor.enabled=true,prometheusRule.enabled=true",
  ]).filter((o) => BASE_OF[o.kind] === "prometheus");
  const byBase = new Map<string, Obj[]>();
  for (const obj of [...defaults, ...monitoring].map(withoutHelmLabels)) {
    const base = BASE_OF[obj.kind];
    if (!base) throw new Error(`no config/ base for kind ${obj.kind}; add it to BASE_OF`);
    byBase.set(base, [...(byBase.get(base) ?? []), obj]);
  }
  const files = new Map<string, string>();
  for (const [base, objs] of byBase) {
    objs.sort((a, b) => fileName(a).localeCompare(fileName(b)));
    for (const o of objs)
      files.set(`${base}/${fileName(o)}`, HEADER + yaml.dump(o, { lineWidth: -1, noRefs: true }));
    const kustomization = {
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      resources: objs.map(fileName),
    };
    files.set(`${base}/kustomization.yaml`, HEADER + yaml.dump(kustomization));
  }
  return files;
}

/** Writes (or with check, only lists) the files whose content differs; returns their paths. */
function sync(files: Iterable<readonly [string, string]>, check: boolean): string[] {
  const stale: string[] = [];
  for (const [rel, text] of files) {
    const path = join(root, rel);
    let current = "";
    try {
      current = readFileSync(path, "utf8");
    } catch {}
    if (current === text) continue;
    stale.push(rel);
    if (!check) {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
    }
  }
  return stale;
}

function main(): void {
  const { values } = parseArgs({ options: { check: { type: "boolean" }, helm: { type: "string" } } });
  const check = values.check ?? false;
  const helm =
    values.helm ??
    execFileSync("bash", [join(root, "hack/helm.sh")], { encoding: "utf8" })
      .trim()
      .split("\n")
      .pop() ??
    "helm";
  // The chart's crds/ are written by hack/generate-crds.ts, so config/crd follows them.
  const config = [...expectedFiles(helm)].map(([rel, text]) => [`config/${rel}`, text] as const);
  const stale = sync(config, check);
  if (check && stale.length) {
    console.error(`stale (run node hack/helm-config.ts): ${stale.join(", ")}`);
    process.exit(1);
  }
  console.log(check ? "config/ is up to date" : `wrote ${stale.length} file(s)`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
