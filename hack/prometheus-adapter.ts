// The prometheus-adapter rules the project ships (config/prometheus-adapter/
// values.yaml), and their queries as the adapter fills them in for a
// custom.metrics.k8s.io request about pods, so tests can run them against a
// real Prometheus holding the proxies' real series.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const ADAPTER_VALUES = join(root, "config/prometheus-adapter/values.yaml");

export interface AdapterRule {
  seriesQuery: string;
  resources: { overrides: Record<string, { resource: string }> };
  name: { matches: string; as: string };
  metricsQuery: string;
}

export function adapterRules(path = ADAPTER_VALUES): AdapterRule[] {
  const values = yaml.load(readFileSync(path, "utf8")) as { rules?: { custom?: AdapterRule[] } };
  const rules = values.rules?.custom;
  if (!rules?.length) throw new Error(`${path}: no rules.custom`);
  return rules;
}

/** The series name a rule's seriesQuery selects. */
export function seriesName(rule: AdapterRule): string {
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(rule.seriesQuery)?.[0];
  if (!name) throw new Error(`seriesQuery without a metric name: ${rule.seriesQuery}`);
  return name;
}

/** The custom metric a rule serves for a series, or undefined when its name does not match. */
export function metricName(rule: AdapterRule, series: string): string | undefined {
  const m = new RegExp(rule.name.matches).exec(series);
  if (!m) return undefined;
  return rule.name.as.replace(/\$\{?(\d+)\}?/g, (_all, i: string) => m[Number(i)] ?? "");
}

/**
 * The PromQL the adapter runs for `pods/<metric>` of some pods in a
 * namespace: <<.Series>> the series, <<.LabelMatchers>> the namespace and the
 * pods (a regex alternation), <<.GroupBy>> the pod label.
 */
export function podsQuery(rule: AdapterRule, namespace: string, pods: string[]): string {
  const label = (resource: string) =>
    Object.entries(rule.resources.overrides).find(([, r]) => r.resource === resource)?.[0];
  const nsLabel = label("namespace");
  const podLabel = label("pod");
  if (!nsLabel || !podLabel) throw new Error(`rule ${rule.name.as} does not map namespace and pod labels`);
  const matchers = `${nsLabel}="${namespace}",${podLabel}=~"${pods.join("|")}"`;
  return rule.metricsQuery
    .replaceAll("<<.Series>>", seriesName(rule))
    .replaceAll("<<.LabelMatchers>>", matchers)
    .replaceAll("<<.GroupBy>>", podLabel);
}
