// Command lines of the control plane's components. Flags follow what
// controller-runtime's envtest and kwokctl use, plus an audit log so tests can
// count the operator's writes.
import { join } from "node:path";
import type { NodeNetwork } from "./node-network.ts";
import { FRONT_PROXY_CLIENT_CN, type Pki } from "./pki.ts";

export interface Ports {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
  scheduler: number;
}

export interface Layout {
  dir: string;
  pki: Pki;
  ports: Ports;
  auditPolicyPath: string;
  auditLogPath: string;
  stagesPath: string;
  kubeconfigs: { controllerManager: string; scheduler: string; kwok: string };
  /** Service range and the addresses of the real node, should one start (node-network.ts). */
  net: NodeNetwork;
}

/** Pod IPs kwok hands out; apart from service IPs so the two never look alike. */
export const podCidr = "10.244.0.0/16";

// Metadata for every request keeps user, verb, resource and timestamps (what a
// test counts) without the bodies that would make the log huge.
export const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
`;

export function etcdArgs(l: Layout): string[] {
  const client = `http://127.0.0.1:${l.ports.etcdClient}`;
  const peer = `http://127.0.0.1:${l.ports.etcdPeer}`;
  return [
    "--name=default",
    `--data-dir=${join(l.dir, "etcd")}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=default=${peer}`,
    // A throwaway test cluster does not need durability; fsync dominates write latency.
    "--unsafe-no-fsync",
    "--log-level=warn",
  ];
}

export function apiserverArgs(l: Layout): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${l.ports.etcdClient}`,
    `--secure-port=${l.ports.apiserver}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--cert-dir=${join(l.pki.dir, "apiserver-generated")}`,
    `--tls-cert-file=${l.pki.apiserver.cert}`,
    `--tls-private-key-file=${l.pki.apiserver.key}`,
    `--client-ca-file=${l.pki.caCert}`,
    `--service-cluster-ip-range=${l.net.serviceCidr}`,
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${l.pki.serviceAccountKey}`,
    `--service-account-signing-key-file=${l.pki.serviceAccountKey}`,
    "--authorization-mode=Node,RBAC",
    "--allow-privileged=true",
    // 127.0.0.1 is not a valid Endpoints address, so the default reconciler
    // would log an error for the `kubernetes` Service every few seconds.
    "--endpoint-reconciler-type=none",
    `--audit-policy-file=${l.auditPolicyPath}`,
    `--audit-log-path=${l.auditLogPath}`,
    // Never rotate during a run: tests read one file.
    "--audit-log-maxsize=100000",
    "--audit-log-maxbackup=1",
    // Blocking mode: an entry is on disk before the response, so a test that
    // counts writes right after making them sees them all.
    "--audit-log-mode=blocking",
    "--profiling=false",
    // Logs, exec and port-forward of pods on the real node.
    `--kubelet-client-certificate=${l.pki.clients["apiserver-kubelet-client"].cert}`,
    `--kubelet-client-key=${l.pki.clients["apiserver-kubelet-client"].key}`,
    "--kubelet-preferred-address-types=InternalIP",
    // The aggregation layer (APIService), as kubeadm configures it: the
    // apiserver proxies an aggregated group's requests with the front-proxy
    // client certificate and the caller's identity in these headers. Without
    // --enable-aggregator-routing it dials a Service's cluster IP, or an
    // ExternalName Service's externalName at the APIService's port, so an
    // aggregated server on this machine is `externalName: localhost`.
    `--requestheader-client-ca-file=${l.pki.frontProxyCaCert}`,
    `--requestheader-allowed-names=${FRONT_PROXY_CLIENT_CN}`,
    "--requestheader-username-headers=X-Remote-User",
    "--requestheader-group-headers=X-Remote-Group",
    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    `--proxy-client-cert-file=${l.pki.frontProxyClient.cert}`,
    `--proxy-client-key-file=${l.pki.frontProxyClient.key}`,
  ];
}

export function controllerManagerArgs(l: Layout, qps?: number): string[] {
  return [
    ...(qps ? [`--kube-api-qps=${qps}`, `--kube-api-burst=${2 * qps}`] : []),
    `--kubeconfig=${l.kubeconfigs.controllerManager}`,
    // All default controllers: deployment, replicaset, garbage collector, HPA, job, ...
    "--controllers=*",
    "--use-service-account-credentials=false",
    `--service-account-private-key-file=${l.pki.serviceAccountKey}`,
    `--root-ca-file=${l.pki.caCert}`,
    "--cluster-name=modelops-local",
    "--leader-elect=false",
    // Bind pre-provisioned volumes in about a second rather than the default 15 s.
    "--pvclaimbinder-sync-period=1s",
    ...healthServing(l, "kube-controller-manager", l.ports.controllerManager),
  ];
}

export function schedulerArgs(l: Layout): string[] {
  return [
    `--kubeconfig=${l.kubeconfigs.scheduler}`,
    "--leader-elect=false",
    ...healthServing(l, "kube-scheduler", l.ports.scheduler),
  ];
}

/**
 * Their HTTPS endpoint exists so the harness can wait for /healthz (scheduler:
 * /readyz) and report a component that runs but cannot work, e.g. one that
 * never reaches the apiserver; its self-signed certificate goes in `cert-dir`.
 */
function healthServing(l: Layout, name: string, port: number): string[] {
  return ["--bind-address=127.0.0.1", `--secure-port=${port}`, `--cert-dir=${join(l.pki.dir, name)}`];
}

export const kwokNodeAnnotation = "kwok.x-k8s.io/node";

export function kwokArgs(l: Layout): string[] {
  return [
    `--kubeconfig=${l.kubeconfigs.kwok}`,
    "--manage-all-nodes=false",
    `--manage-nodes-with-annotation-selector=${kwokNodeAnnotation}=fake`,
    `--config=${l.stagesPath}`,
    // kwok renews each node's Lease like a kubelet, so nodes stay Ready.
    "--node-lease-duration-seconds=40",
    `--cidr=${podCidr}`,
  ];
}
