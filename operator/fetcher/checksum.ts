// The artifact's sha256: of the bytes for a single file; for a directory, of
// its canonical listing, which is exactly what
//   cd dir && find . -type f | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum | sha256sum
// prints, so a user computes the value for spec.artifact.sha256 with stock tools.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";

export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  await pipeline(createReadStream(path), h);
  return h.digest("hex");
}

/** Relative POSIX paths of the regular files under dir (symlinks are not followed, as find -type f). */
export async function regularFiles(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await regularFiles(dir, p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Byte order of the UTF-8 names, as LC_ALL=C sort. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** The `sha256sum` lines, given (path, hex) pairs: sorted by path in byte order. */
export function canonicalListing(entries: Array<{ path: string; sha256: string }>): string {
  return [...entries]
    .sort((a, b) => byteOrder(a.path, b.path))
    .map((e) => `${e.sha256}  ${e.path}\n`)
    .join("");
}

/** sha256 of dir's canonical listing (see the header comment). */
export async function directorySha256(dir: string): Promise<string> {
  const files = await regularFiles(dir);
  const entries = [];
  for (const path of files) entries.push({ path, sha256: await sha256File(join(dir, path)) });
  return createHash("sha256").update(canonicalListing(entries)).digest("hex");
}
