// Writes config/argocd/actions.yaml, the value Argo CD expects under
// resource.customizations.actions.modelops.io_ModelDeployment, from the Lua
// files in config/argocd/actions/, so the scripts are tested as files and
// shipped verbatim. `--check` fails when actions.yaml is stale.
//   node hack/lua-argocd.ts [--check]
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const ARGOCD_DIR = join(root, "config/argocd");
export const ACTION_NAMES = ["promote", "promote-full", "abort", "retry", "undo"];

export function actionsYaml(): string {
  const read = (name: string) => readFileSync(join(ARGOCD_DIR, "actions", `${name}.lua`), "utf8");
  const value = {
    "discovery.lua": read("discovery"),
    definitions: ACTION_NAMES.map((name) => ({ name, "action.lua": read(name) })),
  };
  return `# Generated from actions/*.lua by hack/lua-argocd.ts; edit those.\n${yaml.dump(value, { lineWidth: -1 })}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const path = join(ARGOCD_DIR, "actions.yaml");
  const want = actionsYaml();
  let have = "";
  try {
    have = readFileSync(path, "utf8");
  } catch {}
  if (process.argv.includes("--check")) {
    if (have !== want) {
      console.error("config/argocd/actions.yaml is stale: run node hack/lua-argocd.ts");
      process.exit(1);
    }
  } else if (have !== want) writeFileSync(path, want);
}
