// A streaming tar reader (ustar, GNU long names, pax path/size/linkpath):
// enough for archives made by GNU tar, bsdtar, Python's tarfile and
// mlflow/huggingface tooling. Entries go through Extractor's safety rules.
import type { Readable } from "node:stream";
import type { Extractor } from "./extract.ts";
import { FetchError } from "./http.ts";

/** Pulls exact byte counts out of a chunked stream. */
export class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;
  constructor(src: AsyncIterable<Buffer>) {
    this.it = src[Symbol.asyncIterator]();
  }
  private async fill(n: number): Promise<boolean> {
    while (this.buf.length < n) {
      const r = await this.it.next();
      if (r.done) return false;
      this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : r.value;
    }
    return true;
  }
  /** Exactly n bytes, or null at a clean end of stream. */
  async read(n: number): Promise<Buffer | null> {
    if (!(await this.fill(n))) {
      if (this.buf.length === 0) return null;
      throw new FetchError("truncated archive");
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  /** n bytes as chunks, without holding them all. */
  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill(1))) throw new FetchError("truncated archive");
      const take = Math.min(left, this.buf.length);
      const out = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      left -= take;
      yield out;
    }
  }
  async skip(n: number): Promise<void> {
    for await (const _ of this.chunks(n));
  }
}

const str = (b: Buffer, from: number, len: number) => {
  const s = b.subarray(from, from + len);
  const end = s.indexOf(0);
  return s.subarray(0, end < 0 ? len : end).toString("utf8");
};

function num(b: Buffer, from: number, len: number): number {
  const f = b.subarray(from, from + len);
  if ((f[0] ?? 0) & 0x80) {
    // GNU base-256 for sizes beyond 8 GiB.
    let v = (f[0] ?? 0) & 0x7f;
    for (let i = 1; i < f.length; i++) v = v * 256 + (f[i] ?? 0);
    return v;
  }
  const s = str(b, from, len).trim();
  return s ? Number.parseInt(s, 8) : 0;
}

/** Whether a 512-byte block is a tar header (its checksum matches). */
export function isTarHeader(h: Buffer): boolean {
  if (h.length < 512) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (h[i] ?? 0);
  return sum === num(h, 148, 8);
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(32, i);
    if (sp < 0) break;
    const len = Number.parseInt(data.subarray(i, sp).toString(), 10);
    if (!(len > 0)) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString("utf8");
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

const pad = (n: number) => (512 - (n % 512)) % 512;

/** Unpacks a tar stream (already gunzipped) through the extractor. */
export async function untar(src: Readable | AsyncIterable<Buffer>, x: Extractor): Promise<void> {
  const r = new ByteReader(src as AsyncIterable<Buffer>);
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  for (;;) {
    const h = await r.read(512);
    if (h === null || h.every((b) => b === 0)) break;
    if (!isTarHeader(h)) throw new FetchError(`${x.what}: not a tar archive (bad header checksum)`);
    const type = String.fromCharCode(h[156] ?? 0);
    const prefix = h.subarray(257, 262).toString() === "ustar" ? str(h, 345, 155) : "";
    const base = str(h, 0, 100);
    const name = pax.path ?? longName ?? (prefix ? `${prefix}/${base}` : base);
    const linkName = pax.linkpath ?? longLink ?? str(h, 157, 100);
    const size = pax.size !== undefined ? Number(pax.size) : num(h, 124, 12);
    const mode = num(h, 100, 8);
    if (type === "L" || type === "K" || type === "x" || type === "g") {
      if (size > 1 << 20) throw new FetchError(`${x.what}: oversized tar metadata entry`);
      const data = (await r.read(size + pad(size))) ?? Buffer.alloc(0);
      const body = data.subarray(0, size);
      if (type === "L") longName = str(body, 0, size);
      else if (type === "K") longLink = str(body, 0, size);
      else if (type === "x") pax = parsePax(body);
      continue;
    }
    longName = undefined;
    longLink = undefined;
    pax = {};
    switch (type) {
      case "0":
      case "\0":
      case "7":
        x.checkDeclared(size);
        await x.file(name, r.chunks(size), mode);
        await r.skip(pad(size));
        break;
      case "5":
        await x.dir(name);
        await r.skip(size + pad(size));
        break;
      case "2":
        x.symlink(name, linkName);
        break;
      case "1":
        x.hardlink(name, linkName);
        break;
      case "3":
      case "4":
      case "6":
        x.refuse(name, "device files and FIFOs are not allowed");
        break;
      default:
        x.refuse(name, `unsupported tar entry type ${JSON.stringify(type)}`);
    }
  }
  await x.finish();
}
