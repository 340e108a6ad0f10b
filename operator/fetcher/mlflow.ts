// The fetcher's MLflow source: models:/<name>/<version> (or, for convenience,
// models:/<name>@<alias>; ModelVersions pin numbers) from the tracking server
// in MLFLOW_TRACKING_URI, with MLFLOW_TRACKING_TOKEN or
// MLFLOW_TRACKING_USERNAME/PASSWORD. The registry is asked where the
// version's files are (operator/mlflow/client.ts says how MLflow 2 and 3 lay
// them out) and every file is downloaded through the server's artifact
// proxy into dest, keeping relative paths (MLmodel, model.pkl, …), so
// MLServer's runtimes load the directory as MLflow wrote it.
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { FETCHER_ENV } from "../api/contract.ts";
import { MlflowClient, MlflowError, parseModelsUri, type Transport } from "../mlflow/client.ts";
import type { FetchContext, FetchResult } from "./context.ts";
import { checkScheme, downloadToFile, FetchError, request } from "./http.ts";
import { formatBytes, progressReporter } from "./progress.ts";
import { safeRelativePath } from "./safe-path.ts";

/** The fetcher's retrying HTTP client as the MLflow client's transport. */
function transport(ctx: FetchContext): Transport {
  return async (url, init) => {
    const res = await request(url, { headers: init.headers, allowHttp: ctx.allowHttp, log: ctx.log });
    return { status: res.status, statusText: res.statusText, text: () => res.text() };
  };
}

function asFetchError(err: unknown): FetchError {
  if (err instanceof FetchError) return err;
  const message = (err as Error)?.message ?? String(err);
  // Network errors and 5xx may pass; 4xx (auth, not found) will not.
  const retriable = err instanceof MlflowError && (err.status === 0 || err.status >= 500);
  return new FetchError(message, { retriable, cause: err });
}

export async function fetchMlflowModel(uri: string, dest: string, ctx: FetchContext): Promise<FetchResult> {
  let client: MlflowClient;
  let ref: ReturnType<typeof parseModelsUri>;
  try {
    ref = parseModelsUri(uri);
    client = MlflowClient.fromEnv(ctx.env, { transport: transport(ctx) });
  } catch (err) {
    throw asFetchError(err);
  }
  checkScheme(client.base, ctx.allowHttp, `MLflow tracking server (${FETCHER_ENV.mlflowTrackingUri})`);
  const what = "alias" in ref ? `${ref.name}@${ref.alias}` : `${ref.name}/${ref.version}`;
  ctx.log(`MLflow ${client.address}: resolving model version ${what}`);
  let found: Awaited<ReturnType<MlflowClient["modelFiles"]>>;
  try {
    found = await client.modelFiles(ref);
  } catch (err) {
    throw asFetchError(err);
  }
  const { version, root, files } = found;
  const declared = files.reduce((n, f) => n + (f.size ?? 0), 0);
  ctx.log(
    `MLflow ${version.name}/${version.version} (run ${version.run_id ?? "-"}): ${files.length} files, ` +
      `${formatBytes(declared)} under ${root}`,
  );
  if (declared > ctx.maxBytes)
    throw new FetchError(
      `MLflow ${version.name}/${version.version}: ${declared} bytes exceeds the size limit of ${ctx.maxBytes} bytes (${FETCHER_ENV.maxBytes})`,
    );
  let bytes = 0;
  for (const file of files) {
    // A hostile server must not write outside dest.
    const rel = safeRelativePath(file.path, `MLflow ${version.name}/${version.version}`);
    const path = join(dest, rel);
    await mkdir(dirname(path), { recursive: true });
    const saved = await downloadToFile(client.artifactUrl(`${root}/${rel}`), path, {
      headers: { ...client.headers(), accept: "*/*" },
      allowHttp: ctx.allowHttp,
      log: ctx.log,
      maxBytes: ctx.maxBytes - bytes,
      onProgress: progressReporter(ctx.log, rel),
    }).catch((err: unknown) => {
      if (err instanceof FetchError && /: 40[13] /.test(err.message))
        throw new FetchError(
          `${err.message} (MLflow credentials: MLFLOW_TRACKING_TOKEN or _USERNAME/_PASSWORD)`,
        );
      throw err;
    });
    bytes += saved.bytes;
  }
  return { kind: "dir", bytes };
}
