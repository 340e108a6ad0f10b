// A git repository served on loopback by `git daemon`: the source a GitOps
// controller syncs from. Tests commit to it as a user pushing to git would.
import { execFile } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import {
  type Component,
  freePorts,
  pollUntil,
  startComponent,
  stopComponents,
  track,
  untrack,
} from "../../hack/localcluster/procs.ts";

const run = promisify(execFile);

export interface GitRepo {
  /** git://127.0.0.1:PORT/gitops, as a GitOps controller clones it. */
  url: string;
  /** Writes (or, for null, deletes) files under the work tree, commits them and returns the commit. */
  commit(files: Record<string, string | null>, message: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startGitRepo(dir: string): Promise<GitRepo> {
  const work = join(dir, "gitops");
  mkdirSync(work, { recursive: true });
  const git = async (...args: string[]) =>
    (
      await run("git", ["-c", "user.name=GitOps Test", "-c", "user.email=gitops@example.test", ...args], {
        cwd: work,
      })
    ).stdout.trim();
  await git("init", "--quiet", "--initial-branch=main");
  await git("commit", "--quiet", "--allow-empty", "-m", "initial");
  const [port] = await freePorts(1);
  const daemon: Component = startComponent(
    "git-daemon",
    "git",
    [
      "daemon",
      "--reuseaddr",
      "--export-all",
      "--listen=127.0.0.1",
      `--port=${port}`,
      `--base-path=${dir}`,
      dir,
    ],
    join(dir, "git-daemon.log"),
  );
  track([daemon]);
  const url = `git://127.0.0.1:${port}/gitops`;
  await pollUntil(
    "git daemon",
    async () =>
      (await run("git", ["ls-remote", url])).stdout.includes("refs/heads/main") ? true : undefined,
    { timeoutMs: 15_000, watch: [daemon], log: console.log },
  );
  return {
    url,
    commit: async (files, message) => {
      for (const [path, content] of Object.entries(files)) {
        const file = join(work, path);
        if (content === null) {
          rmSync(file, { force: true });
        } else {
          mkdirSync(dirname(file), { recursive: true });
          writeFileSync(file, content);
        }
      }
      await git("add", "--all");
      await git("commit", "--quiet", "-m", message);
      return git("rev-parse", "HEAD");
    },
    stop: async () => {
      await stopComponents([daemon]);
      untrack([daemon]);
    },
  };
}
