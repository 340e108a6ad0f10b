// A real model server for the proxy's integration test and benchmark:
// MLServer (Open Inference Protocol over REST) serving the tiny scikit-learn
// models that train.py fits, from the cached venv that venv.sh creates.
// Processes are tracked so they die with the test process.
import { execFile } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  freePorts,
  pollUntil,
  startComponent,
  stopComponents,
  track,
  untrack,
} from "../localcluster/procs.ts";

const here = dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);

export type ModelKind = "logreg" | "tree" | "wide";

export interface RunningModelServer {
  /** e.g. http://127.0.0.1:41234; the model is "iris" at /v2/models/iris/infer. */
  url: string;
  port: number;
  /** MLServer's gRPC (Open Inference Protocol, h2c) port, e.g. for grpcUpstream as http://127.0.0.1:<grpcPort>. */
  grpcPort: number;
  pid: number;
  logPath: string;
  stop(): Promise<void>;
}

/** The venv (installed once, cached outside the repo) and both trained models under `dir`. */
export async function prepareModels(dir: string): Promise<{ venv: string; modelsDir: string }> {
  const venvOut = await run("bash", [join(here, "venv.sh")], { maxBuffer: 16 << 20, timeout: 15 * 60_000 });
  const venv = venvOut.stdout.trim().split("\n").pop() ?? "";
  if (!existsSync(join(venv, "bin", "mlserver")))
    throw new Error(`venv.sh gave no mlserver: ${venvOut.stderr}`);
  const modelsDir = resolve(dir, "models");
  await run(join(venv, "bin", "python"), [join(here, "train.py"), modelsDir], { timeout: 120_000 });
  return { venv, modelsDir };
}

async function ready(url: string): Promise<true | undefined> {
  const res = await fetch(`${url}/v2/models/iris/ready`, { signal: AbortSignal.timeout(2000) });
  return res.ok ? true : undefined;
}

/** Starts MLServer with one model (served as "iris") on free loopback ports; waits until the model is ready. */
export async function startModelServer(
  venv: string,
  modelsDir: string,
  kind: ModelKind,
): Promise<RunningModelServer> {
  const folder = join(modelsDir, kind);
  const [httpPort, grpcPort] = (await freePorts(2)) as [number, number];
  // parallel_workers 0: inference in the server process, no worker pool to start or leak.
  const settings = {
    http_port: httpPort,
    grpc_port: grpcPort,
    host: "127.0.0.1",
    parallel_workers: 0,
    metrics_endpoint: null,
  };
  writeFileSync(join(folder, "settings.json"), JSON.stringify(settings));
  const logPath = join(modelsDir, `${kind}.log`);
  const c = startComponent(`mlserver-${kind}`, join(venv, "bin", "mlserver"), ["start", folder], logPath);
  track([c]);
  const stop = async () => {
    await stopComponents([c], 5000);
    untrack([c]);
  };
  const url = `http://127.0.0.1:${httpPort}`;
  try {
    await pollUntil(`mlserver ${kind}`, () => ready(url), {
      timeoutMs: 60_000,
      watch: [c],
      log: () => {},
      intervalMs: 200,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, port: httpPort, grpcPort, pid: c.pid, logPath, stop };
}
