import { CommanderError } from "commander";
import { describe, expect, it } from "vitest";
import { complete, completionOutput, completionScript } from "./completion.ts";
import { buildProgram, type GlobalOptions } from "./program.ts";

/** Parses argv as the plugin does, up to the point where a command would reach the cluster. */
async function parse(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  let connected: GlobalOptions | undefined;
  const program = buildProgram(
    {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
      connect: (globals) => {
        connected = globals;
        throw new Error("connect");
      },
    },
    { code: 0 },
  );
  let error: unknown;
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (e) {
    error = e;
  }
  return { out: out.join("\n"), err: err.join("\n"), connected, error };
}

const code = (e: unknown) => (e instanceof CommanderError ? e.code : (e as Error)?.message);

describe("kubectl modelops command line", () => {
  it("prints a help page per command", async () => {
    const status = await parse(["status", "--help"]);
    const promote = await parse(["promote", "--help"]);
    expect(code(status.error)).toBe("commander.helpDisplayed");
    expect(status.out).toContain("Usage: kubectl modelops status [options] <NAME>");
    expect(status.out).toContain("--keep-watching");
    expect(promote.out).toContain("Usage: kubectl modelops promote [options] <NAME>");
    expect(promote.out).toContain("--full");
    expect(promote.out).not.toContain("--keep-watching");
    expect((await parse(["help", "pause"])).out).toContain("spec.paused");
  });

  it("names an unknown command and suggests a near one", async () => {
    const r = await parse(["statu", "iris"]);
    expect(code(r.error)).toBe("commander.unknownCommand");
    expect((r.error as Error).message).toMatch(/unknown command 'statu'.*Did you mean status/s);
  });

  it("refuses bad flag values before touching the cluster", async () => {
    const format = await parse(["get", "-o", "xml"]);
    expect((format.error as Error).message).toContain("Allowed choices are json, yaml, wide");
    expect((await parse(["status", "iris", "-o", "wide"])).error).toBeInstanceOf(CommanderError);
    const timeout = await parse(["promote", "iris", "--wait", "--timeout", "soon"]);
    expect((timeout.error as Error).message).toContain('invalid duration "soon"');
    expect(code((await parse(["status"])).error)).toBe("commander.missingArgument");
    expect(code((await parse(["status", "a", "b"])).error)).toBe("commander.excessArguments");
    for (const r of [format, timeout]) expect(r.connected).toBeUndefined();
  });

  it("takes the global flags before or after the command", async () => {
    const after = await parse(["get", "-A", "-n", "ml", "--context", "prod"]);
    expect(after.connected).toMatchObject({ namespace: "ml", context: "prod" });
    const before = await parse(["--kubeconfig", "/k", "-n", "ml", "status", "iris", "--watch"]);
    expect(before.connected).toMatchObject({ namespace: "ml", kubeconfig: "/k" });
  });

  it("prints the client version and completion scripts without a cluster", async () => {
    expect((await parse(["version", "--client"])).out).toMatch(/^client: \d+\.\d+\.\d+$/);
    const bash = await parse(["completion", "bash"]);
    expect(bash.out).toContain("complete -F _kubectl_modelops kubectl-modelops");
    expect(bash.connected).toBeUndefined();
    expect((await parse(["completion", "zsh"])).out).toContain("#compdef kubectl-modelops");
    expect((await parse(["completion", "fish"])).out).toBe(completionScript("fish"));
    expect(code((await parse(["completion", "tcsh"])).error)).toBe("commander.invalidArgument");
  });
});

describe("completion candidates", () => {
  const program = buildProgram({ out: () => {}, err: () => {}, connect: () => ({}) as never }, { code: 0 });
  const asked: GlobalOptions[] = [];
  const names = async (g: GlobalOptions) => {
    asked.push(g);
    return ["iris", "churn"];
  };

  it("completes commands, per-command flags and their values", async () => {
    expect(await complete(program, ["p"], names)).toEqual(["promote", "pause"]);
    expect(await complete(program, ["status", "iris", "--k"], names)).toEqual([
      "--keep-watching",
      "--kubeconfig",
    ]);
    expect(await complete(program, ["promote", "iris", "--f"], names)).toEqual(["--full"]);
    expect(await complete(program, ["get", "-o", ""], names)).toEqual(["json", "yaml", "wide"]);
    expect(await complete(program, ["completion", "f"], names)).toEqual(["fish"]);
    expect(await complete(program, ["import", ""], names)).toEqual(["mlflow"]);
  });

  it("completes ModelDeployment names of the namespace given by -n", async () => {
    expect(await complete(program, ["-n", "ml", "status", "i"], names)).toEqual(["iris"]);
    expect(asked.at(-1)).toEqual({ namespace: "ml" });
    // A second NAME is not an argument any command takes.
    expect(await complete(program, ["status", "iris", ""], names)).toEqual([]);
    expect(completionOutput(["iris"])).toBe("iris\n:4");
  });
});
