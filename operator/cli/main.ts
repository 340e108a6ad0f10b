#!/usr/bin/env node
// kubectl-modelops: a kubectl plugin (kubectl finds `kubectl-modelops` on
// PATH and runs it for `kubectl modelops ...`) to watch and steer rollouts.
// This file is the I/O shell: kubeconfig, signals, error wording, exit codes
// (0 done, 1 failed, 2 command-line misuse). It runs from a checkout on
// Node 24, and bundled (hack/build-plugin.ts) on Node >= 20 or as one binary.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { CommanderError } from "commander";
import { API_VERSION } from "../api/contract.ts";
import { KubeClient } from "../runtime/kube.ts";
import type { CommandContext } from "./commands.ts";
import { COMPLETE_COMMAND, complete, completionOutput } from "./completion.ts";
import { describeError, type Target, UsageError } from "./errors.ts";
import { buildProgram, type GlobalOptions, PROGRAM_NAME, type ProgramIO } from "./program.ts";

function loadKubeConfig(globals: GlobalOptions): { kc: KubeConfig; target: Target } {
  const kc = new KubeConfig();
  const home = join(homedir(), ".kube/config");
  // Without any, the client library falls back to http://localhost:8080 and a puzzling TLS complaint.
  if (
    !globals.kubeconfig &&
    !process.env.KUBECONFIG &&
    !existsSync(home) &&
    !process.env.KUBERNETES_SERVICE_HOST
  )
    throw new Error(`no kubeconfig: set KUBECONFIG, pass --kubeconfig, or create ${home}`);
  if (globals.kubeconfig) kc.loadFromFile(globals.kubeconfig);
  else kc.loadFromDefault();
  if (globals.context) {
    if (!kc.getContextObject(globals.context))
      throw new UsageError(`context ${JSON.stringify(globals.context)} does not exist in the kubeconfig`);
    kc.setCurrentContext(globals.context);
  }
  const target: Target = {
    server: kc.getCurrentCluster()?.server ?? "",
    context: kc.getCurrentContext(),
    kubeconfig: globals.kubeconfig ?? process.env.KUBECONFIG ?? "~/.kube/config",
  };
  if (!target.server)
    throw new UsageError(
      `no cluster in the kubeconfig (${target.kubeconfig}, context ${JSON.stringify(target.context)}); pass --kubeconfig or --context`,
    );
  return { kc, target };
}

/** Runs the plugin with `argv` (without node and the script); returns the exit code. */
export async function run(argv: string[], signal?: AbortSignal): Promise<number> {
  let target: Target | undefined;
  const io: ProgramIO = {
    out: (t) => console.log(t),
    err: (t) => console.error(t),
    connect: (globals): CommandContext => {
      const loaded = loadKubeConfig(globals);
      target = loaded.target;
      const contextNamespace =
        loaded.kc.getContextObject(loaded.kc.getCurrentContext())?.namespace ?? "default";
      return {
        kube: new KubeClient(loaded.kc),
        namespace: globals.namespace ?? contextNamespace,
        defaultNamespace: contextNamespace,
        out: io.out,
        err: io.err,
        ...(signal ? { signal } : {}),
      };
    },
  };
  const result = { code: 0 };
  const program = buildProgram(io, result);
  if (argv[0] === COMPLETE_COMMAND) {
    const names = async (globals: GlobalOptions) => {
      const ctx = io.connect(globals);
      const ref = { apiVersion: API_VERSION, kind: "ModelDeployment", namespace: ctx.namespace };
      return (await ctx.kube.listAll(ref)).items.map((m) => m.metadata?.name ?? "");
    };
    io.out(completionOutput(await complete(program, argv.slice(1), names)));
    return 0;
  }
  try {
    await program.parseAsync(argv, { from: "user" });
    return result.code;
  } catch (err) {
    return reportError(err, target);
  }
}

function reportError(err: unknown, target: Target | undefined): number {
  if (err instanceof CommanderError) {
    // --help and `help` print their page and succeed; a bare `kubectl modelops` prints it and fails.
    if (err.code === "commander.helpDisplayed" || err.code === "commander.help")
      return err.exitCode === 0 ? 0 : 2;
    if (err.code === "commander.unknownCommand") {
      const name = /'([^']*)'/.exec(err.message)?.[1] ?? "";
      const suggestion = /\(Did you mean ([^)]*)\?\)/.exec(err.message)?.[1];
      console.error(`error: unknown command ${JSON.stringify(name)} for ${JSON.stringify(PROGRAM_NAME)}`);
      if (suggestion) console.error(`\nDid you mean this?\n        ${suggestion}`);
    } else console.error(err.message);
    console.error(`Run '${PROGRAM_NAME} --help' for usage.`);
    return 2;
  }
  if (err instanceof UsageError) {
    console.error(`error: ${err.message}`);
    return 2;
  }
  console.error(describeError(err, target));
  return 1;
}

// Ctrl-C ends a watch or a wait cleanly (exit 0 after the last view).
const abort = new AbortController();
process.once("SIGINT", () => abort.abort());
run(process.argv.slice(2), abort.signal).then((code) => {
  process.exitCode = code;
});
