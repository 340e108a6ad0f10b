// The router without a mesh: one Service selects the pods of both revisions,
// so a request lands on the canary with probability canary/(stable+canary)
// over their ready pods. The weight can therefore only be approximated by
// whole pods. The realisation rule, chosen so the stable revision is never
// scaled down before the canary has won (the failure users of peers complain
// about most) and a rollout never costs more than a blue-green one:
// - stable always keeps `total` replicas while the rollout is undecided;
// - w = 0: canary = 0;
// - 0 < w < 100: canary = ceil(total * w / (100 - w)), at least 1, at most
//   `total`; rounding up means the realised weight is never below the one
//   asked for, up to 50% (canary = total), which is the most a split at
//   full stable size can give without the canary outgrowing the stable;
// - w = 100: canary = total, and the Service selects the canary alone once
//   all its pods are ready (all traffic); until then the 1:1 split (50%);
// - total = 0 (scaled to zero): nothing serves, nothing to split.
// With 1 replica the only weights are 0, 50 and 100%; a mesh router
// (gatewayAPI, istio) gives exact weights.

export interface ReplicaSplit {
  stable: number;
  canary: number;
  /** round(100 * canary / (stable + canary)): what the shared Service delivers while it selects both. */
  realisedWeight: number;
  /** w was 100: the Service selects only the canary revision once its pods are ready. */
  allTraffic: boolean;
  /** Human-readable account of the rounding, for status and Events. */
  message: string;
}

export function replicaSplit(total: number, weight: number): ReplicaSplit {
  checkArguments(total, weight);
  if (total === 0) {
    return split(0, 0, false, `weight ${weight}% not realised: 0 replicas requested, nothing serves`);
  }
  if (weight === 0) return split(total, 0, false, `weight 0% realised as 0 canary / ${total} stable pods`);
  if (weight === 100) {
    return split(
      total,
      total,
      true,
      `weight 100%: ${total} canary pods; the Service selects only them once all are ready ` +
        `(${total} stable pods stay warm until the rollout is decided)`,
    );
  }
  const wanted = Math.max(1, Math.ceil((total * weight) / (100 - weight)));
  const canary = Math.min(wanted, total);
  const ratio = realised(total, canary);
  const pods = `${canary} canary / ${total} stable pods = ${ratio}%`;
  const why =
    wanted > total
      ? ` (the canary runs at most as many pods as the stable: ${wanted} would be needed; a mesh router gives exact weights)`
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

function split(stable: number, canary: number, allTraffic: boolean, message: string): ReplicaSplit {
  return { stable, canary, realisedWeight: realised(stable, canary), allTraffic, message };
}
