// Runs the operator as the install's ServiceAccount instead of a superuser:
// applies config/rbac to the test cluster and writes a kubeconfig that
// impersonates system:serviceaccount:modelops-system:modelops-operator with
// the operator's certificate (system:masters may impersonate; the audit log
// keeps the real user, so audit-based tests still find the operator).
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { kubectlOk } from "../../hack/localcluster/kubectl.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const OPERATOR_SERVICE_ACCOUNT = "system:serviceaccount:modelops-system:modelops-operator";

/** Sets `as: USER` on the user of a kubeconfig written by pki.ts (replacing any). */
export function impersonating(kubeconfigText: string, user: string): string {
  const plain = kubeconfigText.replace(/^\s+as: .*\n/m, "");
  return plain.replace(/^(\s+)client-key-data: (.*)$/m, `$1client-key-data: $2\n$1as: ${user}`);
}

type AuditLine = {
  verb: string;
  user: { username: string };
  impersonatedUser?: unknown;
  objectRef?: { resource?: string; apiGroup?: string; subresource?: string; namespace?: string };
};

export type ResourceRequest = {
  verb: string;
  group: string;
  resource: string;
  subresource: string;
  namespaced: boolean;
};

/** The distinct kinds of request the operator's own client sent (by user agent; kubectl runs by tests are not it). */
export function operatorRequests(auditLogPath: string): ResourceRequest[] {
  const seen = new Map<string, ResourceRequest>();
  for (const line of readFileSync(auditLogPath, "utf8").split("\n")) {
    if (!line.includes('"userAgent":"modelops-operator')) continue; // cheap filter before parsing
    const e = JSON.parse(line) as AuditLine;
    const ref = e.objectRef;
    if (e.user.username !== "modelops-operator" || e.impersonatedUser || !ref?.resource) continue;
    const r = {
      verb: e.verb,
      group: ref.apiGroup ?? "",
      resource: ref.resource,
      subresource: ref.subresource ?? "",
      namespaced: ref.namespace !== undefined,
    };
    seen.set(JSON.stringify(r), r);
  }
  return [...seen.values()];
}

const describeRequest = (r: ResourceRequest) =>
  `${r.verb} ${r.resource}${r.group ? `.${r.group}` : ""}${r.subresource ? `/${r.subresource}` : ""}`;

/**
 * Every kind of request the operator made during the run, put to the
 * apiserver's own authorizer (a SubjectAccessReview; no discovery, so CRDs a
 * test removed still count) for the install's ServiceAccount: the chart's
 * RBAC must allow all of them. Namespaced requests are checked in the
 * release namespace, where the leader-election rules are granted too.
 * Returns the denied ones.
 */
export async function deniedOperatorRequests(opts: {
  adminKubeconfig: string;
  operatorKubeconfig: string;
  binDir: string;
  auditLogPath: string;
}): Promise<string[]> {
  await installOperatorRbac(opts);
  const base = { kubeconfig: opts.adminKubeconfig, binDir: opts.binDir };
  const checks = operatorRequests(opts.auditLogPath).map(async (r) => {
    const review = {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec: {
        user: OPERATOR_SERVICE_ACCOUNT,
        groups: ["system:serviceaccounts", "system:serviceaccounts:modelops-system", "system:authenticated"],
        resourceAttributes: {
          verb: r.verb,
          group: r.group,
          resource: r.resource,
          subresource: r.subresource,
          ...(r.namespaced ? { namespace: "modelops-system" } : {}),
        },
      },
    };
    const out = await kubectlOk(["create", "-o", "json", "-f", "-"], {
      ...base,
      input: JSON.stringify(review),
    });
    return (JSON.parse(out) as { status?: { allowed?: boolean } }).status?.allowed
      ? undefined
      : describeRequest(r);
  });
  return (await Promise.all(checks)).filter((r): r is string => r !== undefined).sort();
}

/**
 * Installs the RBAC of config/<variant> and returns the path of a kubeconfig
 * authenticated as its ServiceAccount. Tests elect leaders in their own
 * namespaces, so the leader-election ClusterRole (granted in the release
 * namespace in a real install) is bound cluster-wide here.
 */
export async function installOperatorRbac(opts: {
  adminKubeconfig: string;
  operatorKubeconfig: string;
  binDir: string;
  variant?: string;
}): Promise<string> {
  const base = { kubeconfig: opts.adminKubeconfig, binDir: opts.binDir };
  await kubectlOk(["create", "namespace", "modelops-system", "--dry-run=client", "-o", "yaml"], base).then(
    (ns) => kubectlOk(["apply", "-f", "-"], { ...base, input: ns }),
  );
  const rendered = await kubectlOk(["kustomize", join(root, "config", opts.variant ?? "rbac")], base);
  await kubectlOk(["apply", "-f", "-"], { ...base, input: rendered });
  await kubectlOk(
    [
      "create",
      "clusterrolebinding",
      "modelops-operator-leader-election-tests",
      "--clusterrole=modelops-operator-leader-election",
      `--serviceaccount=modelops-system:modelops-operator`,
      "--dry-run=client",
      "-o",
      "yaml",
    ],
    base,
  ).then((crb) => kubectlOk(["apply", "-f", "-"], { ...base, input: crb }));
  const path = join(dirname(opts.operatorKubeconfig), "operator-as-serviceaccount.kubeconfig");
  writeFileSync(path, impersonating(readFileSync(opts.operatorKubeconfig, "utf8"), OPERATOR_SERVICE_ACCOUNT));
  return path;
}
