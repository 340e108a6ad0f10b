// Reads vitest's JSON report and prints the closing summary of `npm test`:
//   files: 63 passed, 0 failed, 0 skipped
//   tests: 812 passed, 0 failed, 0 skipped
// Exits non-zero when anything failed, when nothing ran, or when a test or a
// whole file was skipped without being asked for: a skipped image or
// real-node test on a machine that can run it hides a broken feature, so it
// counts as a failure. Skips are asked for with a name filter (-t) or
// MODELOPS_ALLOW_SKIPS=1.
//   node hack/test-summary.ts REPORT.json [vitest args...]
import { readFileSync } from "node:fs";

interface AssertionResult {
  status: string;
  fullName: string;
}
interface FileResult {
  name: string;
  status: string;
  message?: string;
  assertionResults: AssertionResult[];
}
export interface VitestReport {
  testResults: FileResult[];
}

export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

export interface Summary {
  files: Counts;
  tests: Counts;
  /** Names of skipped tests and files, for the message when skips were not asked for. */
  skippedNames: string[];
}

const SKIPPED = new Set(["pending", "skipped", "todo"]);

export function summarize(report: VitestReport): Summary {
  const files: Counts = { passed: 0, failed: 0, skipped: 0 };
  const tests: Counts = { passed: 0, failed: 0, skipped: 0 };
  const skippedNames: string[] = [];
  for (const file of report.testResults) {
    for (const t of file.assertionResults) {
      if (t.status === "passed") tests.passed++;
      else if (SKIPPED.has(t.status)) {
        tests.skipped++;
        skippedNames.push(t.fullName);
      } else tests.failed++;
    }
    const ran = file.assertionResults.some((t) => !SKIPPED.has(t.status));
    // A file that failed to load has status "failed" and no assertions.
    if (file.status === "failed") files.failed++;
    else if (!ran) {
      files.skipped++;
      skippedNames.push(file.name);
    } else files.passed++;
  }
  return { files, tests, skippedNames };
}

export function skipsAskedFor(args: string[], env: NodeJS.ProcessEnv): boolean {
  return (
    env.MODELOPS_ALLOW_SKIPS === "1" || args.some((a) => a === "-t" || a.startsWith("--testNamePattern"))
  );
}

const line = (label: string, c: Counts) =>
  `${label}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`;

/** The lines to print and whether the run passed. */
export function verdict(s: Summary, skipsAllowed: boolean): { lines: string[]; ok: boolean } {
  const lines: string[] = [];
  const unaskedSkips = !skipsAllowed && s.skippedNames.length > 0;
  if (unaskedSkips) {
    lines.push("Skipped without being asked for (a skip on this machine hides a broken feature):");
    for (const name of s.skippedNames.slice(0, 20)) lines.push(`  - ${name}`);
    lines.push("Run with MODELOPS_ALLOW_SKIPS=1 to accept skips.");
  }
  const nothingRan = s.tests.passed + s.tests.failed === 0;
  if (nothingRan) lines.push("No test ran.");
  lines.push(line("files", s.files), line("tests", s.tests));
  return { lines, ok: s.tests.failed === 0 && s.files.failed === 0 && !unaskedSkips && !nothingRan };
}

if (import.meta.main) {
  const [reportPath, ...args] = process.argv.slice(2);
  if (!reportPath) {
    console.error("usage: node hack/test-summary.ts REPORT.json [vitest args...]");
    process.exit(2);
  }
  let report: VitestReport;
  try {
    report = JSON.parse(readFileSync(reportPath, "utf8")) as VitestReport;
  } catch (err) {
    console.error(`test-summary: no vitest report at ${reportPath} (${(err as Error).message})`);
    process.exit(1);
  }
  const { lines, ok } = verdict(summarize(report), skipsAskedFor(args, process.env));
  console.log(lines.join("\n"));
  process.exit(ok ? 0 : 1);
}
