#!/usr/bin/env node
// kubectl-modelops: a kubectl plugin (kubectl finds `kubectl-modelops` on
// PATH and runs it for `kubectl modelops ...`) to watch and steer rollouts.
import { parseArgs } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import type { ActionVerb } from "../api/contract.ts";
import { KubeClient } from "../runtime/kube.ts";
import {
  type CommandContext,
  cmdAction,
  cmdDrift,
  cmdExplain,
  cmdGet,
  cmdHistory,
  cmdStatus,
} from "./commands.ts";
import { importMlflow } from "./import-mlflow.ts";

export const USAGE = `Usage: kubectl modelops COMMAND [NAME] [flags]

Commands:
  get [NAME]              list ModelDeployments: phase, stable, canary, weight, step, ready
  status NAME [--watch]   a rollout's steps, weight, analysis values and pods per revision
  promote NAME [--full]   continue to the next step (--full: skip all remaining steps)
  abort NAME              send all traffic back to the stable version
  retry NAME              roll a rolled-back version out again
  undo NAME               serve the previous version again
  history NAME            finished rollouts, newest first
  explain NAME            why the rollout is paused or rolled back, and what to do
  drift NAME              the last report of a DriftMonitor
  import mlflow --model M (--version N | --alias A) [--tracking-uri URI] [--name K8S_NAME] [--stage S] [--image I]
                          print a ModelVersion manifest (YAML, for git) of an MLflow registry version;
                          credentials from MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD

Flags:
  -n, --namespace NS      namespace (default: the kubeconfig context's, then "default")
  --kubeconfig PATH       kubeconfig (default: $KUBECONFIG, then ~/.kube/config)
  --context NAME          kubeconfig context
  --wait                  actions: wait until the operator has handled the action
  --interval SECONDS      status --watch: refresh interval (default 2)
`;

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      namespace: { type: "string", short: "n" },
      kubeconfig: { type: "string" },
      context: { type: "string" },
      watch: { type: "boolean", short: "w", default: false },
      full: { type: "boolean", default: false },
      wait: { type: "boolean", default: false },
      interval: { type: "string", default: "2" },
      "tracking-uri": { type: "string" },
      model: { type: "string" },
      version: { type: "string" },
      alias: { type: "string" },
      name: { type: "string" },
      stage: { type: "string" },
      image: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
}

type Parsed = ReturnType<typeof parse>;

function contextFrom(values: Parsed["values"], signal: AbortSignal): CommandContext {
  const kc = new KubeConfig();
  if (values.kubeconfig) kc.loadFromFile(values.kubeconfig);
  else kc.loadFromDefault();
  if (values.context) kc.setCurrentContext(values.context);
  const namespace = values.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? "default";
  return { kube: new KubeClient(kc), namespace, out: (t) => console.log(t), signal };
}

async function dispatch(command: string, name: string | undefined, parsed: Parsed, ctx: CommandContext) {
  const { values } = parsed;
  if (command === "get") return cmdGet(ctx, name);
  if (!name) throw new UsageError(`${command} needs a NAME`);
  switch (command) {
    case "status":
      return cmdStatus(ctx, name, { watch: values.watch, intervalMs: Number(values.interval) * 1000 });
    case "promote":
    case "abort":
    case "retry":
    case "undo": {
      const verb: ActionVerb = command === "promote" && values.full ? "promote-full" : command;
      return cmdAction(ctx, name, verb, { wait: values.wait });
    }
    case "history":
      return cmdHistory(ctx, name);
    case "explain":
      return cmdExplain(ctx, name);
    case "drift":
      return cmdDrift(ctx, name);
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

class UsageError extends Error {}

export async function run(argv: string[]): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parse(argv);
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const [command, name] = parsed.positionals;
  if (parsed.values.help || !command) {
    console.log(USAGE);
    return command || parsed.values.help ? 0 : 2;
  }
  if (command === "import") {
    // Reads the MLflow server only: no kubeconfig needed.
    try {
      if (name !== "mlflow")
        throw new UsageError(`import supports "mlflow", not ${JSON.stringify(name ?? "")}`);
      const v = parsed.values;
      if (!v.model) throw new UsageError("import mlflow needs --model");
      process.stdout.write(
        await importMlflow({
          model: v.model,
          ...(v["tracking-uri"] ? { trackingUri: v["tracking-uri"] } : {}),
          ...(v.version ? { version: v.version } : {}),
          ...(v.alias ? { alias: v.alias } : {}),
          ...(v.name ? { name: v.name } : {}),
          ...(v.namespace ? { namespace: v.namespace } : {}),
          ...(v.stage ? { stage: v.stage } : {}),
          ...(v.image ? { image: v.image } : {}),
        }),
      );
      return 0;
    } catch (err) {
      console.error(`error: ${(err as Error).message}`);
      if (err instanceof UsageError) console.error(`\n${USAGE}`);
      return err instanceof UsageError ? 2 : 1;
    }
  }
  const abort = new AbortController();
  process.once("SIGINT", () => abort.abort());
  try {
    await dispatch(command, name, parsed, contextFrom(parsed.values, abort.signal));
    return 0;
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    if (err instanceof UsageError) console.error(`\n${USAGE}`);
    return err instanceof UsageError ? 2 : 1;
  }
}

process.exitCode = await run(process.argv.slice(2));
