// What every artifact source (s3.ts, https.ts, mlflow.ts) gets from main.ts,
// so the sources share one notion of logging, limits and the http policy.

export interface FetchContext {
  /** One plain progress line to stdout; callers must pass redacted text (see redact.ts). */
  log: (line: string) => void;
  /** MODELOPS_ARTIFACT_ALLOW_HTTP=true: plain http:// URLs (and http redirects) are allowed. */
  allowHttp: boolean;
  /** Most bytes a download, and an archive's unpacked contents, may take. */
  maxBytes: number;
  /** The container's environment (credentials, endpoints); never log its values. */
  env: NodeJS.ProcessEnv;
}

/** A source writes the artifact into `dest`, an empty directory that main.ts moves into place after verification. */
export type FetchSource = (uri: string, dest: string, ctx: FetchContext) => Promise<FetchResult>;

export interface FetchResult {
  /** "file": dest holds one file named `file`; "dir": dest holds a tree. Decides how sha256 is computed. */
  kind: "file" | "dir";
  /** For kind "file": the file's name inside dest. */
  file?: string;
  /** Bytes downloaded (not unpacked). */
  bytes: number;
}
