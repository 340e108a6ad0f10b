// Shell completion. Every shell's script asks the plugin itself
// (`kubectl-modelops __complete WORDS... PARTIAL`), so commands and flags come
// from the one commander program and ModelDeployment names from the cluster.
// The same protocol is the one kubectl (1.26+) speaks to a
// `kubectl_complete-modelops` executable for `kubectl modelops <TAB>`: one
// candidate per line, then `:4` (cobra's "no file completion" directive).
import type { Command, Option } from "commander";
import type { GlobalOptions } from "./program.ts";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** The hidden first argument that asks for candidates instead of running a command. */
export const COMPLETE_COMMAND = "__complete";
const NO_FILE_COMPLETION = ":4";

const BASH = `# bash completion for kubectl-modelops: source <(kubectl-modelops completion bash)
_kubectl_modelops() {
  local IFS=$'\\n'
  COMPREPLY=($(kubectl-modelops ${COMPLETE_COMMAND} "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null | grep -v '^:'))
}
complete -F _kubectl_modelops kubectl-modelops`;

const ZSH = `#compdef kubectl-modelops
# zsh completion for kubectl-modelops: source <(kubectl-modelops completion zsh)
_kubectl_modelops() {
  local -a candidates
  candidates=("\${(@f)$(kubectl-modelops ${COMPLETE_COMMAND} "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  compadd -- "\${(@)candidates:#:*}"
}
compdef _kubectl_modelops kubectl-modelops`;

const FISH = `# fish completion for kubectl-modelops: kubectl-modelops completion fish | source
complete -c kubectl-modelops -f -a '(kubectl-modelops ${COMPLETE_COMMAND} (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null | string match -v ":*")'`;

export function completionScript(shell: Shell): string {
  return { bash: BASH, zsh: ZSH, fish: FISH }[shell];
}

const visible = (c: Command) =>
  c.commands.filter((s) => s.name() !== "help" && !(s as { _hidden?: boolean })._hidden);

function findOption(commands: Command[], flag: string): Option | undefined {
  for (const c of commands) {
    const o = c.options.find((x) => x.long === flag || x.short === flag);
    if (o) return o;
  }
  return undefined;
}

/**
 * Candidates for the last word of `words` (the one being typed, maybe ""),
 * given the words before it. `names` lists ModelDeployments of the namespace
 * the words name, for NAME arguments.
 */
export async function complete(
  program: Command,
  words: string[],
  names: (globals: GlobalOptions) => Promise<string[]>,
): Promise<string[]> {
  const partial = words.at(-1) ?? "";
  const path = [program];
  const globals: GlobalOptions = {};
  let positionals = 0;
  let pending: Option | undefined;
  for (const word of words.slice(0, -1)) {
    const current = path.at(-1) as Command;
    if (pending) {
      if (pending.long === "--namespace") globals.namespace = word;
      if (pending.long === "--context") globals.context = word;
      if (pending.long === "--kubeconfig") globals.kubeconfig = word;
      pending = undefined;
    } else if (word.startsWith("-")) {
      const o = findOption(path, word.split("=")[0] as string);
      if (o && (o.required || o.optional) && !word.includes("=")) pending = o;
    } else {
      const sub = positionals === 0 ? current.commands.find((c) => c.name() === word) : undefined;
      if (sub) path.push(sub);
      else positionals++;
    }
  }
  const current = path.at(-1) as Command;
  const matching = (list: readonly string[]) => list.filter((c) => c.startsWith(partial));
  if (pending) return matching(pending.argChoices ?? []);
  if (partial.startsWith("-"))
    return matching(
      // The command's own flags first, then the global ones.
      [...path]
        .reverse()
        .flatMap((c) => c.options.flatMap((o) => [o.long, o.short].filter((f): f is string => !!f))),
    );
  if (visible(current).length > 0) return matching(visible(current).map((c) => c.name()));
  const argument = current.registeredArguments[positionals];
  if (!argument) return [];
  if (argument.argChoices) return matching(argument.argChoices);
  if (argument.name() !== "NAME" || current.name() === "drift") return [];
  return matching(await names(globals).catch(() => []));
}

/** Prints the candidates in the protocol kubectl and the scripts read. */
export function completionOutput(candidates: string[]): string {
  return [...candidates, NO_FILE_COMPLETION].join("\n");
}
