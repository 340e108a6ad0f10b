// Signed (or anonymous) requests to S3 or an S3-compatible server; used by
// the fetcher (s3.ts) and by the test server's helper (hack/localcluster/s3-server.ts),
// so signing has one home.
import { type HttpResponse, request } from "./http.ts";
import { type Credentials, EMPTY_SHA256, sha256Hex, signV4, uriEncode } from "./sigv4.ts";

export interface S3Config {
  endpoint: URL;
  region: string;
  pathStyle: boolean;
  /** Undefined: anonymous requests. */
  credentials?: Credentials;
}

/** The S3 settings from the container's environment (FETCHER_ENV and the standard AWS_* variables). */
export function s3Config(env: NodeJS.ProcessEnv): S3Config {
  const region = env.MODELOPS_S3_REGION || env.AWS_REGION || "us-east-1";
  const endpoint = new URL(env.MODELOPS_S3_ENDPOINT || `https://s3.${region}.amazonaws.com`);
  const id = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  const credentials =
    id && secret
      ? { accessKeyId: id, secretAccessKey: secret, sessionToken: env.AWS_SESSION_TOKEN || undefined }
      : undefined;
  return { endpoint, region, pathStyle: env.MODELOPS_S3_PATH_STYLE === "true", credentials };
}

export function objectUrl(cfg: S3Config, bucket: string, key = "", query: Record<string, string> = {}): URL {
  const base = new URL(cfg.endpoint);
  const basePath = base.pathname.replace(/\/$/, "");
  if (!bucket) base.pathname = `${basePath}/`;
  else if (cfg.pathStyle) base.pathname = `${basePath}/${uriEncode(bucket)}/${uriEncode(key, true)}`;
  else {
    base.hostname = `${bucket}.${base.hostname}`;
    base.pathname = `${basePath}/${uriEncode(key, true)}`;
  }
  base.search = "";
  for (const [k, v] of Object.entries(query)) base.searchParams.set(k, v);
  return base;
}

export interface S3RequestOptions {
  method?: string;
  bucket: string;
  key?: string;
  query?: Record<string, string>;
  body?: Buffer | string;
  headers?: Record<string, string>;
}

export async function s3Request(
  cfg: S3Config,
  ctx: { log: (l: string) => void; allowHttp: boolean },
  o: S3RequestOptions,
): Promise<HttpResponse> {
  const method = o.method ?? "GET";
  const url = objectUrl(cfg, o.bucket, o.key, o.query);
  const payloadHash = o.body === undefined ? EMPTY_SHA256 : sha256Hex(o.body);
  const headers = (u: URL, m: string): Record<string, string> => {
    const base = { ...(o.headers ?? {}) };
    if (o.body !== undefined) base["content-length"] = String(Buffer.byteLength(o.body));
    if (!cfg.credentials) return base;
    // Signed per attempt: the signature covers the time (valid 15 minutes).
    return signV4({
      method: m,
      url: u,
      headers: base,
      payloadHash,
      credentials: cfg.credentials,
      region: cfg.region,
      date: new Date(),
    }).headers;
  };
  // S3 redirects (301 PermanentRedirect to another region) carry no Location; none are followed.
  return request(url, {
    method,
    headers,
    body: o.body,
    allowHttp: ctx.allowHttp,
    log: ctx.log,
    maxRedirects: 0,
  });
}
