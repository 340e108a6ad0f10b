// Installing the project's CRDs. The cluster does it before the
// controller-manager starts because the garbage collector learns new resource
// kinds only from a discovery resync every 30 s: CRDs installed later leave
// children of custom resources uncollected for up to that long.
import { existsSync, readdirSync } from "node:fs";
import { kubectlOk } from "./kubectl.ts";

/** Applies every YAML file in `dir` and waits until all CRDs are Established; returns the file count. */
export async function installCrds(dir: string, kubeconfig: string, binDir: string): Promise<number> {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)) : [];
  if (files.length === 0) return 0;
  const opts = { kubeconfig, binDir };
  await kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", dir], opts);
  await kubectlOk(["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"], opts);
  return files.length;
}
