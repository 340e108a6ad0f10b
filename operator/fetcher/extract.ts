// Writes archive entries under a root with the safety rules both readers
// (tar.ts, zip.ts) share: names pass safeRelativePath; device files and
// FIFOs are refused; symlinks and hard links must stay inside the root and
// are created only after every regular file is written, so no archive entry
// is ever written through a link the archive itself planted; the number of
// entries and the unpacked bytes are capped (a zip bomb stops at the cap, not
// when the disk is full).
import { createWriteStream } from "node:fs";
import { link, mkdir, realpath, symlink } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { FetchError } from "./http.ts";
import { safeRelativePath, symlinkStaysInside } from "./safe-path.ts";

export interface ExtractLimits {
  /** Most unpacked bytes (MODELOPS_ARTIFACT_MAX_BYTES). */
  maxBytes: number;
  /** Most entries of any kind. */
  maxEntries: number;
}

export const DEFAULT_MAX_ENTRIES = 100_000;

export class Extractor {
  readonly root: string;
  readonly what: string;
  readonly limits: ExtractLimits;
  bytes = 0;
  entries = 0;
  files = 0;
  private readonly links: Array<{ kind: "symlink" | "hardlink"; path: string; target: string }> = [];

  constructor(root: string, what: string, limits: ExtractLimits) {
    this.root = root;
    this.what = what;
    this.limits = limits;
  }

  private count(): void {
    if (++this.entries > this.limits.maxEntries) {
      throw new FetchError(
        `${this.what}: more than ${this.limits.maxEntries} entries in the archive, the limit`,
      );
    }
  }

  /** The byte cap as an error, for readers that know a declared size up front. */
  checkDeclared(size: number): void {
    if (this.bytes + size > this.limits.maxBytes) throw this.tooBig();
  }

  private tooBig(): FetchError {
    return new FetchError(
      `${this.what}: unpacked contents exceed the size limit of ${this.limits.maxBytes} bytes (MODELOPS_ARTIFACT_MAX_BYTES)`,
    );
  }

  refuse(name: string, why: string): never {
    throw new FetchError(`${this.what}: refusing entry ${JSON.stringify(name)}: ${why}`);
  }

  async dir(name: string): Promise<void> {
    this.count();
    // "./" (the root itself), as tar writes it for `tar czf x.tgz .`.
    if (name.split("/").every((p) => p === "" || p === ".")) return;
    await mkdir(join(this.root, safeRelativePath(name, this.what)), { recursive: true });
  }

  async file(name: string, data: AsyncIterable<Buffer> | Readable, mode = 0o644): Promise<void> {
    this.count();
    const rel = safeRelativePath(name, this.what);
    const path = join(this.root, rel);
    await mkdir(dirname(path), { recursive: true });
    const counter = new Transform({
      transform: (chunk: Buffer, _e, cb) => {
        this.bytes += chunk.length;
        if (this.bytes > this.limits.maxBytes) cb(this.tooBig());
        else cb(null, chunk);
      },
    });
    const src = data instanceof Readable ? data : Readable.from(data);
    // flags "wx": a second entry with the same name (or a path planted
    // earlier) fails instead of being overwritten through whatever is there.
    await pipeline(src, counter, createWriteStream(path, { flags: "wx", mode: mode & 0o755 }));
    this.files++;
  }

  symlink(name: string, target: string): void {
    this.count();
    const rel = safeRelativePath(name, this.what);
    if (!symlinkStaysInside(rel, target))
      this.refuse(name, `symlink to ${JSON.stringify(target)} points outside the destination`);
    this.links.push({ kind: "symlink", path: rel, target });
  }

  hardlink(name: string, target: string): void {
    this.count();
    const rel = safeRelativePath(name, this.what);
    let t: string;
    try {
      t = safeRelativePath(target, this.what);
    } catch {
      this.refuse(name, `hard link to ${JSON.stringify(target)} points outside the destination`);
    }
    this.links.push({ kind: "hardlink", path: rel, target: t });
  }

  /**
   * Creates the deferred links; call once after the last entry. A link may
   * not sit below another link (creating it would follow the first one), and
   * after all exist every symlink is resolved physically: a chain such as
   * sub/up -> .. plus t -> sub/up/.. is inside lexically but not really.
   */
  async finish(): Promise<void> {
    const linkPaths = new Set(this.links.map((l) => l.path));
    for (const l of this.links) {
      const parts = l.path.split("/");
      for (let i = 1; i < parts.length; i++) {
        if (linkPaths.has(parts.slice(0, i).join("/")))
          this.refuse(l.path, "a link inside a linked directory");
      }
    }
    for (const l of this.links) {
      const path = join(this.root, l.path);
      await mkdir(dirname(path), { recursive: true });
      try {
        if (l.kind === "symlink") await symlink(l.target, path);
        else await link(join(this.root, l.target), path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EEXIST") this.refuse(l.path, "a link and another entry have the same path");
        if (code === "ENOENT") this.refuse(l.path, `hard link to missing entry ${JSON.stringify(l.target)}`);
        throw err;
      }
    }
    const root = await realpath(this.root);
    for (const l of this.links) {
      if (l.kind !== "symlink") continue;
      let real: string;
      try {
        real = await realpath(join(this.root, l.path));
      } catch {
        this.refuse(l.path, `symlink to ${JSON.stringify(l.target)} points to nothing in the artifact`);
      }
      if (real !== root && !real.startsWith(root + sep)) {
        this.refuse(l.path, `symlink to ${JSON.stringify(l.target)} points outside the destination`);
      }
    }
  }
}
