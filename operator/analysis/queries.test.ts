import { describe, expect, it } from "vitest";
import { metricQuery } from "./measure.ts";
import { builtinQuery, escapePromQLString, formatPromDuration, renderQuery } from "./queries.ts";

const vars = {
  namespace: "ml",
  name: "iris",
  revision: "abc123",
  stableRevision: "def456",
  version: "iris-v2",
  interval: "60s",
};

describe("escapePromQLString", () => {
  it.each([
    ["plain-name", "plain-name"],
    ['a"b', 'a\\"b'],
    ["a\\b", "a\\\\b"],
    ['\\"', '\\\\\\"'],
    ["line\nbreak\ttab\r", "line\\nbreak\\ttab\\r"],
  ])("%j → %j", (input, expected) => {
    expect(escapePromQLString(input)).toBe(expected);
  });
});

describe("formatPromDuration", () => {
  it.each([
    [60_000, "60s"],
    [1000, "1s"],
    [3_600_000, "3600s"],
    [1500, "1500ms"],
    [500, "500ms"],
    [0, "1ms"],
  ])("%d ms → %s", (ms, expected) => {
    expect(formatPromDuration(ms)).toBe(expected);
  });
});

describe("renderQuery", () => {
  it("replaces every placeholder", () => {
    const template =
      'sum(rate(x{namespace="{{namespace}}",deployment="{{name}}",revision="{{revision}}",version="{{version}}"}[{{interval}}]))' +
      ' / sum(rate(x{revision="{{stableRevision}}"}[{{ interval }}]))';
    expect(renderQuery(template, vars)).toEqual({
      ok: true,
      query:
        'sum(rate(x{namespace="ml",deployment="iris",revision="abc123",version="iris-v2"}[60s]))' +
        ' / sum(rate(x{revision="def456"}[60s]))',
    });
  });

  it("escapes label values so they cannot break out of the string", () => {
    const rendered = renderQuery('x{deployment="{{name}}"}', { ...vars, name: 'evil"} or vector(1) #' });
    expect(rendered).toEqual({ ok: true, query: 'x{deployment="evil\\"} or vector(1) #"}' });
  });

  it("inserts the interval unescaped (it is a duration, not a string)", () => {
    expect(renderQuery("rate(x[{{interval}}])", { ...vars, interval: "1500ms" })).toEqual({
      ok: true,
      query: "rate(x[1500ms])",
    });
  });

  it("leaves a query without placeholders as it is", () => {
    expect(renderQuery("vector(1)", vars)).toEqual({ ok: true, query: "vector(1)" });
  });

  it("reports an unknown placeholder instead of sending it", () => {
    const rendered = renderQuery('x{pod="{{pod}}"}', vars);
    expect(rendered.ok).toBe(false);
    expect(!rendered.ok && rendered.message).toMatch(
      /unknown placeholder \{\{pod\}\} \(known: \{\{namespace\}\}, /,
    );
  });

  it("reports a placeholder without a value", () => {
    const rendered = renderQuery('x{revision="{{stableRevision}}"}', { ...vars, stableRevision: undefined });
    expect(!rendered.ok && rendered.message).toBe(
      "cannot render the query: placeholder {{stableRevision}} has no value here (there is no stable revision yet)",
    );
  });
});

describe("builtinQuery", () => {
  const sel = { namespace: "ml", deployment: "iris", revision: "abc123", interval: "60s" };
  const labels = 'namespace="ml",deployment="iris",revision="abc123"';

  it.each([
    [
      "errorRate",
      `(sum(rate(modelops_proxy_requests_total{${labels},code="5xx"}[60s])) or vector(0)) / sum(rate(modelops_proxy_requests_total{${labels},code!="499"}[60s]))`,
    ],
    [
      "latencyP50",
      `histogram_quantile(0.5, sum by (le) (rate(modelops_proxy_request_duration_seconds_bucket{${labels}}[60s])))`,
    ],
    [
      "latencyP95",
      `histogram_quantile(0.95, sum by (le) (rate(modelops_proxy_request_duration_seconds_bucket{${labels}}[60s])))`,
    ],
    [
      "latencyP99",
      `histogram_quantile(0.99, sum by (le) (rate(modelops_proxy_request_duration_seconds_bucket{${labels}}[60s])))`,
    ],
    ["requestRate", `sum(rate(modelops_proxy_requests_total{${labels}}[60s]))`],
  ] as const)("%s", (metric, expected) => {
    expect(builtinQuery(metric, sel)).toBe(expected);
  });

  it("escapes the selector's values", () => {
    expect(builtinQuery("requestRate", { ...sel, deployment: 'a"b' })).toContain('deployment="a\\"b"');
  });
});

describe("metricQuery", () => {
  it("uses the built-in query for the revision in the variables", () => {
    const query = metricQuery({ builtin: "requestRate" }, { ...vars, revision: "def456" });
    expect(query).toEqual({
      ok: true,
      query:
        'sum(rate(modelops_proxy_requests_total{namespace="ml",deployment="iris",revision="def456"}[60s]))',
    });
  });

  it("renders a user query", () => {
    expect(metricQuery({ query: 'up{namespace="{{namespace}}"}' }, vars)).toEqual({
      ok: true,
      query: 'up{namespace="ml"}',
    });
  });
});
