// The chart's dashboard and alerts query only series the operator (or its
// proxy sidecar) exports, so a renamed metric fails here, not on a pager.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";
import { beforeAll, describe, expect, it } from "vitest";

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

describe("chart sharding", () => {
  type Obj = {
    kind: string;
    metadata: { name: string; labels?: Record<string, string> };
    spec: Record<string, unknown>;
  };
  let helm = "";
  const render = (...set: string[]): Obj[] => {
    const args = [
      "template",
      "modelops-operator",
      join(root, "charts/modelops-operator"),
      "-n",
      "modelops-system",
    ];
    for (const s of set) args.push("--set", s);
    const out = execFileSync(helm, args, { encoding: "utf8", maxBuffer: 64 << 20, stdio: "pipe" });
    return (yaml.loadAll(out) as (Obj | null)[]).filter((o): o is Obj => o !== null);
  };
  type PodSpec = { containers: { args: string[] }[] };
  type DeploymentSpec = {
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
  const deployments = (objs: Obj[]) =>
    objs
      .filter((o) => o.kind === "Deployment")
      .map((o) => ({ name: o.metadata.name, spec: o.spec as unknown as DeploymentSpec }));
  const shardArgs = (spec: DeploymentSpec) =>
    (spec.template.spec.containers[0]?.args ?? []).filter((a) =>
      /^--(watch-label-selector|leader-election-id)=/.test(a),
    );
  const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
    Object.entries(selector).every(([k, v]) => labels[k] === v);

  beforeAll(() => {
    helm =
      execFileSync("bash", [join(root, "hack/helm.sh")], { encoding: "utf8" })
        .trim()
        .split("\n")
        .pop() ?? "";
  }, 600_000);

  it("without shards the one Deployment watches everything under the default Lease", () => {
    const deps = deployments(render());
    expect(deps.map((d) => d.name)).toEqual(["modelops-operator"]);
    expect(shardArgs(deps[0]?.spec as DeploymentSpec)).toEqual([]);
  });

  it("sharding.shards adds a Deployment per shard with its selector and Lease, the main one takes the unlabelled", () => {
    const objs = render("sharding.shards={shard1,shard2}");
    const deps = deployments(objs);
    expect(deps.map((d) => [d.name, shardArgs(d.spec)])).toEqual([
      [
        "modelops-operator",
        ["--watch-label-selector=!modelops.io/shard", "--leader-election-id=modelops-operator-leader"],
      ],
      [
        "modelops-operator-shard1",
        [
          "--watch-label-selector=modelops.io/shard=shard1",
          "--leader-election-id=modelops-operator-leader-shard1",
        ],
      ],
      [
        "modelops-operator-shard2",
        [
          "--watch-label-selector=modelops.io/shard=shard2",
          "--leader-election-id=modelops-operator-leader-shard2",
        ],
      ],
    ]);
    // No Deployment's selector takes another's pods (selectors are immutable, so overlap would stay).
    for (const a of deps)
      for (const b of deps)
        expect(
          matches(a.spec.selector.matchLabels, b.spec.template.metadata.labels),
          `${a.name} selects ${b.name}`,
        ).toBe(a === b);
    // Each Deployment has its metrics Service and PDB selecting exactly its pods.
    for (const kind of ["Service", "PodDisruptionBudget"]) {
      const owned = objs.filter((o) => o.kind === kind);
      expect(owned).toHaveLength(3);
      for (const d of deps) {
        const picked = owned.filter((o) => {
          const sel = (
            kind === "Service" ? o.spec.selector : (o.spec.selector as { matchLabels: object }).matchLabels
          ) as Record<string, string> | undefined;
          return matches(sel ?? {}, d.spec.template.metadata.labels);
        });
        expect(picked, `${kind} of ${d.name}`).toHaveLength(1);
      }
    }
    // RBAC is shared: the shards add no ServiceAccount or role.
    const kinds = (o: Obj[]) =>
      o.filter((x) => /Role|ServiceAccount/.test(x.kind)).map((x) => x.metadata.name);
    expect(kinds(objs)).toEqual(kinds(render()));
  });

  it("refuses a shard name that is no label value", () => {
    expect(() => render("sharding.shards={Shard_1}")).toThrow(/sharding/);
  });
});
