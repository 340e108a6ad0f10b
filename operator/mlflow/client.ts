// A thin typed client of the MLflow tracking server's REST API: the Model
// Registry (model versions, aliases), runs, and artifacts through the
// server's artifact proxy (`mlflow server --serve-artifacts`, the default
// since MLflow 2). Used by the artifact fetcher (operator/fetcher/mlflow.ts,
// in the init container) and `kubectl modelops import mlflow`.
//
// From a registered version to its files (found against a real MLflow 3.17
// server, hack/localcluster/mlflow-server.ts): in MLflow 3 a version's
// `source` is usually not a run path but a *logged model*,
// `models:/m-<id>`, whose files live under the experiment, not the run:
// `mlflow-artifacts:/<experiment>/models/m-<id>/artifacts`. The robust way,
// for MLflow 2 (`runs:/<run>/model`, `mlflow-artifacts:/<exp>/<run>/artifacts/
// model`) and 3 alike, is to let the server resolve it:
//   GET /api/2.0/mlflow/model-versions/get-download-uri?name=N&version=V
//     -> {"artifact_uri": "mlflow-artifacts:/1/models/m-e683…/artifacts"}
// then, with the path after `mlflow-artifacts:/`,
//   GET /api/2.0/mlflow-artifacts/artifacts?path=<path>          list (one level;
//     {"files": [{"path": "MLmodel", "is_dir": false, "file_size": 1113}, …]},
//     names relative to <path>; directories need their own call)
//   GET /api/2.0/mlflow-artifacts/artifacts/<path>/<file>        download
// The run's own artifacts (e.g. modelops-reference.json) are under the run's
// `info.artifact_uri`, `mlflow-artifacts:/<experiment>/<run>/artifacts`.
// A download URI of another scheme (s3://, gs://, a local path) means the
// server does not proxy artifacts: the client says so rather than guess.
//
// Auth, as MLflow's own clients do it: MLFLOW_TRACKING_TOKEN as a Bearer
// token, else MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD as Basic
// auth (user info in the tracking URI works too). Error messages name the
// call and carry the server's error_code and message, never a credential.

/** One HTTP exchange; the default is fetch(). The fetcher plugs in its retrying client. */
export type Transport = (
  url: URL,
  init: { headers: Record<string, string> },
) => Promise<{ status: number; statusText: string; text(): Promise<string> }>;

export interface MlflowClientOptions {
  /** e.g. https://mlflow.example.com or http://10.0.0.5:5000 (a path prefix is kept). */
  trackingUri: string;
  token?: string;
  username?: string;
  password?: string;
  transport?: Transport;
}

export interface ModelVersion {
  name: string;
  version: string;
  /** models:/m-<id> (MLflow 3 logged model), runs:/<run>/<path>, or an artifact URI. */
  source?: string;
  run_id?: string;
  status?: string;
  current_stage?: string;
  aliases?: string[];
  tags?: { key: string; value: string }[];
}

export interface Run {
  info: { run_id: string; experiment_id: string; artifact_uri?: string; user_id?: string; status?: string };
  data: {
    metrics?: { key: string; value: number; timestamp?: number; step?: number }[];
    params?: { key: string; value: string }[];
    tags?: { key: string; value: string }[];
  };
  inputs?: {
    dataset_inputs?: {
      tags?: { key: string; value: string }[];
      dataset: { name: string; digest: string; source_type?: string; schema?: string; profile?: string };
    }[];
  };
}

export interface ArtifactFile {
  /** Relative to the listed root, POSIX separators. */
  path: string;
  size?: number;
}

/** A failed call: `status` is the HTTP status (0 for a network error). */
export class MlflowError extends Error {
  readonly status: number;
  readonly code?: string;
  constructor(message: string, status: number, code?: string) {
    super(message);
    this.name = "MlflowError";
    this.status = status;
    if (code !== undefined) this.code = code;
  }
}

/** A parsed models:/ URI: `models:/<name>/<version>` or `models:/<name>@<alias>`. */
export type ModelsUri = { name: string; version: string } | { name: string; alias: string };

export function parseModelsUri(uri: string): ModelsUri {
  const m = /^models:\/(?!\/)(.+)$/.exec(uri);
  if (!m)
    throw new Error(`${JSON.stringify(uri)} is not a models:/<name>/<version> or models:/<name>@<alias> URI`);
  const rest = m[1] as string;
  const at = rest.lastIndexOf("@");
  if (at > 0 && !rest.slice(at).includes("/")) {
    const name = rest.slice(0, at);
    const alias = rest.slice(at + 1);
    if (alias === "") throw new Error(`${uri}: empty alias`);
    return { name, alias };
  }
  const slash = rest.lastIndexOf("/");
  const name = rest.slice(0, slash);
  const version = rest.slice(slash + 1);
  if (slash <= 0 || !/^[0-9]+$/.test(version))
    throw new Error(
      `${uri}: expected models:/<name>/<version> with a version number (or models:/<name>@<alias>); stages such as /Production are not supported`,
    );
  return { name, version };
}

/**
 * The artifact-proxy path of an artifact URI the server returned
 * (`mlflow-artifacts:/1/models/m-…/artifacts` -> `1/models/m-…/artifacts`),
 * or an error saying the server does not proxy that store.
 */
export function proxiedArtifactPath(artifactUri: string): string {
  const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/+(.*)$/.exec(artifactUri);
  if (!m) {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(artifactUri)?.[1] ?? "a local path";
    throw new Error(
      `the tracking server gives the artifacts as ${scheme} (${artifactUri.split("?")[0]}), not through its artifact proxy; ` +
        "run `mlflow server --serve-artifacts` (MLflow's default) so clients download through it",
    );
  }
  return (m[1] as string).replace(/\/+$/, "");
}

/** Authorization header for the given credentials, if any. */
export function authHeader(opts: {
  token?: string;
  username?: string;
  password?: string;
}): string | undefined {
  if (opts.token) return `Bearer ${opts.token}`;
  if (opts.username !== undefined && opts.username !== "")
    return `Basic ${Buffer.from(`${opts.username}:${opts.password ?? ""}`).toString("base64")}`;
  return undefined;
}

/** What to try when the server refuses the request. */
function authHint(status: number, hasCredentials: boolean): string {
  if (status === 401)
    return hasCredentials
      ? "the tracking server rejected the credentials (MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME/PASSWORD)"
      : "the tracking server wants credentials: set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD";
  if (status === 403) return "the credentials are valid but lack permission on this model or experiment";
  return "";
}

export class MlflowClient {
  readonly base: URL;
  private readonly authorization: string | undefined;
  private readonly transport: Transport;

  constructor(opts: MlflowClientOptions) {
    let base: URL;
    try {
      base = new URL(opts.trackingUri);
    } catch {
      throw new Error(`MLflow tracking URI ${JSON.stringify(opts.trackingUri)} is not a URL`);
    }
    if (base.protocol !== "http:" && base.protocol !== "https:")
      throw new Error(`MLflow tracking URI must be http(s)://, not ${base.protocol}`);
    // User info in the URI is Basic auth, and never part of a printed URL.
    const username = opts.username ?? (base.username ? decodeURIComponent(base.username) : undefined);
    const password = opts.password ?? (base.password ? decodeURIComponent(base.password) : undefined);
    base.username = "";
    base.password = "";
    base.search = "";
    base.hash = "";
    if (!base.pathname.endsWith("/")) base.pathname += "/";
    this.base = base;
    this.authorization = authHeader({ token: opts.token, username, password });
    this.transport =
      opts.transport ??
      (async (url, init) => {
        const res = await fetch(url, { headers: init.headers, signal: AbortSignal.timeout(60_000) });
        return { status: res.status, statusText: res.statusText, text: () => res.text() };
      });
  }

  /** From MLFLOW_TRACKING_URI (or `trackingUri`), MLFLOW_TRACKING_TOKEN, _USERNAME, _PASSWORD. */
  static fromEnv(env: NodeJS.ProcessEnv, over: Partial<MlflowClientOptions> = {}): MlflowClient {
    const trackingUri = over.trackingUri ?? env.MLFLOW_TRACKING_URI;
    if (!trackingUri)
      throw new Error("no MLflow tracking server: set MLFLOW_TRACKING_URI (or artifact.mlflow.trackingUri)");
    return new MlflowClient({
      trackingUri,
      token: env.MLFLOW_TRACKING_TOKEN || undefined,
      username: env.MLFLOW_TRACKING_USERNAME || undefined,
      password: env.MLFLOW_TRACKING_PASSWORD || undefined,
      ...over,
    });
  }

  /** The server's address for messages: no credentials, no query. */
  get address(): string {
    return this.base.href.replace(/\/$/, "");
  }

  /** Headers for a request of ours, e.g. an artifact download the caller streams itself. */
  headers(): Record<string, string> {
    return {
      accept: "application/json",
      ...(this.authorization ? { authorization: this.authorization } : {}),
    };
  }

  url(path: string, query: Record<string, string> = {}): URL {
    const u = new URL(path.replace(/^\/+/, ""), this.base);
    for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
    return u;
  }

  /** GET a JSON API; `call` names it in errors, e.g. "get model version iris/3". */
  async getJson<T>(call: string, path: string, query: Record<string, string> = {}): Promise<T> {
    const url = this.url(path, query);
    let res: Awaited<ReturnType<Transport>>;
    try {
      res = await this.transport(url, { headers: this.headers() });
    } catch (err) {
      throw new MlflowError(`MLflow ${call} at ${this.address}: ${(err as Error).message}`, 0);
    }
    const text = await res.text();
    if (res.status >= 200 && res.status < 300) {
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new MlflowError(
          `MLflow ${call} at ${this.address}: the answer is not JSON (${text.slice(0, 120)})`,
          res.status,
        );
      }
    }
    let code: string | undefined;
    let message = text.trim().slice(0, 300);
    try {
      const body = JSON.parse(text) as { error_code?: string; message?: string };
      code = body.error_code;
      if (body.message) message = body.message;
    } catch {
      // not JSON (e.g. the auth app's plain-text 401): keep the text
    }
    const hint = authHint(res.status, this.authorization !== undefined);
    const parts = [`${res.status} ${res.statusText}`.trim(), code, message, hint].filter((p) => p);
    throw new MlflowError(`MLflow ${call} at ${this.address}: ${parts.join(": ")}`, res.status, code);
  }

  async getModelVersion(name: string, version: string): Promise<ModelVersion> {
    const r = await this.getJson<{ model_version: ModelVersion }>(
      `get model version ${name}/${version}`,
      "api/2.0/mlflow/model-versions/get",
      { name, version },
    );
    return r.model_version;
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    const r = await this.getJson<{ model_version: ModelVersion }>(
      `get model version ${name}@${alias}`,
      "api/2.0/mlflow/registered-models/alias",
      { name, alias },
    );
    return r.model_version;
  }

  /** A version by number or alias. */
  async resolve(ref: ModelsUri): Promise<ModelVersion> {
    return "alias" in ref
      ? this.getModelVersionByAlias(ref.name, ref.alias)
      : this.getModelVersion(ref.name, ref.version);
  }

  async getRun(runId: string): Promise<Run> {
    const r = await this.getJson<{ run: Run }>(`get run ${runId}`, "api/2.0/mlflow/runs/get", {
      run_id: runId,
    });
    return r.run;
  }

  /** Where the version's files are, as the server's artifact URI (see the header comment). */
  async getDownloadUri(name: string, version: string): Promise<string> {
    const r = await this.getJson<{ artifact_uri: string }>(
      `get download URI of ${name}/${version}`,
      "api/2.0/mlflow/model-versions/get-download-uri",
      { name, version },
    );
    return r.artifact_uri;
  }

  /** One level of the artifact proxy's listing under `path`. */
  async listArtifacts(path: string): Promise<{ path: string; is_dir?: boolean; file_size?: number }[]> {
    const r = await this.getJson<{ files?: { path: string; is_dir?: boolean; file_size?: number }[] }>(
      `list artifacts ${path}`,
      "api/2.0/mlflow-artifacts/artifacts",
      { path },
    );
    return r.files ?? [];
  }

  /** Every file under `path`, recursively, relative to it. */
  async listArtifactFiles(path: string, maxFiles = 10_000): Promise<ArtifactFile[]> {
    const out: ArtifactFile[] = [];
    const walk = async (rel: string): Promise<void> => {
      for (const entry of await this.listArtifacts(rel ? `${path}/${rel}` : path)) {
        // The proxy names entries relative to the listed path; older servers
        // gave them relative to the root: take the last segment either way.
        const leaf = entry.path.split("/").pop() ?? entry.path;
        const child = rel ? `${rel}/${leaf}` : leaf;
        if (entry.is_dir) await walk(child);
        else out.push({ path: child, ...(entry.file_size !== undefined ? { size: entry.file_size } : {}) });
        if (out.length > maxFiles) throw new Error(`more than ${maxFiles} artifact files under ${path}`);
      }
    };
    await walk("");
    return out;
  }

  /** The proxy URL that serves one artifact file (path segments escaped). */
  artifactUrl(path: string): URL {
    const escaped = path
      .split("/")
      .filter((s) => s !== "")
      .map(encodeURIComponent)
      .join("/");
    return this.url(`api/2.0/mlflow-artifacts/artifacts/${escaped}`);
  }

  /** A small artifact's text (MLmodel, a JSON file). */
  async artifactText(path: string): Promise<string> {
    const url = this.artifactUrl(path);
    let res: Awaited<ReturnType<Transport>>;
    try {
      res = await this.transport(url, { headers: { ...this.headers(), accept: "*/*" } });
    } catch (err) {
      throw new MlflowError(
        `MLflow download artifact ${path} at ${this.address}: ${(err as Error).message}`,
        0,
      );
    }
    const text = await res.text();
    if (res.status >= 200 && res.status < 300) return text;
    let message = text.trim().slice(0, 300);
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {
      // plain text
    }
    const hint = authHint(res.status, this.authorization !== undefined);
    const parts = [`${res.status} ${res.statusText}`.trim(), message, hint].filter((p) => p);
    throw new MlflowError(
      `MLflow download artifact ${path} at ${this.address}: ${parts.join(": ")}`,
      res.status,
    );
  }

  /**
   * A registered version (by number or alias) with the artifact-proxy path of
   * its files and their list: everything a download needs.
   */
  async modelFiles(ref: ModelsUri): Promise<{ version: ModelVersion; root: string; files: ArtifactFile[] }> {
    const version = await this.resolve(ref);
    if (version.status && version.status !== "READY")
      throw new MlflowError(
        `MLflow model version ${version.name}/${version.version} is ${version.status}, not READY`,
        409,
      );
    const root = proxiedArtifactPath(await this.getDownloadUri(version.name, version.version));
    const files = await this.listArtifactFiles(root);
    if (files.length === 0)
      throw new MlflowError(
        `MLflow model version ${version.name}/${version.version} has no artifact files under ${root}`,
        404,
      );
    return { version, root, files };
  }
}
