// s3://bucket/prefix: one object when the prefix names one, else every
// object under prefix/ (ListObjectsV2, paginated), keeping relative paths.
import { mkdir } from "node:fs/promises";
import { dirname, join, posix } from "node:path";
import type { FetchContext, FetchResult } from "./context.ts";
import { backoff, FetchError, type HttpResponse, saveBody, sleep } from "./http.ts";
import { formatBytes, progressReporter } from "./progress.ts";
import { type S3Config, s3Config, s3Request } from "./s3-client.ts";
import { safeRelativePath } from "./safe-path.ts";

export function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m?.[1]) throw new FetchError(`${uri}: not an s3://bucket/prefix URI`);
  return { bucket: m[1], prefix: m[2] ?? "" };
}

/** The S3 error code in an error body (<Code>AccessDenied</Code>), if any. */
export function s3ErrorCode(body: string): string | undefined {
  return /<Code>([^<]+)<\/Code>/.exec(body)?.[1];
}

function hint(status: number, code: string | undefined): string {
  if (status === 403 || code === "InvalidAccessKeyId" || code === "SignatureDoesNotMatch")
    return " (check the credentials Secret)";
  if (code === "NoSuchBucket") return " (no such bucket)";
  if (status === 404) return " (no such object or prefix)";
  return "";
}

export async function s3Error(where: string, res: HttpResponse): Promise<FetchError> {
  const code = s3ErrorCode(await res.text(64 << 10).catch(() => ""));
  return new FetchError(`${where}: ${res.status} ${code ?? res.statusText}${hint(res.status, code)}`);
}

const unxml = (s: string) =>
  s.replace(/&(lt|gt|quot|apos|amp|#\d+|#x[0-9a-fA-F]+);/g, (_m, e: string) => {
    const named: Record<string, string> = { lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" };
    if (named[e]) return named[e];
    return String.fromCodePoint(e.startsWith("#x") ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)));
  });

export interface Listed {
  key: string;
  size: number;
}

/** Parses one ListObjectsV2 page. */
export function parseListPage(xml: string): { objects: Listed[]; next?: string } {
  const objects: Listed[] = [];
  for (const m of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
    const c = m[1] ?? "";
    const key = /<Key>([\s\S]*?)<\/Key>/.exec(c)?.[1];
    if (key !== undefined)
      objects.push({ key: unxml(key), size: Number(/<Size>(\d+)<\/Size>/.exec(c)?.[1] ?? 0) });
  }
  const truncated = /<IsTruncated>true<\/IsTruncated>/.test(xml);
  const next = /<NextContinuationToken>([\s\S]*?)<\/NextContinuationToken>/.exec(xml)?.[1];
  return { objects, next: truncated && next ? unxml(next) : undefined };
}

async function list(
  cfg: S3Config,
  uri: string,
  bucket: string,
  prefix: string,
  ctx: FetchContext,
): Promise<Listed[]> {
  const all: Listed[] = [];
  let token: string | undefined;
  do {
    const query: Record<string, string> = { "list-type": "2", prefix };
    if (token) query["continuation-token"] = token;
    const res = await s3Request(cfg, ctx, { bucket, query });
    if (!res.ok) throw await s3Error(uri, res);
    const page = parseListPage(await res.text(64 << 20));
    all.push(...page.objects);
    token = page.next;
  } while (token);
  return all;
}

/** GET one object into path, retrying a download that breaks off. */
async function getObject(
  cfg: S3Config,
  ctx: FetchContext,
  bucket: string,
  key: string,
  path: string,
  first?: HttpResponse,
) {
  const retries = 4;
  for (let attempt = 0; ; attempt++) {
    const res = attempt === 0 && first ? first : await s3Request(cfg, ctx, { bucket, key });
    if (!res.ok) throw await s3Error(`s3://${bucket}/${key}`, res);
    try {
      return await saveBody(res, path, {
        hash: false,
        maxBytes: ctx.maxBytes,
        onProgress: progressReporter(ctx.log, `s3://${bucket}/${key}`),
      });
    } catch (err) {
      if (!(err instanceof FetchError) || !err.retriable || attempt >= retries) throw err;
      ctx.log(`${err.message}; retrying`);
      await sleep(backoff(attempt, 500));
    }
  }
}

export async function fetchS3(uri: string, dest: string, ctx: FetchContext): Promise<FetchResult> {
  const { bucket, prefix } = parseS3Uri(uri);
  const cfg = s3Config(ctx.env);
  ctx.log(
    `fetching ${uri} from ${cfg.endpoint.origin} (${cfg.credentials ? "signed" : "anonymous"}, ${cfg.pathStyle ? "path" : "virtual-host"} style)`,
  );
  if (prefix && !prefix.endsWith("/")) {
    const res = await s3Request(cfg, ctx, { bucket, key: prefix });
    if (res.ok) {
      const name = safeRelativePath(posix.basename(prefix), uri);
      const saved = await getObject(cfg, ctx, bucket, prefix, join(dest, name), res);
      return { kind: "file", file: name, bytes: saved.bytes };
    }
    if (res.status !== 404) throw await s3Error(uri, res);
    res.discard();
  }
  const dirPrefix = prefix && !prefix.endsWith("/") ? `${prefix}/` : prefix;
  const objects = (await list(cfg, uri, bucket, dirPrefix, ctx)).filter((o) => !o.key.endsWith("/"));
  if (objects.length === 0) throw new FetchError(`${uri}: 404 NoSuchKey (no such object or prefix)`);
  const total = objects.reduce((s, o) => s + o.size, 0);
  if (total > ctx.maxBytes) {
    throw new FetchError(
      `${uri}: ${total} bytes under the prefix exceeds the size limit of ${ctx.maxBytes} bytes (MODELOPS_ARTIFACT_MAX_BYTES)`,
    );
  }
  ctx.log(`${uri}: ${objects.length} objects, ${formatBytes(total)}`);
  let bytes = 0;
  for (const o of objects) {
    const rel = safeRelativePath(o.key.slice(dirPrefix.length), uri);
    const path = join(dest, rel);
    await mkdir(dirname(path), { recursive: true });
    const saved = await getObject(cfg, { ...ctx, maxBytes: ctx.maxBytes - bytes }, bucket, o.key, path);
    bytes += saved.bytes;
  }
  return { kind: "dir", bytes };
}
