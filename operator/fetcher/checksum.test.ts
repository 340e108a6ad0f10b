import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { canonicalListing, directorySha256 } from "./checksum.ts";

describe("directorySha256", () => {
  it("equals the documented sha256sum pipeline (byte order, regular files only)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fetcher-sum-"));
    mkdirSync(join(dir, "sub/deep"), { recursive: true });
    writeFileSync(join(dir, "B.txt"), "upper");
    writeFileSync(join(dir, "a.txt"), "lower");
    writeFileSync(join(dir, "sub/deep/w.bin"), Buffer.from([0, 1, 2]));
    writeFileSync(join(dir, "sub/é.txt"), "accent");
    symlinkSync("a.txt", join(dir, "link"));
    const shell = execFileSync(
      "sh",
      [
        "-c",
        "find . -type f | sed 's|^\\./||' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1",
      ],
      { cwd: dir, encoding: "utf8" },
    ).trim();
    expect(await directorySha256(dir)).toBe(shell);
  });

  it("lists in byte order in sha256sum's format", () => {
    expect(
      canonicalListing([
        { path: "b", sha256: "2" },
        { path: "B", sha256: "1" },
        { path: "a/x", sha256: "3" },
      ]),
    ).toBe("1  B\n3  a/x\n2  b\n");
  });
});
