// The PromQL of the shipped dashboard panels and alerts, made runnable
// against a test Prometheus: the dashboard's template variables filled in,
// and each alert's expression without its threshold (every shipped alert
// fires only on a failure, so a healthy test cluster can only show that its
// series exist). Pure; e2e/real-node-rollouts.test.ts runs them.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** Both generated from the chart (hack/helm-config.ts), so they are the chart's own. */
export const DASHBOARD = join(root, "charts/modelops-operator/files/dashboard.json");
export const PROMETHEUS_RULE = join(root, "config/prometheus/prometheusrule-modelops-operator.yaml");

export interface PanelQuery {
  panel: string;
  refId: string;
  expr: string;
}

type Dashboard = { panels: { title: string; targets?: { refId: string; expr: string }[] }[] };

/**
 * Every panel target's expression with `$name` and `${name}` replaced by
 * vars[name]; a variable left unfilled is an error, not a query that matches
 * nothing.
 */
export function dashboardQueries(vars: Record<string, string>, text = readFileSync(DASHBOARD, "utf8")) {
  const dashboard = JSON.parse(text) as Dashboard;
  return dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((t): PanelQuery => {
      const expr = t.expr.replace(/\$\{?(\w+)\}?/g, (all, name: string) => {
        const value = vars[name];
        if (value === undefined) throw new Error(`panel "${p.title}": no value for ${all}`);
        return value;
      });
      return { panel: p.title, refId: t.refId, expr };
    }),
  );
}

export interface AlertRule {
  alert: string;
  expr: string;
}

export function alertRules(text = readFileSync(PROMETHEUS_RULE, "utf8")): AlertRule[] {
  const rule = yaml.load(text) as { spec: { groups: { rules: AlertRule[] }[] } };
  return rule.spec.groups.flatMap((g) => g.rules).filter((r) => r.alert);
}

/**
 * The series an alert's expression compares: each operand of a top-level
 * `or`, with absent() unwrapped and a trailing comparison with a number
 * removed. `x > 0.1 or absent(y == 1)` gives [`x`, `y`].
 */
export function withoutThreshold(expr: string): string[] {
  const comparison = /\s*(==|!=|>=|<=|>|<)\s*-?[\d.]+(e[+-]?\d+)?$/i;
  return splitTopLevel(expr.trim(), " or ").map((part) => {
    let e = part.trim().replace(comparison, "");
    const absent = /^absent\((.*)\)$/s.exec(e);
    if (absent?.[1] && balanced(absent[1])) e = absent[1].trim().replace(comparison, "");
    return e.trim();
  });
}

function splitTopLevel(expr: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (c === '"' && expr[i - 1] !== "\\") quoted = !quoted;
    if (quoted) continue;
    if (c === "(" || c === "{" || c === "[") depth++;
    else if (c === ")" || c === "}" || c === "]") depth--;
    else if (depth === 0 && expr.startsWith(separator, i)) {
      parts.push(expr.slice(start, i));
      start = i + separator.length;
    }
  }
  parts.push(expr.slice(start));
  return parts;
}

/** Whether every bracket in `expr` closes inside it (so absent(a) or b(c) is not unwrapped as one call). */
function balanced(expr: string): boolean {
  let depth = 0;
  for (const c of expr) {
    if (c === "(") depth++;
    else if (c === ")" && --depth < 0) return false;
  }
  return depth === 0;
}
