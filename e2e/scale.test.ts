// Smoke run of the scale benchmark (bench/scale.ts) at N=100: both
// controllers on their own fresh clusters. The figures are printed, not
// asserted (they depend on the machine); the run must finish: every
// ModelDeployment and every Rollout Available, then rolled to version 2.
// It starts its own clusters, not the tier's shared one.
import { describe, expect, it } from "vitest";
import { benchmark } from "../bench/scale/bench.ts";

const N = 100;
const IDLE_SECONDS = 20;

describe("scale benchmark smoke run", () => {
  it(`brings ${N} ModelDeployments and ${N} Argo Rollouts to Available and rolls all of them`, async () => {
    const { ours, argo, table } = await benchmark(N, IDLE_SECONDS, (line) => console.log(line));
    console.log(`\n${table}`);
    expect(argo, "Argo Rollouts' run").toBeDefined();
    for (const r of [ours, argo ?? ours]) {
      expect(r.failure, r.subject).toBeUndefined();
      expect(
        r.phases.map((p) => `${p.name} ${p.done}/${N}`),
        r.subject,
      ).toEqual([`deploy ${N}/${N}`, `bump ${N}/${N}`, `settle ${N}/${N}`, `steady ${N}/${N}`]);
    }
  }, 1_500_000);
});
