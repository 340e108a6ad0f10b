// The scale benchmark: N ModelDeployments (one replica, a one-step canary, a
// ModelVersion each) under modelops-operator, then N Rollouts under Argo
// Rollouts (built from its Go module, hack/argo-rollouts.sh), each on a fresh
// local cluster with KWOK nodes: time to all Available and to all rolled after
// a version bump, the controller's CPU and memory per phase, its API requests
// from the audit log, and its writes while idle. Prints a markdown table with
// the ratios and the goals of issue 18.
// Run: node bench/scale.ts [N=100] [idleSeconds=120]
// MODELOPS_SCALE_ONLY_OURS=1 runs the operator alone (its log lines, no table).
// MODELOPS_KEEP_CLUSTER=1 keeps each cluster's directory (controller log, audit log).
import { benchmark } from "./scale/bench.ts";

const n = Number(process.argv[2] ?? 100);
const idleSeconds = Number(process.argv[3] ?? 120);
if (!Number.isInteger(n) || n < 1 || !Number.isFinite(idleSeconds) || idleSeconds < 0) {
  console.error("usage: node bench/scale.ts [N] [idleSeconds]");
  process.exit(2);
}
const { table, ours, argo } = await benchmark(n, idleSeconds);
console.log(`\n${table}`);
if (ours.failure || argo?.failure) process.exitCode = 1;
