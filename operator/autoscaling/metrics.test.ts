import { describe, expect, it } from "vitest";
import { createRegistry, metricValue } from "../runtime/metrics.ts";
import { forgetAutoscalerMetrics, recordAutoscalerMetrics } from "./metrics.ts";

const iris = { namespace: "ml", name: "iris" };
const other = { namespace: "ml", name: "other" };

describe("autoscaler gauges", () => {
  it("drop a target's value when it has no data, rather than show a stale one", async () => {
    const registry = createRegistry({ defaultMetrics: false });
    recordAutoscalerMetrics(registry, iris, 3, [{ type: "rps", value: 25 }]);
    expect(await metricValue(registry, "modelops_autoscaler_metric_value", { ...iris, type: "rps" })).toBe(
      25,
    );
    recordAutoscalerMetrics(registry, iris, 3, [{ type: "rps", value: undefined }]);
    expect(
      await metricValue(registry, "modelops_autoscaler_metric_value", { ...iris, type: "rps" }),
    ).toBeUndefined();
    expect(await metricValue(registry, "modelops_autoscaler_desired_replicas", iris)).toBe(3);
  });

  it("are forgotten for one ModelDeployment, and only for it", async () => {
    const registry = createRegistry({ defaultMetrics: false });
    recordAutoscalerMetrics(registry, iris, 3, [
      { type: "rps", value: 25 },
      { type: "concurrency", value: 4 },
    ]);
    recordAutoscalerMetrics(registry, other, 2, [{ type: "rps", value: 7 }]);
    forgetAutoscalerMetrics(registry, "ml", "iris");
    expect(await metricValue(registry, "modelops_autoscaler_desired_replicas", iris)).toBeUndefined();
    expect(await metricValue(registry, "modelops_autoscaler_metric_value", iris)).toBeUndefined();
    expect(await metricValue(registry, "modelops_autoscaler_desired_replicas", other)).toBe(2);
    expect(await metricValue(registry, "modelops_autoscaler_metric_value", other)).toBe(7);
  });

  it("forgetting creates nothing", () => {
    const registry = createRegistry({ defaultMetrics: false });
    forgetAutoscalerMetrics(registry, "ml", "iris");
    expect(registry.getMetricsAsArray()).toEqual([]);
  });
});
