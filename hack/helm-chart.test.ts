// The chart's dashboard and alerts query only series the operator (or its
// proxy sidecar) exports, so a renamed metric fails here, not on a pager.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const files = join(root, "charts/modelops-operator/files");

function sources(dir: string): string {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".test.ts"))
    .map((e) => readFileSync(join(e.parentPath, e.name), "utf8"))
    .join("\n");
}

/** Metric names a PromQL text uses: ours and controller-runtime's. */
function metricNames(text: string): Set<string> {
  const names = text.match(/\b(modelops_[a-z_]+|controller_runtime_[a-z_]+|leader_election_[a-z_]+)/g) ?? [];
  // A histogram's series are named after it plus _bucket/_sum/_count.
  return new Set(names.map((n) => n.replace(/_(bucket|sum|count)$/, "")));
}

describe("chart monitoring", () => {
  const code = sources(join(root, "operator"));
  const dashboard = readFileSync(join(files, "dashboard.json"), "utf8");
  const alerts = readFileSync(join(files, "alerts.yaml"), "utf8");

  it.each([
    ["dashboard", dashboard],
    ["alerts", alerts],
  ])("the %s use exported metric names only", (_what, text) => {
    const used = [...metricNames(text)];
    expect(used.length).toBeGreaterThan(3);
    expect(used.filter((name) => !code.includes(`"${name}"`) && !code.includes(`\`${name}`))).toEqual([]);
  });

  it("every alert has a runbook_url whose section exists in docs/runbooks.md", () => {
    const rules = yaml.load(alerts) as { alert: string; annotations: Record<string, string> }[];
    const runbooks = readFileSync(join(root, "docs/runbooks.md"), "utf8");
    // GitHub's anchors: a heading in lower case, spaces as hyphens, other punctuation dropped.
    const anchors = new Set(
      [...runbooks.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
        (m[1] ?? "")
          .trim()
          .toLowerCase()
          .replace(/[^\w\- ]/g, "")
          .replaceAll(" ", "-"),
      ),
    );
    expect(rules.length).toBeGreaterThan(3);
    for (const rule of rules) {
      const url = rule.annotations.runbook_url ?? "";
      // RUNBOOK_URL is the chart's prometheusRule.runbookUrl (templates/prometheusrule.yaml).
      expect(url, rule.alert).toMatch(/^RUNBOOK_URL#[a-z0-9-]+$/);
      expect(anchors, `${rule.alert}: ${url}`).toContain(url.split("#")[1]);
    }
  });

  it("the dashboard is valid JSON with unique panel ids", () => {
    const parsed = JSON.parse(dashboard) as { uid: string; panels: { id: number }[] };
    expect(parsed.uid).toBe("modelops-operator");
    const ids = parsed.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
