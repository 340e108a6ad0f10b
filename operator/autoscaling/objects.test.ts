import { describe, expect, it } from "vitest";
import type { Autoscaling, ModelDeployment } from "../api/index.ts";
import { desiredHpa, desiredScaledObject } from "./objects.ts";

const mdep = { metadata: { name: "iris", namespace: "ml", uid: "u1" }, spec: {} } as ModelDeployment;
const autoscaling = (targets: Autoscaling["targets"], extra: Partial<Autoscaling> = {}): Autoscaling =>
  ({
    provider: "hpa",
    minReplicas: 0,
    maxReplicas: 9,
    targets,
    panicWindow: "6s",
    stableWindow: "60s",
    ...extra,
  }) as Autoscaling;

describe("desiredHpa", () => {
  it("targets the ModelDeployment and maps every target type", () => {
    const hpa = desiredHpa(
      mdep,
      autoscaling(
        [
          { type: "cpu", averageUtilization: 70 },
          { type: "rps", averageValue: 0.5 },
          { type: "concurrency", averageValue: 4 },
          { type: "query", averageValue: 2000, query: "sum(x)" },
        ],
        { scaleDown: { stabilizationWindowSeconds: 120, maxPodsPerStep: 2 } },
      ),
    );
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: "modelops.io/v1alpha1",
      kind: "ModelDeployment",
      name: "iris",
    });
    expect(hpa.spec.minReplicas).toBe(1); // HPA cannot scale to zero without a feature gate
    expect(hpa.spec.metrics).toEqual([
      {
        type: "Resource",
        resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } },
      },
      {
        type: "Pods",
        pods: {
          metric: { name: "modelops_proxy_client_requests_per_second" },
          target: { type: "AverageValue", averageValue: "500m" },
        },
      },
      {
        type: "Pods",
        pods: {
          metric: { name: "modelops_proxy_client_inflight_requests" },
          target: { type: "AverageValue", averageValue: "4" },
        },
      },
      {
        type: "External",
        external: {
          metric: {
            name: "modelops_autoscaling_query",
            selector: { matchLabels: { modelops_deployment: "iris", target: "3" } },
          },
          target: { type: "AverageValue", averageValue: "2k" },
        },
      },
    ]);
    expect(hpa.spec.behavior).toEqual({
      scaleDown: {
        stabilizationWindowSeconds: 120,
        policies: [{ type: "Pods", value: 2, periodSeconds: 15 }],
      },
    });
    expect(hpa.metadata.ownerReferences).toHaveLength(1);
  });
});

describe("desiredScaledObject", () => {
  it("uses a Prometheus trigger on the proxy's series", () => {
    const so = desiredScaledObject(
      mdep,
      autoscaling([{ type: "rps", averageValue: 20 }]),
      "http://prom:9090",
    ) as {
      spec: { minReplicaCount: number; triggers: unknown[] };
    };
    expect(so.spec.minReplicaCount).toBe(0);
    expect(so.spec.triggers).toEqual([
      {
        type: "prometheus",
        metadata: {
          serverAddress: "http://prom:9090",
          query:
            'sum(rate(modelops_proxy_requests_total{namespace="ml",deployment="iris"}[1m])) - ' +
            '(sum(rate(modelops_proxy_mirrored_requests_total{namespace="ml",deployment="iris"}[1m])) or vector(0))',
          threshold: "20",
        },
      },
    ]);
  });
});
