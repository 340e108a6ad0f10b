// Runs the operator as the install's ServiceAccount instead of a superuser:
// applies config/rbac to the test cluster and writes a kubeconfig that
// impersonates system:serviceaccount:modelops-system:modelops-operator with
// the operator's certificate (system:masters may impersonate; the audit log
// keeps the real user, so audit-based tests still find the operator).
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { kubectlOk } from "./kubectl.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const OPERATOR_SERVICE_ACCOUNT = "system:serviceaccount:modelops-system:modelops-operator";

/** Adds `as: USER` to every user of a kubeconfig written by pki.ts. */
export function impersonating(kubeconfigText: string, user: string): string {
  return kubeconfigText.replace(/^(\s+)client-key-data: (.*)$/m, `$1client-key-data: $2\n$1as: ${user}`);
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
