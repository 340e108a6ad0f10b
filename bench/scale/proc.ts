// What the benchmark reads of a controller process from /proc: CPU seconds
// (utime + stime) and resident memory, current and peak.
import { readFileSync, writeFileSync } from "node:fs";

/** USER_HZ: /proc/<pid>/stat counts CPU time in these ticks (100 on Linux x86-64). */
const TICKS_PER_SECOND = 100;

/** utime + stime of `pid` so far, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of stat; here, after pid and comm, 12 and 13 (0-based 11, 12).
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

export interface Memory {
  /** VmRSS now, MiB. */
  rssMiB: number;
  /** VmHWM: the peak since start or since the last resetPeak, MiB. */
  peakMiB: number;
}

export function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

/**
 * Resets VmHWM to the current RSS (clear_refs value 5, Linux >= 4.0), so each
 * phase reports its own peak; false if the kernel refused.
 */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}
