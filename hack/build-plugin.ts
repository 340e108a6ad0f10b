// Builds kubectl-modelops for installs without a source checkout:
//   kubectl-modelops.cjs   one JavaScript file (esbuild), runs on Node >= 20
//   kubectl-modelops       a single executable (Node's single-executable
//                          applications: the bundle injected into a copy of
//                          the project's Node 24 binary), no Node needed
//   kubectl-modelops_linux_amd64.tar.gz and modelops.yaml
//                          the krew archive and its manifest (hack/krew/modelops.yaml
//                          with this archive's sha256 and the --uri it will be published at)
// The slow part (the executable) is cached under $MODELOPS_CACHE (default
// ~/.cache/modelops-operator)/plugin/<hash of the bundle, Node and this script>,
// so a rebuild with unchanged sources takes about a second (bundling).
//
//   node hack/build-plugin.ts [--out dist/plugin] [--uri URI] [--bundle-only]
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
export const ARCHIVE = "kubectl-modelops_linux_amd64.tar.gz";
/** Where the krew manifest says the archive is until a real release URI is given. */
export const PLACEHOLDER_URI = `https://example.invalid/modelops-operator/releases/download/vVERSION/${ARCHIVE}`;

export interface PluginArtifacts {
  /** The bundle (CommonJS, starting with main.ts's `#!/usr/bin/env node` line). */
  bundle: string;
  /** The single executable; undefined with bundleOnly. */
  binary?: string;
  archive?: string;
  manifest?: string;
  /** The executable came from the cache. */
  cached: boolean;
  seconds: number;
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

async function bundle(): Promise<string> {
  const result = await build({
    entryPoints: [join(root, "operator/cli/main.ts")],
    bundle: true,
    platform: "node",
    // CommonJS: a single-executable application's main script must be one.
    format: "cjs",
    target: "node20",
    minify: true,
    legalComments: "none",
    write: false,
    alias: { undici: join(root, "hack/plugin/undici-absent.ts") },
    logLevel: "error",
  });
  return result.outputFiles[0]?.text ?? "";
}

function projectNode(): string {
  const node = join(root, "node_modules/node/bin/node");
  return existsSync(node) ? node : process.execPath;
}

/** The executable, its krew archive: built once per key into cacheDir. */
function buildExecutable(code: string, node: string, dir: string): void {
  const cjs = join(dir, "main.cjs");
  // The executable's main script is compiled as a function body, where a #! line is a syntax error.
  writeFileSync(cjs, code.replace(/^#!.*\n/, ""));
  const config = {
    main: cjs,
    output: join(dir, "sea.blob"),
    disableExperimentalSEAWarning: true,
    // Compiled once here, not at every start: a plugin starts for each command.
    useCodeCache: true,
  };
  writeFileSync(join(dir, "sea-config.json"), JSON.stringify(config));
  execFileSync(node, ["--experimental-sea-config", join(dir, "sea-config.json")], { stdio: "pipe" });
  const binary = join(dir, "kubectl-modelops");
  copyFileSync(node, binary);
  chmodSync(binary, 0o755);
  execFileSync(
    process.execPath,
    [
      join(root, "node_modules/postject/dist/cli.js"),
      binary,
      "NODE_SEA_BLOB",
      config.output,
      "--sentinel-fuse",
      SEA_FUSE,
    ],
    { stdio: "pipe" },
  );
  // Reproducible bytes, so the sha256 in the manifest is the same on every rebuild.
  execFileSync(
    "tar",
    [
      "--sort=name",
      "--mtime=@0",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "-cf",
      join(dir, "archive.tar"),
      "-C",
      dir,
      "kubectl-modelops",
    ],
    { stdio: "pipe" },
  );
  execFileSync("gzip", ["-n", join(dir, "archive.tar")], { stdio: "pipe" });
  renameSync(join(dir, "archive.tar.gz"), join(dir, ARCHIVE));
  for (const f of ["main.cjs", "sea.blob", "sea-config.json"]) rmSync(join(dir, f));
}

/** Keeps the newest executables (170 MB each): every change of the sources makes a new one. */
function pruneCache(dir: string, keep = 3): void {
  const entries = readdirSync(dir)
    .filter((name) => !name.includes(".tmp-"))
    .map((name) => ({ path: join(dir, name), mtime: statSync(join(dir, name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const old of entries.slice(keep)) rmSync(old.path, { recursive: true, force: true });
}

/** A hard link to the cached file (130 MB copied at every run would be most of a cached build), else a copy. */
function place(from: string, to: string): void {
  rmSync(to, { force: true });
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

function renderManifest(archive: string, uri: string, version: string): string {
  return readFileSync(join(root, "hack/krew/modelops.yaml"), "utf8")
    .replace(/^(\s*version: v)PLUGIN_VERSION$/m, `$1${version}`)
    .replace(/^(\s*uri: )PLUGIN_URI$/m, `$1${uri.replace("VERSION", version)}`)
    .replace(/^(\s*sha256: )PLUGIN_SHA256$/m, `$1${sha256(readFileSync(archive))}`);
}

export async function buildPlugin(
  opts: { out?: string; uri?: string; bundleOnly?: boolean } = {},
): Promise<PluginArtifacts> {
  const started = performance.now();
  const out = resolve(opts.out ?? join(root, "dist/plugin"));
  mkdirSync(out, { recursive: true });
  const code = await bundle();
  const bundlePath = join(out, "kubectl-modelops.cjs");
  writeFileSync(bundlePath, code, { mode: 0o755 });
  const seconds = () => Number(((performance.now() - started) / 1000).toFixed(2));
  if (opts.bundleOnly) return { bundle: bundlePath, cached: false, seconds: seconds() };

  const node = projectNode();
  const nodeVersion = execFileSync(node, ["--version"], { encoding: "utf8" }).trim();
  const script = readFileSync(fileURLToPath(import.meta.url));
  const key = sha256(`${sha256(code)}\n${nodeVersion}\n${statSync(node).size}\n${sha256(script)}`).slice(
    0,
    16,
  );
  const cacheDir = join(
    process.env.MODELOPS_CACHE ?? join(homedir(), ".cache/modelops-operator"),
    "plugin",
    key,
  );
  const cached = existsSync(join(cacheDir, ARCHIVE));
  if (!cached) {
    mkdirSync(dirname(cacheDir), { recursive: true });
    // Built aside and renamed: two concurrent builds never see half a directory.
    const tmp = mkdtempSync(`${cacheDir}.tmp-`);
    try {
      buildExecutable(code, node, tmp);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      const stderr = (err as { stderr?: Buffer }).stderr?.toString();
      throw new Error(`building the executable failed: ${stderr || (err as Error).message}`);
    }
    try {
      renameSync(tmp, cacheDir);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another build got there first
    }
    pruneCache(dirname(cacheDir));
  }
  const binary = join(out, "kubectl-modelops");
  const archive = join(out, ARCHIVE);
  place(join(cacheDir, "kubectl-modelops"), binary);
  place(join(cacheDir, ARCHIVE), archive);
  const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string })
    .version;
  const manifest = join(out, "modelops.yaml");
  writeFileSync(manifest, renderManifest(archive, opts.uri ?? PLACEHOLDER_URI, version));
  return { bundle: bundlePath, binary, archive, manifest, cached, seconds: seconds() };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      out: { type: "string" },
      uri: { type: "string" },
      "bundle-only": { type: "boolean", default: false },
    },
  });
  const a = await buildPlugin({
    ...(values.out ? { out: values.out } : {}),
    ...(values.uri ? { uri: values.uri } : {}),
    bundleOnly: values["bundle-only"],
  });
  const mb = (p?: string) => (p ? `${(statSync(p).size / 1e6).toFixed(1)} MB` : "-");
  console.error(
    `bundle ${mb(a.bundle)}, executable ${mb(a.binary)}${a.cached ? " (cached)" : ""}, archive ${mb(a.archive)}; ${a.seconds}s`,
  );
  for (const p of [a.bundle, a.binary, a.archive, a.manifest]) if (p) console.log(p);
}
