// Bookkeeping of which series of a gauge are still wanted. A series is held by
// the holders that set it (e.g. the analysis runs of one ModelDeployment) and
// removed once none holds it, so per-object series do not outlive the object.
// prom-client can neither list a gauge's series synchronously nor remove them
// by partial labels, hence the bookkeeping here.
import type { Gauge, LabelValues } from "prom-client";

export type HeldValue<L extends string> = { labels: LabelValues<L>; value: number };

type Entry<L extends string> = { labels: LabelValues<L>; holders: Set<string> };

export class HeldSeries<L extends string> {
  /** owner -> series key -> the series' labels and who holds it. */
  private readonly owners = new Map<string, Map<string, Entry<L>>>();

  private readonly gauge: Gauge<L>;

  constructor(gauge: Gauge<L>) {
    this.gauge = gauge;
  }

  /** Sets what `holder` exports for `owner` to exactly `values`; what it exported before and not now is released. */
  hold(owner: string, holder: string, values: HeldValue<L>[]): void {
    let entries = this.owners.get(owner);
    if (!entries) {
      entries = new Map();
      this.owners.set(owner, entries);
    }
    const keys = new Set<string>();
    for (const { labels, value } of values) {
      const key = seriesKey(labels);
      keys.add(key);
      const entry = entries.get(key) ?? { labels, holders: new Set<string>() };
      entry.holders.add(holder);
      entries.set(key, entry);
      this.gauge.set(labels, value);
    }
    this.release(owner, (h, key) => h === holder && !keys.has(key));
  }

  /** Releases the holders of `owner` that `keep` rejects. */
  retain(owner: string, keep: (holder: string) => boolean): void {
    this.release(owner, (h) => !keep(h));
  }

  /** Releases everything `owner` holds, e.g. when the object it stands for is deleted. */
  forget(owner: string): void {
    this.release(owner, () => true);
  }

  private release(owner: string, drop: (holder: string, key: string) => boolean): void {
    const entries = this.owners.get(owner);
    if (!entries) return;
    for (const [key, entry] of entries) {
      for (const h of entry.holders) if (drop(h, key)) entry.holders.delete(h);
      if (entry.holders.size > 0) continue;
      this.gauge.remove(entry.labels);
      entries.delete(key);
    }
    if (entries.size === 0) this.owners.delete(owner);
  }
}

function seriesKey(labels: Record<string, unknown>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}

const trackers = new WeakMap<Gauge<string>, HeldSeries<string>>();

/** The bookkeeping of `gauge`, one per gauge (gaugeOn returns the same gauge for a registry and name). */
export function heldSeries<L extends string>(gauge: Gauge<L>): HeldSeries<L> {
  let tracker = trackers.get(gauge as unknown as Gauge<string>);
  if (!tracker) {
    tracker = new HeldSeries(gauge as unknown as Gauge<string>);
    trackers.set(gauge as unknown as Gauge<string>, tracker);
  }
  return tracker as unknown as HeldSeries<L>;
}
