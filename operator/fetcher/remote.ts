// https:// (and, when allowed, http://) artifacts: one file, or an archive
// (see archive.ts for which) unpacked safely into the destination.
import { rename, rm } from "node:fs/promises";
import { join, posix } from "node:path";
import { detectArchive, unpack } from "./archive.ts";
import type { FetchContext, FetchResult } from "./context.ts";
import { checkScheme, downloadToFile, FetchError } from "./http.ts";
import { formatBytes, progressReporter } from "./progress.ts";
import { redactUrl } from "./redact.ts";
import { safeRelativePath } from "./safe-path.ts";

/** The file name a URL's path ends in, or "artifact". */
export function fileNameOf(url: URL): string {
  const last = decodeURIComponent(posix.basename(url.pathname));
  try {
    return safeRelativePath(last, "").includes("/") ? "artifact" : safeRelativePath(last, "");
  } catch {
    return "artifact";
  }
}

export async function fetchHttp(uri: string, dest: string, ctx: FetchContext): Promise<FetchResult> {
  const url = new URL(uri);
  checkScheme(url, ctx.allowHttp);
  const where = redactUrl(url);
  ctx.log(`fetching ${where}`);
  const name = fileNameOf(url);
  // Downloaded into the work dir under a name no sane archive entry has; an
  // archive is removed after unpacking, so it is not part of the tree.
  const tmp = join(dest, `..download-${process.pid}`);
  const saved = await downloadToFile(url, tmp, {
    allowHttp: ctx.allowHttp,
    log: ctx.log,
    maxBytes: ctx.maxBytes,
    hash: false,
    onProgress: progressReporter(ctx.log, where),
  });
  const finalName = fileNameOf(saved.res.url) !== "artifact" ? fileNameOf(saved.res.url) : name;
  const kind = await detectArchive(tmp, name !== "artifact" ? name : finalName);
  if (!kind) {
    await rename(tmp, join(dest, name));
    return { kind: "file", file: name, bytes: saved.bytes };
  }
  ctx.log(`${where}: ${kind} archive of ${formatBytes(saved.bytes)}, unpacking`);
  try {
    const r = await unpack(tmp, kind, dest, { maxBytes: ctx.maxBytes, what: where });
    ctx.log(`${where}: unpacked ${r.files} files, ${formatBytes(r.bytes)}`);
  } catch (err) {
    if (err instanceof FetchError) throw err;
    throw new FetchError(`${where}: unpacking failed: ${(err as Error).message}`, { cause: err });
  } finally {
    await rm(tmp, { force: true });
  }
  return { kind: "dir", bytes: saved.bytes };
}
