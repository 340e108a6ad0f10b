// A real S3-compatible server for the artifact fetcher's tests: SeaweedFS
// (`weed server -s3`, built by hack/seaweedfs.sh) on free ports of one local
// address, with authentication on: an admin key (read, write, list, admin), a
// read-only key, and an anonymous identity with no rights. Requests made here
// are signed by the fetcher's own SigV4 module, so signing has one home.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type S3Config, s3Request } from "../../operator/fetcher/s3-client.ts";
import {
  type Component,
  freePorts,
  pollUntil,
  startComponent,
  stopComponents,
  tailLog,
  track,
  untrack,
} from "./procs.ts";

export interface StartS3ServerOptions {
  /** Holds the volumes, the filer's store, the identities file and weed.log. */
  dir: string;
  /** The `weed` binary; default: what `bash hack/seaweedfs.sh` builds (or reuses). */
  weedPath?: string;
  /** Local address every port binds to; default 127.0.0.1. */
  host?: string;
  timeoutMs?: number;
  log?: (line: string) => void;
}

export interface S3Key {
  accessKey: string;
  secretKey: string;
}

export interface RunningS3Server {
  /** e.g. http://127.0.0.1:41234 (path-style addressing). */
  endpoint: string;
  /** The admin identity: read, write, list, admin. */
  accessKey: string;
  secretKey: string;
  /** An identity with Read and List only. */
  readOnlyKey: S3Key;
  logPath: string;
  createBucket(name: string): Promise<void>;
  putObject(bucket: string, key: string, body: Buffer | string): Promise<void>;
  /** Kills the process group and waits until it is gone. */
  stop(): Promise<void>;
}

export function weedBinary(): string {
  const out = execFileSync("bash", [resolve(import.meta.dirname, "../seaweedfs.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  return out.trim().split("\n").at(-1) ?? "";
}

export function identitiesConfig(admin: S3Key, reader: S3Key): string {
  const identity = (name: string, k: S3Key, actions: string[]) => ({
    name,
    credentials: [{ accessKey: k.accessKey, secretKey: k.secretKey }],
    actions,
  });
  return JSON.stringify(
    {
      identities: [
        identity("admin", admin, ["Admin", "Read", "List", "Tagging", "Write"]),
        identity("reader", reader, ["Read", "List"]),
        // Named explicitly with no actions, so anonymous requests are refused
        // even if a default would grant something.
        { name: "anonymous", actions: [] },
      ],
    },
    null,
    2,
  );
}

const key = (): S3Key => ({
  accessKey: `AK${randomBytes(9).toString("hex").toUpperCase()}`,
  secretKey: randomBytes(30).toString("base64url"),
});

export async function startS3Server(opts: StartS3ServerOptions): Promise<RunningS3Server> {
  const dir = resolve(opts.dir);
  const host = opts.host ?? "127.0.0.1";
  const weed = opts.weedPath ?? weedBinary();
  mkdirSync(join(dir, "data"), { recursive: true });
  const admin = key();
  const reader = key();
  const configPath = join(dir, "s3-identities.json");
  writeFileSync(configPath, identitiesConfig(admin, reader), { mode: 0o600 });
  const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc] = await freePorts(8);
  const args = [
    "server",
    `-dir=${join(dir, "data")}`,
    `-ip=${host}`,
    `-ip.bind=${host}`,
    `-master.port=${master}`,
    `-master.port.grpc=${masterGrpc}`,
    `-volume.port=${volume}`,
    `-volume.port.grpc=${volumeGrpc}`,
    `-filer.port=${filer}`,
    `-filer.port.grpc=${filerGrpc}`,
    "-s3",
    `-s3.port=${s3}`,
    `-s3.port.grpc=${s3Grpc}`,
    // Catalog listeners on fixed default ports would clash between runs.
    "-s3.port.iceberg=0",
    "-s3.port.lance=0",
    `-s3.config=${configPath}`,
    // Small volumes: tests store megabytes, and a fresh data dir grows several.
    "-master.volumeSizeLimitMB=512",
    "-volume.max=0",
  ];
  const logPath = join(dir, "weed.log");
  const c: Component = startComponent("seaweedfs", weed, args, logPath);
  track([c]);
  const stop = async () => {
    await stopComponents([c], 3000);
    untrack([c]);
  };
  const endpoint = `http://${host.includes(":") ? `[${host}]` : host}:${s3}`;
  const cfg: S3Config = {
    endpoint: new URL(endpoint),
    region: "us-east-1",
    pathStyle: true,
    credentials: { accessKeyId: admin.accessKey, secretAccessKey: admin.secretKey },
  };
  const ctx = { log: opts.log ?? (() => {}), allowHttp: true };
  const call = async (what: string, o: Parameters<typeof s3Request>[2]) => {
    const res = await s3Request(cfg, ctx, o);
    const body = await res.text();
    if (!res.ok) throw new Error(`${what}: ${res.status} ${body.slice(0, 300)}`);
  };
  try {
    // Ready when a signed ListBuckets succeeds (the filer and the identities are loaded).
    await pollUntil(
      "seaweedfs s3 ready",
      async () => ((await call("list buckets", { bucket: "" }).then(() => true)) ? true : undefined),
      {
        timeoutMs: opts.timeoutMs ?? 60_000,
        watch: [c],
        log: opts.log ?? (() => {}),
        intervalMs: 200,
      },
    );
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${tailLog(logPath)}`);
  }
  return {
    endpoint,
    accessKey: admin.accessKey,
    secretKey: admin.secretKey,
    readOnlyKey: reader,
    logPath,
    stop,
    createBucket: (name) => call(`create bucket ${name}`, { method: "PUT", bucket: name }),
    putObject: (bucket, k, body) => call(`put s3://${bucket}/${k}`, { method: "PUT", bucket, key: k, body }),
  };
}
