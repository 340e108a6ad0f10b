// Which downloads are archives to unpack. By name first: .tar.gz/.tgz, .tar
// and .zip are unpacked, any other extension is kept as one file (a PyTorch
// .pt, a .keras or an .npz file IS a zip and must stay one file). Only a name
// without an extension (…/download, …/artifact) is judged by its magic bytes.
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { pipeline } from "node:stream";
import { createGunzip, gunzipSync } from "node:zlib";
import { DEFAULT_MAX_ENTRIES, Extractor } from "./extract.ts";
import { isTarHeader, untar } from "./tar.ts";
import { unzip } from "./zip.ts";

export type ArchiveKind = "tgz" | "tar" | "zip";

export function kindByName(name: string): ArchiveKind | "file" | undefined {
  const n = name.toLowerCase();
  if (n.endsWith(".tar.gz") || n.endsWith(".tgz")) return "tgz";
  if (n.endsWith(".tar")) return "tar";
  if (n.endsWith(".zip")) return "zip";
  return /\.[a-z0-9]{1,8}$/.test(n) ? "file" : undefined;
}

/** By the first bytes (at least 512; for gzip, the compressed start of the file). */
export function kindByMagic(head: Buffer): ArchiveKind | undefined {
  if (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50) return "zip";
  if (head[0] === 0x1f && head[1] === 0x8b) {
    try {
      // Only gzip whose contents start with a tar header is an archive.
      const inner = gunzipSync(head, { finishFlush: 2 /* Z_SYNC_FLUSH */ });
      return isTarHeader(inner.subarray(0, 512)) ? "tgz" : undefined;
    } catch {
      return undefined;
    }
  }
  return isTarHeader(head.subarray(0, 512)) ? "tar" : undefined;
}

export async function detectArchive(path: string, name: string): Promise<ArchiveKind | undefined> {
  const byName = kindByName(name);
  if (byName === "file") return undefined;
  if (byName) return byName;
  const fh = await open(path, "r");
  try {
    const head = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    return kindByMagic(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

export interface UnpackOptions {
  maxBytes: number;
  maxEntries?: number;
  /** Names the artifact in error messages. */
  what: string;
}

/** Unpacks the archive file into root (which must exist); returns the counts. */
export async function unpack(path: string, kind: ArchiveKind, root: string, o: UnpackOptions) {
  const x = new Extractor(root, o.what, {
    maxBytes: o.maxBytes,
    maxEntries: o.maxEntries ?? DEFAULT_MAX_ENTRIES,
  });
  if (kind === "zip") await unzip(path, x);
  else if (kind === "tar") await untar(createReadStream(path), x);
  else {
    // pipeline, not pipe: a read error reaches untar through the gunzip stream.
    const gunzip = createGunzip();
    pipeline(createReadStream(path), gunzip, () => {});
    try {
      await untar(gunzip, x);
    } finally {
      gunzip.destroy();
    }
  }
  return { entries: x.entries, files: x.files, bytes: x.bytes };
}
