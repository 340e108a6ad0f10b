// The Gateway API and Istio CRDs for router tests, from hack/router-crds.sh
// (pinned versions out of their Go modules). A file installs what is missing
// and removes only what it installed, leaving the shared cluster as found.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { kubectl, kubectlOk } from "../../hack/localcluster/kubectl.ts";

export const ROUTER_CRDS = ["httproutes.gateway.networking.k8s.io", "virtualservices.networking.istio.io"];

/** Runs hack/router-crds.sh; `env` may ask for other versions than the pinned ones. */
export async function routerCrdPaths(env: Record<string, string> = {}): Promise<Record<string, string>> {
  const { stdout } = await promisify(execFile)("bash", ["hack/router-crds.sh"], {
    env: { ...process.env, ...env },
  });
  return Object.fromEntries(
    stdout
      .trim()
      .split("\n")
      .map((l) => l.split("=", 2) as [string, string]),
  );
}

/** Installs the router CRDs; returns a function that removes those this call installed. */
export async function installRouterCrds(kubeconfig: string, binDir: string): Promise<() => Promise<void>> {
  const opts = { kubeconfig, binDir };
  const present = await Promise.all(
    ROUTER_CRDS.map(async (c) => (await kubectl(["get", "crd", c], opts)).code === 0),
  );
  const installedHere = ROUTER_CRDS.filter((_, i) => !present[i]);
  const paths = await routerCrdPaths();
  await kubectlOk(
    ["apply", "--server-side", "-f", `${paths.HTTPROUTE_CRD}`, "-f", `${paths.ISTIO_CRDS}`],
    opts,
  );
  await kubectlOk(
    ["wait", "--for=condition=Established", "--timeout=60s", ...ROUTER_CRDS.map((c) => `crd/${c}`)],
    opts,
  );
  return async () => {
    for (const crd of installedHere) await kubectl(["delete", "crd", crd, "--wait=false"], opts);
  };
}
