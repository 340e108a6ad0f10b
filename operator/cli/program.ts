// The plugin's command line: commands, arguments, flags and their help, in
// one commander program. Handlers only read flags and call commands.ts;
// connecting to the cluster is the caller's (`connect`), so parsing and help
// are testable without one.
import { Command, InvalidArgumentError, Option } from "commander";
import type { ActionVerb } from "../api/contract.ts";
import {
  type CommandContext,
  cmdAction,
  cmdDrift,
  cmdExplain,
  cmdGet,
  cmdHistory,
  cmdPause,
  cmdStatus,
  TERMINAL_PHASES,
} from "./commands.ts";
import { completionScript, SHELLS } from "./completion.ts";
import { importMlflow } from "./import-mlflow.ts";
import { type OutputFormat, parseDuration } from "./output.ts";
import { findOperator, renderVersion } from "./version.ts";

export const PROGRAM_NAME = "kubectl modelops";

/** Flags every command takes, before or after the command name. */
export interface GlobalOptions {
  namespace?: string;
  kubeconfig?: string;
  context?: string;
}

export interface ProgramIO {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Reads the kubeconfig and returns what commands need; called only by commands that talk to the cluster. */
  connect: (globals: GlobalOptions) => CommandContext;
  /** Lists completion candidates that come from the cluster (ModelDeployment names). */
  names?: (globals: GlobalOptions) => Promise<string[]>;
}

/** The exit code a command asked for (status --watch ending on RolledBack: 1). */
export interface RunResult {
  code: number;
}

function duration(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

const output = (formats: OutputFormat[]) =>
  new Option("-o, --output <format>", "output format (default: text)").choices(formats);
const waitFlag = () => new Option("--wait", "wait until the operator has handled it");
const timeoutFlag = (what: string, byDefault: string) =>
  new Option("--timeout <duration>", `how long ${what}, e.g. 30s or 2m (default: ${byDefault})`).argParser(
    duration,
  );

type Opts = GlobalOptions & Record<string, unknown>;

export function buildProgram(io: ProgramIO, result: RunResult): Command {
  const program = new Command(PROGRAM_NAME)
    .description("Watch and steer ModelDeployment rollouts (modelops.io).")
    .option("-n, --namespace <namespace>", 'namespace (default: the kubeconfig context\'s, then "default")')
    .option("--kubeconfig <path>", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
    .option("--context <name>", "kubeconfig context to use")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.trimEnd()),
      writeErr: (s) => io.err(s.trimEnd()),
      // main.ts words errors itself (unknown commands as kubectl does).
      outputError: () => {},
    })
    .showSuggestionAfterError()
    .helpCommand("help [command]", "help for a command");

  /** Runs a handler with the merged global and command flags and a cluster context. */
  const act =
    (handler: (ctx: CommandContext, opts: Opts, ...args: string[]) => Promise<unknown>) =>
    async (...args: unknown[]) => {
      const command = args.at(-1) as Command;
      const opts = command.optsWithGlobals<Opts>();
      const code = await handler(io.connect(opts), opts, ...(args.slice(0, -2) as string[]));
      result.code = typeof code === "number" ? code : 0;
    };

  program
    .command("get")
    .description("list ModelDeployments: phase, stable, canary, weight, step, ready")
    .argument("[NAME]", "one ModelDeployment")
    .option("-A, --all-namespaces", "list ModelDeployments in all namespaces")
    .addOption(output(["json", "yaml", "wide"]))
    .action(
      act((ctx, o, name) =>
        cmdGet(ctx, name, { allNamespaces: o.allNamespaces === true, output: o.output as OutputFormat }),
      ),
    );

  program
    .command("status")
    .description("a rollout's steps, weight, analysis values and pods per revision")
    .argument("NAME", "the ModelDeployment")
    .option("-w, --watch", `print each change until the rollout rests (${TERMINAL_PHASES.join(", ")})`)
    .option("--keep-watching", "with --watch: keep watching after a terminal phase (until Ctrl-C)")
    .addOption(
      new Option("--interval <duration>", "--watch refresh interval").default(2000, "2s").argParser(duration),
    )
    .addOption(timeoutFlag("--watch waits for a terminal phase", "no limit"))
    .addOption(output(["json", "yaml"]))
    .addHelpText("after", "\n--watch exits 0 on Available, 1 on RolledBack or Degraded (for scripts and CI).")
    .action(
      act((ctx, o, name) =>
        cmdStatus(ctx, name as string, {
          watch: o.watch === true,
          keepWatching: o.keepWatching === true,
          intervalMs: o.interval as number,
          timeoutMs: o.timeout as number | undefined,
          output: o.output as OutputFormat,
        }),
      ),
    );

  const actions: [ActionVerb, string][] = [
    ["promote", "continue to the next step (--full: skip all remaining steps)"],
    ["abort", "send all traffic back to the stable version"],
    ["retry", "roll a rolled-back version out again"],
    ["undo", "serve the previous version again"],
  ];
  for (const [verb, description] of actions) {
    const command = program
      .command(verb)
      .description(description)
      .argument("NAME", "the ModelDeployment")
      .addOption(waitFlag())
      .addOption(timeoutFlag("--wait waits", "60s"))
      .addHelpText(
        "after",
        `\nSets the annotation modelops.io/action=${verb}@<id>; the operator acts on it once.`,
      );
    if (verb === "promote") command.option("--full", "skip all remaining steps");
    command.action(
      act((ctx, o, name) =>
        cmdAction(ctx, name as string, verb === "promote" && o.full ? "promote-full" : verb, {
          wait: o.wait === true,
          timeoutMs: o.timeout as number | undefined,
        }),
      ),
    );
  }

  for (const paused of [true, false]) {
    program
      .command(paused ? "pause" : "resume")
      .description(
        paused
          ? "freeze the rollout where it is (spec.paused=true)"
          : "let a paused rollout continue (spec.paused=false)",
      )
      .argument("NAME", "the ModelDeployment")
      .addOption(waitFlag())
      .addOption(timeoutFlag("--wait waits", "60s"))
      .addHelpText(
        "after",
        "\nSets spec.paused; if a GitOps tool syncs this ModelDeployment, set it in git instead.",
      )
      .action(
        act((ctx, o, name) =>
          cmdPause(ctx, name as string, paused, {
            wait: o.wait === true,
            timeoutMs: o.timeout as number | undefined,
          }),
        ),
      );
  }

  program
    .command("history")
    .description("finished rollouts, newest first, with who set each version and on what evidence")
    .argument("NAME", "the ModelDeployment")
    .addOption(output(["json", "yaml"]))
    .action(act((ctx, o, name) => cmdHistory(ctx, name as string, o.output as OutputFormat)));

  program
    .command("explain")
    .description("why the rollout is paused or rolled back, and what to do")
    .argument("NAME", "the ModelDeployment")
    .action(act((ctx, _o, name) => cmdExplain(ctx, name as string)));

  program
    .command("drift")
    .description("the last report of a DriftMonitor")
    .argument("NAME", "the DriftMonitor")
    .addOption(output(["json", "yaml"]))
    .action(act((ctx, o, name) => cmdDrift(ctx, name as string, o.output as OutputFormat)));

  program
    .command("version")
    .description("the plugin's version and the operator's (its Deployment's app.kubernetes.io/version label)")
    .option("--client", "the plugin's version only; no cluster needed")
    .action(async (o: { client?: boolean }, command: Command) => {
      if (o.client) return io.out(renderVersion(undefined));
      const ctx = io.connect(command.optsWithGlobals());
      io.out(renderVersion(await findOperator(ctx.kube, ctx.signal)));
    });

  program
    .command("completion")
    .description("a shell completion script: source <(kubectl-modelops completion bash)")
    .addArgument(program.createArgument("SHELL", SHELLS.join(", ")).choices(SHELLS))
    .action((shell: (typeof SHELLS)[number]) => io.out(completionScript(shell)));

  importCommand(program, io);
  return program;
}

function importCommand(program: Command, io: ProgramIO): void {
  program
    .command("import")
    .description("print a ModelVersion manifest from a model registry")
    .command("mlflow")
    .description(
      "print a ModelVersion manifest (YAML, for git) of an MLflow registry version; credentials from " +
        "MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD",
    )
    .requiredOption("--model <name>", "registered model name")
    .option("--version <number>", "model version number")
    .option("--alias <alias>", "model alias (resolved to its version now)")
    .option("--tracking-uri <uri>", "MLflow tracking server (default: $MLFLOW_TRACKING_URI)")
    .option("--name <name>", "metadata.name (default: <model>-v<version>)")
    .option("--stage <stage>", "spec.stage")
    .option("--image <image>", "model server image")
    .action(async (_o: unknown, command: Command) => {
      // Reads the MLflow server only: no kubeconfig needed.
      const v = command.optsWithGlobals<Record<string, string | undefined>>();
      const text = await importMlflow({
        model: v.model as string,
        ...(v.trackingUri ? { trackingUri: v.trackingUri } : {}),
        ...(v.version ? { version: v.version } : {}),
        ...(v.alias ? { alias: v.alias } : {}),
        ...(v.name ? { name: v.name } : {}),
        ...(v.namespace ? { namespace: v.namespace } : {}),
        ...(v.stage ? { stage: v.stage } : {}),
        ...(v.image ? { image: v.image } : {}),
      });
      io.out(text.trimEnd());
    });
}
