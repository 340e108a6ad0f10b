// A direct API client for tests that must poll faster than kubectl can.
import { KubeConfig } from "@kubernetes/client-node";
import { KubeClient } from "../../operator/runtime/kube.ts";

export function adminClient(kubeconfig: string): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return new KubeClient(kc);
}
