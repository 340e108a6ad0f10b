// spec.runtime.grpcPort: the model server is told to serve gRPC there, the
// pod declares the port, and the proxy sidecar is told to send gRPC calls to
// it, without its own ports colliding with it.
import { describe, expect, it } from "vitest";
import { buildCrd, crdDefinitions, type JSONSchemaProps } from "../api/index.ts";
import { parseProxyConfig } from "../api/proxy-config.ts";
import { modelDeployment, modelVersion } from "../testing/fixtures.ts";
import { proxyPorts } from "./proxy-sidecar.ts";
import { desiredDeployment } from "./workload.ts";

type Container = {
  name: string;
  args?: string[];
  env?: { name: string; value: string }[];
  ports: { name: string; containerPort: number; protocol: string }[];
};

function podOf(runtime: Record<string, unknown>, proxyEnabled = true) {
  const mdep = modelDeployment("iris-v1");
  if (!proxyEnabled) mdep.spec.proxy = { enabled: false };
  const mv = modelVersion("iris-v1", { runtime } as never);
  const d = desiredDeployment(mdep, mv, "rev1", 1, { proxyImage: "op:1" }) as unknown as {
    spec: { template: { spec: { containers: Container[] } } };
  };
  return d.spec.template.spec.containers;
}

const envOf = (c: Container | undefined) => Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value]));
const proxyConfigOf = (c: Container | undefined) =>
  parseProxyConfig(c?.env?.find((e) => e.name === "MODELOPS_PROXY_CONFIG")?.value);

const mlserver = { name: "mlserver", image: "seldonio/mlserver:1.7.1", protocol: "v2", port: 8080 };

describe("runtime.grpcPort", () => {
  it("tells MLServer its gRPC port and points the proxy's grpcUpstream at it on loopback", () => {
    const [model, proxy] = podOf({ ...mlserver, grpcPort: 8081 });
    expect(envOf(model)).toMatchObject({ MLSERVER_HTTP_PORT: "8080", MLSERVER_GRPC_PORT: "8081" });
    expect(model?.ports).toEqual([
      { name: "model", containerPort: 8080, protocol: "TCP" },
      { name: "model-grpc", containerPort: 8081, protocol: "TCP" },
    ]);
    const config = proxyConfigOf(proxy);
    expect(config.upstream).toBe("http://127.0.0.1:8080");
    expect(config.grpcUpstream).toBe("http://127.0.0.1:8081");
    // gRPC reaches the pod on the proxy's one client port, like REST.
    expect(proxy?.ports.map((p) => p.name)).toEqual(["http", "metrics"]);
  });

  it("leaves gRPC unconfigured when unset", () => {
    const [model, proxy] = podOf(mlserver);
    expect(envOf(model).MLSERVER_GRPC_PORT).toBeUndefined();
    expect(model?.ports).toEqual([{ name: "model", containerPort: 8080, protocol: "TCP" }]);
    expect(proxyConfigOf(proxy).grpcUpstream).toBeUndefined();
  });

  it("declares the gRPC port as 'grpc' on the model container when there is no proxy", () => {
    const [model, proxy] = podOf({ ...mlserver, grpcPort: 9000 }, false);
    expect(proxy).toBeUndefined();
    expect(model?.ports).toEqual([
      { name: "http", containerPort: 8080, protocol: "TCP" },
      { name: "grpc", containerPort: 9000, protocol: "TCP" },
    ]);
  });

  it("wires triton and custom servers too", () => {
    const [triton] = podOf({ name: "triton", image: "t", protocol: "v2", port: 8000, grpcPort: 8001 });
    expect(triton?.args).toContain("--grpc-port=8001");
    const [custom] = podOf({ name: "custom", image: "c", protocol: "v2", port: 9000, grpcPort: 9001 });
    expect(envOf(custom)).toMatchObject({ PORT: "9000", GRPC_PORT: "9001" });
  });

  it("moves the proxy's ports off the model server's gRPC port", () => {
    expect(proxyPorts(8080, 8000)).toEqual({ http: 8001, metrics: 9090 });
    expect(proxyPorts(8000, 8001)).toEqual({ http: 8002, metrics: 9090 });
    expect(proxyPorts(9090, 9091)).toEqual({ http: 8000, metrics: 9092 });
    const [, proxy] = podOf({ ...mlserver, grpcPort: 8000 });
    expect(proxy?.ports.find((p) => p.name === "http")?.containerPort).toBe(8001);
  });

  it("is an int port the CRD rejects when it equals port, with a message saying how to fix it", () => {
    const mv = crdDefinitions.find((d) => d.kind === "ModelVersion");
    if (!mv) throw new Error("no ModelVersion CRD");
    const version = (
      buildCrd(mv).spec.versions as Array<{ schema: { openAPIV3Schema: JSONSchemaProps } }>
    )[0];
    const props = (n: JSONSchemaProps | undefined) => n?.properties as Record<string, JSONSchemaProps>;
    const runtime = props(props(version?.schema.openAPIV3Schema).spec).runtime;
    expect(props(runtime).grpcPort).toMatchObject({ type: "integer", minimum: 1, maximum: 65535 });
    const rules = (runtime?.["x-kubernetes-validations"] ?? []) as Array<{ rule: string; message: string }>;
    const differs = rules.find((r) => r.rule === "!has(self.grpcPort) || self.grpcPort != self.port");
    expect(differs?.message).toMatch(/choose a different grpcPort/);
  });
});
