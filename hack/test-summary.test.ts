// The closing summary of `npm test`, read from reports that a real vitest
// run writes for small sample suites, so a change in vitest's report format
// fails here rather than silently counting nothing.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { skipsAskedFor, summarize, type VitestReport, verdict } from "./test-summary.ts";

const run = promisify(execFile);
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Runs vitest (globals, no config) on the given files and returns its JSON report. */
async function vitestReport(files: Record<string, string>): Promise<VitestReport> {
  const dir = mkdtempSync(join(tmpdir(), "test-summary-"));
  dirs.push(dir);
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
  const out = join(dir, "report.json");
  await run("vitest", ["run", "--root", dir, "--globals", "--reporter=json", `--outputFile=${out}`]).catch(
    () => undefined, // failing samples exit non-zero; the report is what is checked
  );
  return JSON.parse(readFileSync(out, "utf8")) as VitestReport;
}

describe("npm test summary", () => {
  it("passes a run where every test passed, and prints files and tests", async () => {
    const report = await vitestReport({
      "a.test.ts": 'it("one", () => expect(1).toBe(1));\nit("two", () => {});\n',
      "b.test.ts": 'describe("g", () => it("three", () => {}));\n',
    });
    const { lines, ok } = verdict(summarize(report), false);
    expect(ok).toBe(true);
    expect(lines).toEqual(["files: 2 passed, 0 failed, 0 skipped", "tests: 3 passed, 0 failed, 0 skipped"]);
  }, 60_000);

  it("fails on a skip nobody asked for, names it, and accepts it when asked", async () => {
    const report = await vitestReport({
      "a.test.ts": 'it("runs", () => {});\nit.skip("image build", () => {});\n',
      "b.test.ts": 'it.skipIf(true)("real node", () => {});\n',
    });
    const summary = summarize(report);
    expect(summary.files).toEqual({ passed: 1, failed: 0, skipped: 1 });
    expect(summary.tests).toEqual({ passed: 1, failed: 0, skipped: 2 });
    const refused = verdict(summary, false);
    expect(refused.ok).toBe(false);
    expect(refused.lines.join("\n")).toMatch(/image build[\s\S]*real node/);
    expect(verdict(summary, true).ok).toBe(true);
  }, 60_000);

  it("fails on a failed test and on a file that does not load", async () => {
    const report = await vitestReport({
      "a.test.ts": 'it("fails", () => expect(1).toBe(2));\nit("passes", () => {});\n',
      "b.test.ts": 'import "./missing.ts";\nit("never runs", () => {});\n',
    });
    const summary = summarize(report);
    expect(summary.files.failed).toBe(2);
    expect(summary.tests).toMatchObject({ passed: 1, failed: 1 });
    expect(verdict(summary, true).ok).toBe(false);
  }, 60_000);

  it("treats a run with no test as a failure", () => {
    expect(verdict(summarize({ testResults: [] }), true)).toMatchObject({ ok: false });
  });

  it("takes a name filter or MODELOPS_ALLOW_SKIPS=1 as asking for skips", () => {
    expect(skipsAskedFor(["-t", "canary"], {})).toBe(true);
    expect(skipsAskedFor(["--testNamePattern=canary"], {})).toBe(true);
    expect(skipsAskedFor([], { MODELOPS_ALLOW_SKIPS: "1" })).toBe(true);
    expect(skipsAskedFor(["e2e/rollout.test.ts"], {})).toBe(false);
  });
});
