// A real MLflow tracking server and model registry for the MLflow tests and
// the local cluster: `mlflow server` from the cached venv (hack/mlflow/venv.sh)
// with a sqlite backend and proxied artifacts (--serve-artifacts) under `dir`,
// on a free port of a local address. register() logs and registers a trained
// iris model with hack/mlflow/register.py, as a training pipeline would.
// Processes are tracked so they die with the test process.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { freePorts, pollUntil, startComponent, stopComponents, track, untrack } from "./procs.ts";

const here = dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);

export interface RegisterOptions {
  /** Registered model name. */
  name: string;
  /** good: LogisticRegression (accuracy ~0.97); bad: a depth-1 tree (accuracy 0.667). Default good. */
  kind?: "good" | "bad";
  /** Sets this alias on the new version. */
  alias?: string;
  /** The run's mlflow.source.git.commit tag; default the repository's HEAD. */
  gitCommit?: string;
  experiment?: string;
}

export interface RegisteredModel {
  name: string;
  version: string;
  runId: string;
  experimentId: string;
  /** models:/<name>/<version> */
  modelUri: string;
}

export interface MlflowServer {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  venv: string;
  /** The admin user of the basic-auth app (only with `auth`). */
  username?: string;
  password?: string;
  logPath: string;
  register(opts: RegisterOptions): Promise<RegisteredModel>;
  stop(): Promise<void>;
}

/** The cached venv with mlflow and scikit-learn (installed once, ~1 min cold). */
export async function mlflowVenv(): Promise<string> {
  const out = await run("bash", [join(here, "..", "mlflow", "venv.sh")], {
    maxBuffer: 16 << 20,
    timeout: 15 * 60_000,
  });
  const venv = out.stdout.trim().split("\n").pop() ?? "";
  if (!existsSync(join(venv, "bin", "mlflow"))) throw new Error(`venv.sh gave no mlflow: ${out.stderr}`);
  return venv;
}

export async function startMlflowServer(opts: {
  dir: string;
  venv?: string;
  /** Local address to listen on (default 127.0.0.1); clients and pods call it by this IP. */
  host?: string;
  /** Enables MLflow's basic-auth app with a generated admin password. */
  auth?: boolean;
  log?: (line: string) => void;
}): Promise<MlflowServer> {
  const venv = opts.venv ?? (await mlflowVenv());
  const host = opts.host ?? "127.0.0.1";
  const dir = resolve(opts.dir);
  mkdirSync(join(dir, "artifacts"), { recursive: true });
  const [port] = (await freePorts(1)) as [number];
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const hostPort = new URL(url).host;
  // startComponent passes our environment on; `env` (which execs mlflow, so
  // the pid stays the server's) adds the server's own settings.
  const env = ["env", "-u", "MLFLOW_TRACKING_URI", "MLFLOW_DISABLE_TELEMETRY=true", "DO_NOT_TRACK=true"];
  let username: string | undefined;
  let password: string | undefined;
  if (opts.auth) {
    username = "admin";
    password = randomBytes(12).toString("hex");
    const ini = join(dir, "basic_auth.ini");
    writeFileSync(
      ini,
      [
        "[mlflow]",
        "default_permission = READ",
        `database_uri = sqlite:///${join(dir, "auth.db")}`,
        `admin_username = ${username}`,
        `admin_password = ${password}`,
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    // The auth app's CSRF protection wants a static key (one per server here).
    env.push(
      `MLFLOW_AUTH_CONFIG_PATH=${ini}`,
      `MLFLOW_FLASK_SERVER_SECRET_KEY=${randomBytes(24).toString("hex")}`,
    );
  }
  const args = [
    "server",
    "--host",
    host,
    "--port",
    String(port),
    "--workers",
    "1",
    "--backend-store-uri",
    `sqlite:///${join(dir, "mlflow.db")}`,
    "--serve-artifacts",
    "--artifacts-destination",
    join(dir, "artifacts"),
    // MLflow 3 rejects requests whose Host header is not localhost or a
    // private range (DNS-rebinding defence); clients on other local addresses
    // and pods call this server by its IP, so that IP (with and without the
    // port) is allowed explicitly, besides loopback.
    "--allowed-hosts",
    [hostPort, host, `localhost:${port}`, `127.0.0.1:${port}`, "localhost", "127.0.0.1"].join(","),
    ...(opts.auth ? ["--app-name", "basic-auth"] : []),
  ];
  const logPath = join(dir, "mlflow-server.log");
  const c = startComponent("mlflow", join(venv, "bin", "mlflow"), args, logPath, env);
  track([c]);
  const stop = async () => {
    await stopComponents([c], 5000);
    untrack([c]);
  };
  try {
    await pollUntil(
      "mlflow server",
      async () => {
        const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
        return res.ok ? true : undefined;
      },
      { timeoutMs: 90_000, watch: [c], log: opts.log ?? (() => {}), intervalMs: 250 },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const register = async (r: RegisterOptions): Promise<RegisteredModel> => {
    const argv = [join(here, "..", "mlflow", "register.py"), "--name", r.name, "--kind", r.kind ?? "good"];
    if (r.alias) argv.push("--alias", r.alias);
    if (r.gitCommit) argv.push("--git-commit", r.gitCommit);
    if (r.experiment) argv.push("--experiment", r.experiment);
    const out = await run(join(venv, "bin", "python"), argv, {
      timeout: 180_000,
      maxBuffer: 16 << 20,
      env: {
        ...process.env,
        MLFLOW_TRACKING_URI: url,
        ...(username && password
          ? { MLFLOW_TRACKING_USERNAME: username, MLFLOW_TRACKING_PASSWORD: password }
          : {}),
        // No telemetry, no git lookups of MLflow's own beyond the tag we set.
        MLFLOW_DISABLE_TELEMETRY: "true",
        DO_NOT_TRACK: "true",
        GIT_PYTHON_REFRESH: "quiet",
      },
    }).catch((err: Error & { stderr?: string }) => {
      throw new Error(`register.py ${r.name} failed: ${err.message}\n${(err.stderr ?? "").slice(-2000)}`);
    });
    const line = out.stdout.trim().split("\n").pop() ?? "";
    return JSON.parse(line) as RegisteredModel;
  };
  return { url, venv, username, password, logPath, register, stop };
}
