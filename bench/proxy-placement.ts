// Where bench/proxy.ts runs what. With two cores or more: the load
// generator, this process (the stub) and MLServer on CPU 0, the hop under
// test (nginx or modelops-proxy) alone on CPU 1. Where allowed (root or
// CAP_SYS_NICE; BENCH_RT=0 turns it off), the generator and the hop also run
// SCHED_FIFO, so other work on a shared machine cannot preempt them: a busy
// neighbour would otherwise add its time slices to the tail latencies. This
// process (the stub) and MLServer get nice -10 only: a real-time Node (its
// GC helper threads) tripped the kernel's real-time throttle on CPU 0, which
// then stalled the generator for tens of milliseconds, and a saturated
// real-time MLServer would starve everything else there.
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { availableParallelism } from "node:os";

export interface Placement {
  /** Command prefixes: taskset and chrt, each exec'ing the next, so the pid is the program's. */
  generator: string[];
  hop: string[];
  describe: string;
}

/** Runs a command on all threads of this process; a thread exiting while the tool walks them fails it, so retry. */
function onAllThreads(command: string, args: string[]): void {
  for (let attempt = 1; ; attempt++) {
    try {
      execFileSync(command, [...args, String(process.pid)], { stdio: ["ignore", "ignore", "pipe"] });
      return;
    } catch (err) {
      if (attempt === 5) throw err;
    }
  }
}

/** nice -10 for every thread of this process (setpriority is per thread on Linux; new ones inherit it). */
function niceSelf(): void {
  const tids = readdirSync(`/proc/${process.pid}/task`);
  execFileSync("renice", ["-n", "-10", "-p", ...tids], { stdio: "ignore" });
}

function realtimeAllowed(): boolean {
  if (process.env.BENCH_RT === "0") return false;
  try {
    execFileSync("chrt", ["-f", "1", "true"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export function placement(): Placement {
  const pinned = availableParallelism() >= 2;
  const rt = realtimeAllowed();
  if (pinned) onAllThreads("taskset", ["-a", "-p", "-c", "0"]);
  if (rt) niceSelf();
  const where = pinned
    ? "load generator, this process (the stub) and MLServer on CPU 0; nginx / modelops-proxy on CPU 1"
    : "none (one core): the generator and the hop share it, figures include that contention";
  const policy = rt
    ? "SCHED_FIFO for the generator (20) and the hop (10); nice -10 for the stub and MLServer"
    : "normal scheduling (no real-time priority: BENCH_RT=0 or not permitted)";
  return {
    generator: [...(pinned ? ["taskset", "-c", "0"] : []), ...(rt ? ["chrt", "-f", "20"] : [])],
    hop: [...(pinned ? ["taskset", "-c", "1"] : []), ...(rt ? ["chrt", "-f", "10"] : [])],
    describe: `Placement: ${where}; ${policy}.`,
  };
}
