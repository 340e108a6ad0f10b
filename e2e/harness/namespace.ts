// Each test file works in its own namespace, with a PersistentVolume bound to
// a `models` claim there, since the samples mount their artifact from it.
import { randomBytes } from "node:crypto";
import { kubectl, kubectlOk } from "../../hack/localcluster/kubectl.ts";

export interface TestNamespace {
  name: string;
  kubectl(args: string[], input?: string): ReturnType<typeof kubectl>;
  kubectlOk(args: string[], input?: string): Promise<string>;
  getJson<T>(kind: string, name: string): Promise<T | undefined>;
  /**
   * Messages of the Events with `reason` about `object`, joined by spaces. The
   * operator records Events after status, so poll this (expect.poll).
   */
  eventMessages(object: string, reason: string): Promise<string>;
  /** Applies the sample ModelVersions iris-classifier-v1 and -v2. */
  applySampleVersions(): Promise<void>;
  delete(): Promise<void>;
}

export async function createTestNamespace(
  prefix: string,
  kubeconfig: string,
  binDir: string,
  /** The host folder behind the namespace's `models` claim (pvc://models/...). */
  opts: { modelStorePath?: string } = {},
): Promise<TestNamespace> {
  const name = `${prefix}-${randomBytes(3).toString("hex")}`;
  const base = { kubeconfig, binDir };
  const ns: TestNamespace = {
    name,
    kubectl: (args, input) => kubectl(["-n", name, ...args], { ...base, ...(input ? { input } : {}) }),
    kubectlOk: (args, input) => kubectlOk(["-n", name, ...args], { ...base, ...(input ? { input } : {}) }),
    getJson: async <T>(kind: string, objName: string) => {
      const r = await kubectl(["-n", name, "get", kind, objName, "-o", "json"], base);
      return r.code === 0 ? (JSON.parse(r.stdout) as T) : undefined;
    },
    eventMessages: (object, reason) =>
      kubectlOk(
        [
          "-n",
          name,
          "get",
          "events",
          "--field-selector",
          `involvedObject.name=${object},reason=${reason}`,
          "-o",
          "jsonpath={.items[*].message}",
        ],
        base,
      ),
    applySampleVersions: async () => {
      const files = ["config/samples/modelversion.yaml", "config/samples/modelversion-v2.yaml"];
      await kubectlOk(["-n", name, "apply", ...files.flatMap((f) => ["-f", f])], base);
    },
    delete: async () => {
      await kubectl(["delete", "namespace", name, "--wait=false"], base);
      await kubectl(["delete", "pv", `models-${name}`, "--wait=false"], base);
    },
  };
  await kubectlOk(["create", "namespace", name], base);
  await kubectlOk(["apply", "-f", "-"], { ...base, input: modelStore(name, opts.modelStorePath) });
  // Pods mounting an unbound claim wait for a scheduler retry; bind it first.
  await kubectlOk(
    ["-n", name, "wait", "pvc/models", "--for=jsonpath={.status.phase}=Bound", "--timeout=60s"],
    base,
  );
  return ns;
}

function modelStore(namespace: string, path = "/var/lib/models"): string {
  return `
apiVersion: v1
kind: PersistentVolume
metadata: {name: models-${namespace}}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadOnlyMany]
  storageClassName: ""
  hostPath: {path: ${path}}
  claimRef: {namespace: ${namespace}, name: models}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: models, namespace: ${namespace}}
spec:
  accessModes: [ReadOnlyMany]
  storageClassName: ""
  volumeName: models-${namespace}
  resources: {requests: {storage: 1Gi}}
`;
}
