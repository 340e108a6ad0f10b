// The kubectl-modelops plugin installed the ways a user installs it, each
// into an empty directory that is alone on PATH (plus the Node it needs), and
// run through kubectl as `kubectl modelops ...` against the test cluster.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { copyFileSync, linkSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildPlugin, type PluginArtifacts } from "../../hack/build-plugin.ts";
import { waitFor } from "../../hack/localcluster/kubectl.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** PATH entries of one way of installing the plugin. */
export type Install = string[];
export type InstallKind = "binary" | "bundle" | "source" | "krew";

/** The machine's Node 20 (the bundle's oldest supported Node), found as `which -a node` would. */
export function node20(): string {
  const candidates = [...(process.env.PATH ?? "").split(delimiter), "/usr/bin", "/usr/local/bin"];
  for (const dir of candidates) {
    try {
      const version = execFileSync(join(dir, "node"), ["--version"], { encoding: "utf8" });
      if (version.startsWith("v20.")) return join(dir, "node");
    } catch {}
  }
  throw new Error("no Node 20 on this machine to run the bundle with");
}

/** Builds (cached) and installs the plugin; `remove` deletes every directory it made. */
export class PluginInstalls {
  readonly installs: Record<InstallKind, Install> = { binary: [], bundle: [], source: [], krew: [] };
  artifacts!: PluginArtifacts;
  private readonly dirs: string[] = [];

  emptyDir(name: string): string {
    const dir = mkdtempSync(join(tmpdir(), `modelops-plugin-${name}-`));
    this.dirs.push(dir);
    return dir;
  }

  /** The single executable, the bundle on Node 20 and the source checkout on this Node (24). */
  async install(): Promise<void> {
    this.artifacts = await buildPlugin({ out: this.emptyDir("build") });
    const binary = this.emptyDir("binary");
    // A hard link: the same bytes as a copy, without writing 130 MB per run.
    linkSync(this.artifacts.binary as string, join(binary, "kubectl-modelops"));
    this.installs.binary = [binary];
    const bundle = this.emptyDir("bundle");
    copyFileSync(this.artifacts.bundle, join(bundle, "kubectl-modelops"));
    const node = join(this.emptyDir("node20"), "node");
    symlinkSync(node20(), node);
    this.installs.bundle = [bundle, dirname(node)];
    const source = this.emptyDir("source");
    symlinkSync(join(root, "operator/cli/main.ts"), join(source, "kubectl-modelops"));
    this.installs.source = [source, dirname(process.execPath)];
  }

  /** `kubectl krew install` from the built manifest and archive, krew built by hack/krew.sh; returns its output. */
  installWithKrew(kubectl: string): { code: number | null; output: string } {
    const krew = execFileSync("bash", [join(root, "hack/krew.sh")], { encoding: "utf8" })
      .trim()
      .split("\n")
      .pop();
    const krewBin = this.emptyDir("krew-bin");
    copyFileSync(krew as string, join(krewBin, "kubectl-krew"));
    const krewRoot = this.emptyDir("krew-root");
    const { manifest, archive } = this.artifacts;
    const r = spawnSync(kubectl, ["krew", "install", `--manifest=${manifest}`, `--archive=${archive}`], {
      env: { PATH: krewBin, KREW_ROOT: krewRoot, KREW_NO_UPGRADE_CHECK: "1" },
      encoding: "utf8",
      input: "",
    });
    this.installs.krew = [join(krewRoot, "bin")];
    return { code: r.status, output: r.stdout + r.stderr };
  }

  remove(): void {
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
  }
}

export type PluginResult = { code: number; stdout: string; stderr: string };

/** Starts `kubectl ARGS` with only `path` on PATH; `stop` sends SIGINT (kubectl execs the plugin, so it gets it). */
export function startKubectl(kubectl: string, args: string[], env: Record<string, string>) {
  const child = spawn(kubectl, args, { env, timeout: 120_000 });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<PluginResult>((resolve) =>
    child.on("close", (code) => resolve({ code: code ?? 128, stdout, stderr })),
  );
  const printed = (text: string) =>
    waitFor(async () => stdout.includes(text) || undefined, {
      timeoutMs: 20_000,
      intervalMs: 200,
      description: `kubectl ${args.join(" ")} prints "${text}"`,
    });
  return { done, stop: () => child.kill("SIGINT"), output: () => stdout, printed };
}
