// Where bench/proxy.ts runs what. With two cores or more: the load
// generator, this process (the stub) and MLServer on CPU 0, the hop under
// test (nginx or modelops-proxy) alone on CPU 1. Where allowed (root or
// CAP_SYS_NICE; BENCH_RT=0 turns it off), the generator, the stub and the
// hop also run SCHED_FIFO, the generator above the stub, so other work on a
// shared machine cannot preempt them: a busy neighbour would otherwise add
// its time slices to the tail latencies. MLServer keeps the normal policy:
// saturated at real-time priority it would starve everything else on CPU 0.
// Their load is far below the kernel's real-time throttle (95% of a CPU).
import { execFileSync } from "node:child_process";
import { availableParallelism } from "node:os";

export interface Placement {
  /** Command prefixes: taskset and chrt, each exec'ing the next, so the pid is the program's. */
  generator: string[];
  hop: string[];
  /** This process's scheduling policy (all threads): real-time while it is the stub. */
  selfRealtime(on: boolean): void;
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
  const where = pinned
    ? "load generator, this process (the stub) and MLServer on CPU 0; nginx / modelops-proxy on CPU 1"
    : "none (one core): the generator and the hop share it, figures include that contention";
  const policy = rt
    ? "SCHED_FIFO for the generator (20), the stub and the hop (10); MLServer normal"
    : "normal scheduling (no real-time priority: BENCH_RT=0 or not permitted)";
  return {
    generator: [...(pinned ? ["taskset", "-c", "0"] : []), ...(rt ? ["chrt", "-f", "20"] : [])],
    hop: [...(pinned ? ["taskset", "-c", "1"] : []), ...(rt ? ["chrt", "-f", "10"] : [])],
    selfRealtime(on) {
      if (rt) onAllThreads("chrt", on ? ["-a", "-f", "-p", "10"] : ["-a", "-o", "-p", "0"]);
    },
    describe: `Placement: ${where}; ${policy}.`,
  };
}
