import { describe, expect, it } from "vitest";
import { alertRules, dashboardQueries, withoutThreshold } from "./monitoring-queries.ts";

describe("withoutThreshold", () => {
  it.each([
    [
      'max by (namespace, name) (phase{phase="RolledBack"}) == 1',
      ['max by (namespace, name) (phase{phase="RolledBack"})'],
    ],
    ["sum by (c) (rate(errors_total[5m])) > 0.1", ["sum by (c) (rate(errors_total[5m]))"]],
    [
      'absent(up{job=~".*op.*"} == 1) or sum(leader{name="l"}) < 1',
      ['up{job=~".*op.*"}', 'sum(leader{name="l"})'],
    ],
    ['x{a="b or c"} or absent(y) > 2e-3', ['x{a="b or c"}', "y"]],
    ["absent(a) or b(c)", ["a", "b(c)"]],
  ])("%s", (expr, expected) => {
    expect(withoutThreshold(expr)).toEqual(expected);
  });
});

describe("the shipped dashboard and alerts", () => {
  it("fills every template variable, and refuses to leave one unfilled", () => {
    const vars = { namespace: "ml", deployment: "iris", __rate_interval: "1m" };
    const queries = dashboardQueries(vars);
    expect(queries.length).toBeGreaterThan(8);
    expect(queries.filter((q) => q.expr.includes("$"))).toEqual([]);
    expect(() => dashboardQueries({ namespace: "ml", deployment: "iris" })).toThrow(/__rate_interval/);
  });

  it("leaves no comparison with a number in any alert's series", () => {
    const rules = alertRules();
    expect(rules.length).toBeGreaterThan(3);
    for (const r of rules)
      for (const e of withoutThreshold(r.expr)) expect(e, r.alert).not.toMatch(/(==|>|<)\s*[\d.]+\s*$/);
  });
});
