// A zip reader over a file on disk (the central directory is at the end, so
// zip needs random access): stored and deflated entries, zip64 sizes and
// offsets, unix modes (symlinks; device files are refused), CRC-32 checked.
// Encrypted entries are refused. Entries go through Extractor's safety rules.
import { createReadStream } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { pipeline, Transform } from "node:stream";
import { crc32, createInflateRaw } from "node:zlib";
import type { Extractor } from "./extract.ts";
import { FetchError } from "./http.ts";

interface Entry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  csize: number;
  usize: number;
  offset: number;
  /** Unix st_mode when the archive was made on unix, else 0. */
  mode: number;
}

async function readAt(fh: FileHandle, pos: number, len: number): Promise<Buffer> {
  const b = Buffer.alloc(len);
  const { bytesRead } = await fh.read(b, 0, len, pos);
  return b.subarray(0, bytesRead);
}

const u64 = (b: Buffer, o: number) => Number(b.readBigUInt64LE(o));

async function centralDirectory(
  fh: FileHandle,
  size: number,
  what: string,
): Promise<{ count: number; offset: number }> {
  const tailLen = Math.min(size, 65_557);
  const tail = await readAt(fh, size - tailLen, tailLen);
  const at = tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (at < 0 || at + 22 > tail.length)
    throw new FetchError(`${what}: not a zip archive (no end of central directory)`);
  let count = tail.readUInt16LE(at + 10);
  let offset = tail.readUInt32LE(at + 16);
  if (count === 0xffff || offset === 0xffffffff) {
    const loc = at - 20;
    if (loc < 0 || tail.readUInt32LE(loc) !== 0x07064b50)
      throw new FetchError(`${what}: broken zip64 archive`);
    const z = await readAt(fh, u64(tail, loc + 8), 56);
    if (z.length < 56 || z.readUInt32LE(0) !== 0x06064b50)
      throw new FetchError(`${what}: broken zip64 archive`);
    count = u64(z, 32);
    offset = u64(z, 48);
  }
  return { count, offset };
}

function zip64Extra(extra: Buffer, e: Entry): void {
  for (let i = 0; i + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(i);
    const len = extra.readUInt16LE(i + 2);
    if (id === 0x0001) {
      let p = i + 4;
      if (e.usize === 0xffffffff) {
        e.usize = u64(extra, p);
        p += 8;
      }
      if (e.csize === 0xffffffff) {
        e.csize = u64(extra, p);
        p += 8;
      }
      if (e.offset === 0xffffffff) e.offset = u64(extra, p);
    }
    i += 4 + len;
  }
}

async function readEntries(fh: FileHandle, size: number, x: Extractor): Promise<Entry[]> {
  const { count, offset } = await centralDirectory(fh, size, x.what);
  if (count > x.limits.maxEntries)
    throw new FetchError(`${x.what}: more than ${x.limits.maxEntries} entries in the archive, the limit`);
  const entries: Entry[] = [];
  let pos = offset;
  for (let i = 0; i < count; i++) {
    const h = await readAt(fh, pos, 46);
    if (h.length < 46 || h.readUInt32LE(0) !== 0x02014b50)
      throw new FetchError(`${x.what}: broken zip central directory`);
    const nameLen = h.readUInt16LE(28);
    const extraLen = h.readUInt16LE(30);
    const commentLen = h.readUInt16LE(32);
    const rest = await readAt(fh, pos + 46, nameLen + extraLen);
    const e: Entry = {
      name: rest.subarray(0, nameLen).toString("utf8"),
      method: h.readUInt16LE(10),
      flags: h.readUInt16LE(8),
      crc: h.readUInt32LE(16),
      csize: h.readUInt32LE(20),
      usize: h.readUInt32LE(24),
      offset: h.readUInt32LE(42),
      mode: h.readUInt8(5) === 3 ? h.readUInt32LE(38) >>> 16 : 0,
    };
    zip64Extra(rest.subarray(nameLen), e);
    entries.push(e);
    pos += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** The entry's uncompressed bytes as a stream, CRC-checked at the end. */
async function entryStream(fh: FileHandle, path: string, e: Entry, what: string) {
  const lh = await readAt(fh, e.offset, 30);
  if (lh.length < 30 || lh.readUInt32LE(0) !== 0x04034b50)
    throw new FetchError(`${what}: broken zip local header for ${JSON.stringify(e.name)}`);
  const start = e.offset + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28);
  const raw = createReadStream(path, { start, end: start + e.csize - 1 });
  if (e.csize === 0) raw.destroy();
  let crc = 0;
  const check = new Transform({
    transform(chunk: Buffer, _e, cb) {
      crc = crc32(chunk, crc);
      cb(null, chunk);
    },
    flush(cb) {
      cb(
        crc === e.crc
          ? null
          : new FetchError(`${what}: CRC mismatch in ${JSON.stringify(e.name)} (corrupt archive)`),
      );
    },
  });
  if (e.csize === 0) {
    check.end();
    return check;
  }
  // pipeline, not pipe: a corrupt deflate stream or a read error must reach
  // the consumer of `check`, not become an uncaught 'error' event.
  const stages = e.method === 8 ? [raw, createInflateRaw(), check] : [raw, check];
  pipeline(stages, () => {}); // errors surface on `check`, where the consumer reads
  return check;
}

const S_IFMT = 0o170000;

export async function unzip(path: string, x: Extractor): Promise<void> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    const entries = await readEntries(fh, size, x);
    // Declared sizes may lie (the byte counter catches that), but an honest
    // zip bomb is refused before a byte is written.
    x.checkDeclared(entries.reduce((s, e) => s + e.usize, 0));
    for (const e of entries) {
      const type = e.mode & S_IFMT;
      if (e.flags & 1) x.refuse(e.name, "encrypted entries are not supported");
      if (e.name.endsWith("/") || type === 0o040000) {
        await x.dir(e.name);
        continue;
      }
      if (type !== 0 && type !== 0o100000 && type !== 0o120000)
        x.refuse(e.name, "device files and FIFOs are not allowed");
      if (e.method !== 0 && e.method !== 8) x.refuse(e.name, `unsupported compression method ${e.method}`);
      const data = await entryStream(fh, path, e, x.what);
      try {
        if (type === 0o120000) {
          const chunks: Buffer[] = [];
          for await (const c of data) chunks.push(c as Buffer);
          x.symlink(e.name, Buffer.concat(chunks).toString("utf8"));
        } else {
          await x.file(e.name, data, e.mode & 0o777 || 0o644);
        }
      } finally {
        // An entry refused before it was read must not go on reading (and fail) unobserved.
        data.destroy();
      }
    }
    await x.finish();
  } finally {
    await fh.close();
  }
}
