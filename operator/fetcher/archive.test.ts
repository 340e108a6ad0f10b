import { mkdtempSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tar, tgz, zip } from "../testing/fetcher-archives.ts";
import { type ArchiveKind, detectArchive, kindByMagic, kindByName, unpack } from "./archive.ts";

async function unpackBuf(buf: Buffer, kind: ArchiveKind, o: { maxBytes?: number; maxEntries?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "fetcher-archive-"));
  const file = join(dir, "a");
  writeFileSync(file, buf);
  const root = join(dir, "root");
  const { mkdirSync } = await import("node:fs");
  mkdirSync(root);
  const r = await unpack(file, kind, root, {
    maxBytes: o.maxBytes ?? 1 << 20,
    maxEntries: o.maxEntries,
    what: "https://x/m",
  });
  return { root, dir, ...r };
}

describe("unpack", () => {
  it("unpacks a good tar.gz with directories, nested files and an inner symlink", async () => {
    const r = await unpackBuf(
      tgz([
        { name: "./", type: "5" },
        { name: "model/", type: "5" },
        { name: "model/weights.bin", data: "w" },
        { name: "model/config.json", data: "{}" },
        { name: "latest", type: "2", link: "model/weights.bin" },
      ]),
      "tgz",
    );
    expect(readFileSync(join(r.root, "model/weights.bin"), "utf8")).toBe("w");
    expect(readlinkSync(join(r.root, "latest"))).toBe("model/weights.bin");
    expect(r.files).toBe(2);
  });

  it("unpacks a good zip (stored and deflated)", async () => {
    const big = "x".repeat(10_000);
    const r = await unpackBuf(
      zip([
        { name: "m/", mode: 0o040755 },
        { name: "m/a.txt", data: "a" },
        { name: "m/big.txt", data: big, deflate: true },
      ]),
      "zip",
    );
    expect(readFileSync(join(r.root, "m/a.txt"), "utf8")).toBe("a");
    expect(readFileSync(join(r.root, "m/big.txt"), "utf8")).toBe(big);
  });

  it.each([
    ["tar", () => tar([{ name: "../evil", data: "x" }]), /refusing entry "..\/evil": '..' would escape/],
    ["tar", () => tar([{ name: "/etc/evil", data: "x" }]), /absolute path/],
    ["tar", () => tar([{ name: "a/../../evil", data: "x" }]), /'..' would escape/],
    [
      "tar",
      () => tar([{ name: "out", type: "2", link: "../../etc" }]),
      /symlink to "..\/..\/etc" points outside/,
    ],
    ["tar", () => tar([{ name: "out", type: "2", link: "/etc/passwd" }]), /points outside/],
    ["tar", () => tar([{ name: "hard", type: "1", link: "../x" }]), /hard link to "..\/x" points outside/],
    ["tar", () => tar([{ name: "dev", type: "3" }]), /device files and FIFOs are not allowed/],
    ["zip", () => zip([{ name: "../evil", data: "x" }]), /'..' would escape/],
    ["zip", () => zip([{ name: "l", data: "/etc", mode: 0o120777 }]), /symlink to "\/etc" points outside/],
    ["zip", () => zip([{ name: "d", mode: 0o020644 }]), /device files/],
  ] as const)("refuses a hostile %s entry (%#)", async (kind, make, msg) => {
    await expect(unpackBuf(make(), kind)).rejects.toThrow(msg);
  });

  it("never writes through a link the archive planted", async () => {
    // Links are created after every file: "l/x" lands in a real directory l,
    // and the link "l" then collides with it instead of being followed.
    await expect(
      unpackBuf(
        tar([
          { name: "l", type: "2", link: "." },
          { name: "l/x", data: "x" },
        ]),
        "tar",
      ),
    ).rejects.toThrow(/refusing entry "l": a link and another entry have the same path/);
  });

  it("refuses link chains that escape only when followed, and links below links", async () => {
    const chain = tar([
      { name: "sub/", type: "5" },
      { name: "sub/up", type: "2", link: ".." },
      { name: "t", type: "2", link: "sub/up/.." },
    ]);
    await expect(unpackBuf(chain, "tar")).rejects.toThrow(
      /refusing entry "t": symlink to "sub\/up\/.." points outside/,
    );
    const below = tar([
      { name: "d", type: "2", link: "." },
      { name: "d/x", type: "2", link: "y" },
    ]);
    await expect(unpackBuf(below, "tar")).rejects.toThrow(
      /refusing entry "d\/x": a link inside a linked directory/,
    );
    const dangling = tar([{ name: "l", type: "2", link: "missing" }]);
    await expect(unpackBuf(dangling, "tar")).rejects.toThrow(/points to nothing/);
  });

  it("stops at the unpacked size limit (tar and a zip bomb)", async () => {
    await expect(
      unpackBuf(tgz([{ name: "a", data: "x".repeat(5000) }]), "tgz", { maxBytes: 4096 }),
    ).rejects.toThrow(/unpacked contents exceed the size limit of 4096 bytes/);
    const bomb = zip([{ name: "zeros", data: Buffer.alloc(1 << 20), deflate: true }]);
    expect(bomb.length).toBeLessThan(4096);
    await expect(unpackBuf(bomb, "zip", { maxBytes: 100_000 })).rejects.toThrow(/exceed the size limit/);
  });

  it("stops at the entry count limit", async () => {
    const many = Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, data: "x" }));
    await expect(unpackBuf(tar(many), "tar", { maxEntries: 10 })).rejects.toThrow(/more than 10 entries/);
    await expect(unpackBuf(zip(many), "zip", { maxEntries: 10 })).rejects.toThrow(/more than 10 entries/);
  });

  it("refuses a zip with a corrupt entry (CRC)", async () => {
    const z = zip([{ name: "a", data: "hello" }]);
    z[30 + 1] = "X".charCodeAt(0); // first data byte of the stored entry
    await expect(unpackBuf(z, "zip")).rejects.toThrow(/CRC mismatch/);
  });
});

describe("archive detection", () => {
  it("goes by name, and keeps zip-based model formats as files", () => {
    expect(kindByName("m.tar.gz")).toBe("tgz");
    expect(kindByName("m.TGZ")).toBe("tgz");
    expect(kindByName("m.zip")).toBe("zip");
    expect(kindByName("model.pt")).toBe("file");
    expect(kindByName("download")).toBeUndefined();
  });

  it("uses magic bytes only for names without an extension", async () => {
    expect(kindByMagic(zip([{ name: "a", data: "x" }]))).toBe("zip");
    expect(kindByMagic(tgz([{ name: "a", data: "x" }]))).toBe("tgz");
    expect(kindByMagic(tar([{ name: "a", data: "x" }]))).toBe("tar");
    expect(kindByMagic(Buffer.from("plain text model"))).toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), "fetcher-detect-"));
    writeFileSync(join(dir, "f"), zip([{ name: "a", data: "x" }]));
    expect(await detectArchive(join(dir, "f"), "model.pt")).toBeUndefined();
    expect(await detectArchive(join(dir, "f"), "artifact")).toBe("zip");
  });
});
