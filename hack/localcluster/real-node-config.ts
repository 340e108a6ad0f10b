// Configuration files of the real node's components, as pure functions of its
// layout: containerd (CRI, runc, CNI), the pods' bridge network, kubelet,
// kube-proxy and CoreDNS. Every path is under the node's own directories and
// every address in its network (node-network.ts), so two clusters on one
// machine never share anything.
import { join } from "node:path";
import type { NodeNetwork } from "./node-network.ts";

export const REAL_NODE_NAME = "modelops-node";
/** Only pods that tolerate this taint run on the real node; the KWOK nodes take the rest. */
export const REAL_NODE_TAINT = {
  key: "modelops.dev/real-node",
  value: "true",
  effect: "NoSchedule",
} as const;
export const REAL_NODE_LABEL = { "modelops.dev/node": "real" } as const;
export const CLUSTER_DOMAIN = "cluster.local";

export interface NodeLayout {
  net: NodeNetwork;
  /** Persistent state on disk: containerd's content and snapshots, kubelet's pods, logs. */
  dir: string;
  /** Sockets, shim state and pod namespaces: under /run, short enough for socket paths. */
  runDir: string;
  /** The node's own cgroup parent (in every v1 hierarchy), so kubepods never mix with another node's. */
  cgroupRoot: string;
  caCert: string;
  pauseImage: string;
  kubeletKubeconfig: string;
  kubeProxyKubeconfig: string;
  corednsKubeconfig: string;
  kubeletServing: { cert: string; key: string };
}

export function containerdSocket(l: NodeLayout): string {
  return join(l.runDir, "containerd.sock");
}

export function cniConfDir(l: NodeLayout): string {
  return join(l.dir, "cni", "net.d");
}

export function containerdConfig(l: NodeLayout): string {
  const cri = '[plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = "${join(l.dir, "containerd")}"
state = "${join(l.runDir, "containerd")}"
# Only what a kubelet node uses: no other snapshotters, no tracing.
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${containerdSocket(l)}"

[ttrpc]
  address = "${join(l.runDir, "containerd-ttrpc.sock")}"

[plugins."io.containerd.internal.v1.opt"]
  path = "${join(l.dir, "opt")}"

${cri}]
  # Imported locally (images.sh); nothing is ever pulled.
  sandbox_image = "${l.pauseImage}"
  stream_server_address = "127.0.0.1"
  # Pod network namespaces under the state dir, so stopping the node finds them.
  netns_mounts_under_state_dir = true
  enable_selinux = false
  # These machines withhold CAP_SYS_RESOURCE, so no process may lower its
  # OOM score: containers get no lower score than containerd's own.
  restrict_oom_score_adj = true

${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

${cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = "${join(l.runDir, "runc")}"

${cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "${cniConfDir(l)}"
  max_conf_num = 1
`;
}

/** The pods' network: a bridge in the node's namespace, addresses from the node's pod range. */
export function cniConfig(l: NodeLayout): string {
  return `${JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: "modelops",
      plugins: [
        {
          type: "bridge",
          bridge: "cni0",
          isGateway: true,
          // No ipMasq: pods only ever talk to the node, its pods and the
          // host's end of the link, which reach them unmasqueraded.
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            ranges: [[{ subnet: l.net.podCidr }]],
            routes: [{ dst: "0.0.0.0/0" }],
            dataDir: join(l.dir, "cni", "ipam"),
          },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

export function kubeletConfig(l: NodeLayout): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${l.net.nodeIp}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: ${l.caCert}}
authorization:
  mode: AlwaysAllow
tlsCertFile: ${l.kubeletServing.cert}
tlsPrivateKeyFile: ${l.kubeletServing.key}
containerRuntimeEndpoint: unix://${containerdSocket(l)}
cgroupDriver: cgroupfs
cgroupRoot: ${l.cgroupRoot}
# These machines mount cgroup v1; kubelet 1.34 still runs on it when told to.
failCgroupV1: false
failSwapOn: false
# No lowering of OOM scores without CAP_SYS_RESOURCE (see containerdConfig).
oomScoreAdj: 0
clusterDNS: [${l.net.hostIp}]
clusterDomain: ${CLUSTER_DOMAIN}
# Pods get only the cluster's DNS, never the host's resolvers.
resolvConf: ""
podLogsDir: ${join(l.dir, "pod-logs")}
registerWithTaints:
- {key: ${REAL_NODE_TAINT.key}, value: "${REAL_NODE_TAINT.value}", effect: ${REAL_NODE_TAINT.effect}}
# A shared test machine's disk and memory are not the node's to guard.
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# Faster pod status and volume sync than production defaults: tests wait on them.
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusUpdateFrequency: 5s
nodeStatusReportFrequency: 30s
serializeImagePulls: false
maxPods: 60
`;
}

export function kubeletArgs(l: NodeLayout, configPath: string): string[] {
  return [
    `--config=${configPath}`,
    `--kubeconfig=${l.kubeletKubeconfig}`,
    `--root-dir=${join(l.dir, "kubelet")}`,
    `--hostname-override=${REAL_NODE_NAME}`,
    `--node-ip=${l.net.nodeIp}`,
    `--node-labels=${Object.entries(REAL_NODE_LABEL)
      .map(([k, v]) => `${k}=${v}`)
      .join(",")}`,
    "--v=1",
  ];
}

export function kubeProxyArgs(l: NodeLayout, ports: { health: number; metrics: number }): string[] {
  return [
    `--kubeconfig=${l.kubeProxyKubeconfig}`,
    `--hostname-override=${REAL_NODE_NAME}`,
    "--proxy-mode=iptables",
    // Traffic from outside the pod range (the host, through the link) is masqueraded on its way to a pod.
    `--cluster-cidr=${l.net.podCidr}`,
    // Conntrack limits are machine-wide; leave them alone.
    "--conntrack-max-per-core=0",
    // NodePorts on 127.0.0.1 would need route_localnet; no test uses them.
    "--iptables-localhost-nodeports=false",
    `--healthz-bind-address=127.0.0.1:${ports.health}`,
    `--metrics-bind-address=127.0.0.1:${ports.metrics}`,
    "--oom-score-adj=0",
  ];
}

/**
 * Cluster DNS for the node's pods, answering only for the cluster's domain
 * from the apiserver's Services: every other name gets NXDOMAIN, so nothing
 * is forwarded to any resolver outside the machine.
 */
export function corefile(l: NodeLayout): string {
  return `${CLUSTER_DOMAIN}:53 {
    bind ${l.net.hostIp}
    errors
    kubernetes ${CLUSTER_DOMAIN} {
        kubeconfig ${l.corednsKubeconfig}
    }
}
.:53 {
    bind ${l.net.hostIp}
    template ANY ANY {
        rcode NXDOMAIN
    }
}
`;
}
