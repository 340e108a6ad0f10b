// The shipped prometheus-adapter rules serve exactly the pod metrics the
// operator's HPA asks for, from series the proxy really exports.
import { describe, expect, it } from "vitest";
import {
  INFLIGHT_REQUESTS,
  MIRRORED_INFLIGHT_REQUESTS,
  MIRRORED_REQUESTS_TOTAL,
  REQUESTS_TOTAL,
} from "../operator/api/metric-names.ts";
import { HPA_POD_METRICS } from "../operator/autoscaling/objects.ts";
import { adapterRules, metricName, podsQuery, seriesName } from "./prometheus-adapter.ts";

const rules = adapterRules();
const served = (metric: string) => rules.filter((r) => metricName(r, seriesName(r)) === metric);

describe("prometheus-adapter rules", () => {
  it.each([
    ["rps", HPA_POD_METRICS.rps, REQUESTS_TOTAL, MIRRORED_REQUESTS_TOTAL],
    ["concurrency", HPA_POD_METRICS.concurrency, INFLIGHT_REQUESTS, MIRRORED_INFLIGHT_REQUESTS],
  ])(
    "the HPA's %s metric %s is served by one rule, from %s minus %s, per pod",
    (_t, metric, series, mirrored) => {
      const [rule, ...more] = served(metric);
      expect(more).toEqual([]);
      expect(rule && seriesName(rule)).toBe(series);
      expect(rule?.resources.overrides).toEqual({
        namespace: { resource: "namespace" },
        pod: { resource: "pod" },
      });
      const query = podsQuery(rule as NonNullable<typeof rule>, "ml", ["iris-a", "iris-b"]);
      expect(query).not.toContain("<<");
      expect(query).toContain(`${series}{namespace="ml",pod=~"iris-a|iris-b"}`);
      expect(query).toContain(`${mirrored}{namespace="ml",pod=~"iris-a|iris-b"}`);
      expect(query).toContain("sum by (pod)");
    },
  );

  it("serves no name the adapter's default rules also derive from the proxy's series", () => {
    // The defaults turn a counter foo_total into foo_per_second and keep a gauge's name.
    const defaults = [REQUESTS_TOTAL.replace(/_total$/, "_per_second"), INFLIGHT_REQUESTS];
    const ours = rules.map((r) => metricName(r, seriesName(r)));
    expect(ours.filter((n) => n !== undefined && defaults.includes(n))).toEqual([]);
  });
});
