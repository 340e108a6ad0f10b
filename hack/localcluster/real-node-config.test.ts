import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { chooseSlot, nodeNetwork } from "./node-network.ts";
import {
  cniConfig,
  containerdConfig,
  corefile,
  kubeletConfig,
  kubeProxyArgs,
  type NodeLayout,
  REAL_NODE_TAINT,
} from "./real-node-config.ts";

const layout: NodeLayout = {
  net: nodeNetwork(7),
  dir: "/tmp/c/node",
  runDir: "/run/modelops/node-7",
  cgroupRoot: "/modelops-node-7",
  caCert: "/tmp/c/pki/ca.crt",
  pauseImage: "modelops.local/pause:1",
  kubeletKubeconfig: "/tmp/c/node/kubelet.kubeconfig",
  kubeProxyKubeconfig: "/tmp/c/node/kube-proxy.kubeconfig",
  corednsKubeconfig: "/tmp/c/node/coredns.kubeconfig",
  kubeletServing: { cert: "/tmp/c/pki/kubelet-serving.crt", key: "/tmp/c/pki/kubelet-serving.key" },
};

describe("node network", () => {
  it("derives every address from the slot, in ranges apart from each other and from KWOK's pods", () => {
    expect(nodeNetwork(7)).toMatchObject({
      netns: "modelops-node-7",
      hostIp: "10.231.7.1",
      nodeIp: "10.231.7.2",
      podCidr: "10.245.7.0/24",
      serviceCidr: "10.96.7.0/24",
      kubernetesServiceIp: "10.96.7.1",
    });
    // Interface names are limited to 15 characters.
    expect(nodeNetwork(200).hostInterface.length).toBeLessThanOrEqual(15);
    expect(() => nodeNetwork(0)).toThrow(/out of range/);
    expect(() => nodeNetwork(201)).toThrow(/out of range/);
  });

  it("gives a directory the same slot each time and moves on from taken ones", () => {
    const free = chooseSlot("/some/cluster", () => false);
    expect(chooseSlot("/some/cluster", () => false)).toBe(free);
    expect(chooseSlot("/some/cluster", (s) => s === free)).not.toBe(free);
    expect(() => chooseSlot("/some/cluster", () => true)).toThrow(/in use/);
  });
});

describe("node component configuration", () => {
  it("registers the kubelet tainted, on cgroup v1, with the cluster's DNS and no host resolvers", () => {
    const config = load(kubeletConfig(layout)) as Record<string, unknown>;
    expect(config.registerWithTaints).toEqual([REAL_NODE_TAINT]);
    expect(config).toMatchObject({
      address: "10.231.7.2",
      failCgroupV1: false,
      oomScoreAdj: 0,
      cgroupDriver: "cgroupfs",
      cgroupRoot: "/modelops-node-7",
      clusterDNS: ["10.231.7.1"],
      resolvConf: "",
      containerRuntimeEndpoint: "unix:///run/modelops/node-7/containerd.sock",
      authentication: { anonymous: { enabled: false } },
    });
  });

  it("keeps containerd's state, sockets and pod namespaces under the node's own directories", () => {
    const toml = containerdConfig(layout);
    expect(toml).toContain('root = "/tmp/c/node/containerd"');
    expect(toml).toContain('address = "/run/modelops/node-7/containerd.sock"');
    expect(toml).toContain('sandbox_image = "modelops.local/pause:1"');
    expect(toml).toContain("netns_mounts_under_state_dir = true");
    expect(toml).toContain("restrict_oom_score_adj = true");
    expect(toml).toContain('Root = "/run/modelops/node-7/runc"');
  });

  it("gives pods the node's range and no masquerading", () => {
    const conf = JSON.parse(cniConfig(layout)) as { plugins: Array<Record<string, unknown>> };
    expect(conf.plugins[0]).toMatchObject({ type: "bridge", ipMasq: false, isGateway: true });
    expect(JSON.stringify(conf.plugins[0])).toContain("10.245.7.0/24");
  });

  it("never forwards DNS names outside the cluster", () => {
    const dns = corefile(layout);
    expect(dns).not.toMatch(/forward|proxy/);
    expect(dns).toContain("bind 10.231.7.1");
    expect(dns).toContain("rcode NXDOMAIN");
  });

  it("runs kube-proxy in iptables mode for the node's pods, leaving machine-wide settings alone", () => {
    const args = kubeProxyArgs(layout, { health: 1, metrics: 2 });
    expect(args).toContain("--proxy-mode=iptables");
    expect(args).toContain("--cluster-cidr=10.245.7.0/24");
    expect(args).toContain("--conntrack-max-per-core=0");
    expect(args).toContain("--oom-score-adj=0");
  });
});
