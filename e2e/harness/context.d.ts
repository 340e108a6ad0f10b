// Values the integration tier's globalSetup hands to tests via `inject(...)`.
declare module "vitest" {
  export interface ProvidedContext {
    /** Admin (system:masters) kubeconfig of the shared test cluster. */
    kubeconfig: string;
    /** Kubeconfig of user `modelops-operator`; its requests are the operator's in the audit log. */
    operatorKubeconfig: string;
    /** kube-apiserver audit log (JSON lines, level Metadata, every request). */
    auditLogPath: string;
    /** Directory with kubectl and the control plane binaries. */
    binDir: string;
    apiserverUrl: string;
    /** The cluster's directory: logs/<component>.log, state.json, pki/. */
    clusterDir: string;
  }
}

export {};
