// The router without a mesh: one Service selects the pods of both revisions,
// so a request lands on the canary with probability canary/(stable+canary).
// The weight can therefore only be approximated by whole pods.
//
// Semantics, chosen so the stable revision is never scaled down before the
// canary has won (the failure users of peers complain about most):
// - stable always keeps `total` replicas while the rollout is undecided;
// - 0 < w < 100: canary = ceil(total * w / (100 - w)), at least 1, at most
//   maxCanaryReplicas; rounding up means the realised weight is never below
//   the one asked for (unless capped), so analysis sees at least that traffic;
// - w = 0: canary = 0;
// - w = 100 is not a ratio (it would need infinitely many canary pods): it is
//   promotion. canary = total, so the new revision can carry all traffic,
//   stable keeps total, and the shared Service realises 50% until the engine
//   points the Service at the canary revision alone; only then may it scale
//   the old revision down. `promotion` tells the engine to do that switch.
// - total = 0 (scaled to zero): nothing serves, nothing to split.

export interface ReplicaSplit {
  stable: number;
  canary: number;
  /** round(100 * canary / (stable + canary)): what the shared Service delivers. */
  realisedWeight: number;
  /** w was 100: the Service must select only the canary revision to reach it. */
  promotion: boolean;
  /** Human-readable account of the rounding, for status and Events. */
  message: string;
}

export interface ReplicaSplitOptions {
  /**
   * Most canary pods a weight may ask for. Default 10 × total: weights above
   * ~91% would otherwise need 11× the capacity (w = 99 needs 99 × total).
   */
  maxCanaryReplicas?: number;
}

export const DEFAULT_CANARY_REPLICA_FACTOR = 10;

export function replicaSplit(total: number, weight: number, opts: ReplicaSplitOptions = {}): ReplicaSplit {
  checkArguments(total, weight);
  if (total === 0) {
    return split(0, 0, false, `weight ${weight}% not realised: 0 replicas requested, nothing serves`);
  }
  if (weight === 0) return split(total, 0, false, `weight 0% realised as 0 canary / ${total} stable pods`);
  if (weight === 100) {
    const ratio = realised(total, total);
    return split(
      total,
      total,
      true,
      `weight 100% is promotion: ${total} canary / ${total} stable pods = ${ratio}% until the Service ` +
        `selects only the canary revision; the stable pods stay until then`,
    );
  }
  const cap = Math.max(1, Math.floor(opts.maxCanaryReplicas ?? DEFAULT_CANARY_REPLICA_FACTOR * total));
  const wanted = Math.max(1, Math.ceil((total * weight) / (100 - weight)));
  const canary = Math.min(wanted, cap);
  const ratio = realised(total, canary);
  const pods = `${canary} canary / ${total} stable pods = ${ratio}%`;
  const why =
    wanted > cap
      ? ` (capped at maxCanaryReplicas ${cap}; ${wanted} would be needed)`
      : ratio === weight
        ? ""
        : " (pods are whole; rounded up so the canary gets at least the weight)";
  return split(total, canary, false, `weight ${weight}% realised as ${pods}${why}`);
}

function checkArguments(total: number, weight: number): void {
  // Programming errors upstream, not user input (the CRD bounds both): fail loudly in tests.
  if (!Number.isInteger(total) || total < 0)
    throw new RangeError(`total must be a whole number, got ${total}`);
  if (!Number.isInteger(weight) || weight < 0 || weight > 100) {
    throw new RangeError(`weight must be an integer 0..100, got ${weight}`);
  }
}

function realised(stable: number, canary: number): number {
  return stable + canary === 0 ? 0 : Math.round((100 * canary) / (stable + canary));
}

function split(stable: number, canary: number, promotion: boolean, message: string): ReplicaSplit {
  return { stable, canary, realisedWeight: realised(stable, canary), promotion, message };
}
