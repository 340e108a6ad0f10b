import { describe, expect, it } from "vitest";
import type { AutoscalingTarget, ModelDeployment } from "../api/index.ts";
import { totalQuery } from "./queries.ts";

const mdep = { metadata: { name: "iris", namespace: "ml" }, spec: {} } as ModelDeployment;
const sel = '{namespace="ml",deployment="iris"}[60s]';

describe("totalQuery", () => {
  it.each<[string, AutoscalingTarget, string]>([
    [
      "rps: client requests, the mirrored copies a shadow received taken out",
      { type: "rps", averageValue: 10 },
      `sum(rate(modelops_proxy_requests_total${sel})) - ` +
        `(sum(rate(modelops_proxy_mirrored_requests_total${sel})) or vector(0))`,
    ],
    [
      "concurrency: the same for requests in flight",
      { type: "concurrency", averageValue: 4 },
      `sum(avg_over_time(modelops_proxy_inflight_requests${sel})) - ` +
        `(sum(avg_over_time(modelops_proxy_mirrored_inflight_requests${sel})) or vector(0))`,
    ],
    [
      "query: the user's, with its placeholders filled in",
      { type: "query", averageValue: 1, query: 'sum(x{namespace="{{namespace}}",app="{{name}}"})' },
      'sum(x{namespace="ml",app="iris"})',
    ],
  ])("%s", (_, target, expected) => {
    expect(totalQuery(mdep, target, "60s")).toBe(expected);
  });
});
