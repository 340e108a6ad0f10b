// Both controllers at one N, one after the other, each on its own fresh cluster.
import { execFile } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBinaries } from "../../e2e/harness/global-setup.ts";
import { runSubject, type SubjectResult } from "./run.ts";
import { argoRollouts, modelops } from "./subjects.ts";
import { renderTable } from "./table.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** hack/argo-rollouts.sh (cached by version; about 7 minutes cold): the controller binary and its CRD directory. */
export async function ensureArgoRollouts(): Promise<{ binary: string; crdsDir: string }> {
  const child = execFile("bash", [join(root, "hack/argo-rollouts.sh")], { maxBuffer: 64 << 20 });
  child.stderr?.pipe(process.stderr);
  let stdout = "";
  child.stdout?.on("data", (c: string) => {
    stdout += c;
  });
  const code = await new Promise<number | null>((r) => child.on("close", r));
  const [binary, crdsDir] = stdout.trim().split("\n").pop()?.trim().split(" ") ?? [];
  if (code !== 0 || !binary || !crdsDir) throw new Error(`hack/argo-rollouts.sh failed (exit ${code})`);
  return { binary, crdsDir };
}

export interface BenchResult {
  ours: SubjectResult;
  argo?: SubjectResult;
  table: string;
}

export async function benchmark(
  n: number,
  idleSeconds: number,
  log: (line: string) => void = console.log,
): Promise<BenchResult> {
  const binDir = await ensureBinaries();
  const argoBuild = await ensureArgoRollouts();
  const common = { n, idleSeconds, binDir, log, keep: process.env.MODELOPS_KEEP_CLUSTER === "1" };
  const ours = await runSubject(modelops, common);
  // MODELOPS_SCALE_ONLY_OURS=1: the operator alone, to iterate on it (no table).
  if (process.env.MODELOPS_SCALE_ONLY_OURS === "1") return { ours, table: "" };
  const argo = await runSubject(argoRollouts(argoBuild.binary, argoBuild.crdsDir), common);
  return { ours, argo, table: renderTable(ours, argo, idleSeconds) };
}
