import type { Counter, Gauge, Histogram, Registry } from "prom-client";
import { counterOn, gaugeOn, histogramOn } from "./metrics.ts";

type Labels = { name: string; controller: string };
type LabelName = keyof Labels;

/** What a queue exposes so the shared gauges can read it at scrape time. */
export interface QueueProbe {
  labels: Labels;
  unfinishedSeconds(): number;
  longestRunningSeconds(): number;
}

// One gauge per registry serves every queue; it reads the live queues on scrape
// (client-go updates these on a 500 ms ticker instead; scraping is cheaper).
const probes = new WeakMap<Registry, Set<QueueProbe>>();

// controller-runtime's buckets: 10 ns .. ~1000 s.
const DURATION_BUCKETS = Array.from({ length: 12 }, (_, i) => 1e-8 * 10 ** i);

function scrapedGauge(registry: Registry, name: string, help: string, read: (p: QueueProbe) => number) {
  return gaugeOn<LabelName>(registry, {
    name,
    help,
    labelNames: ["name", "controller"],
    collect(this: Gauge<LabelName>) {
      for (const p of probes.get(registry) ?? []) this.set(p.labels, read(p));
    },
  });
}

/** Workqueue metrics with controller-runtime's names; all no-ops without a registry. */
export class QueueMetrics {
  private readonly labels: Labels;
  private readonly depth?: Gauge<LabelName>;
  private readonly adds?: Counter<LabelName>;
  private readonly retries?: Counter<LabelName>;
  private readonly queueDuration?: Histogram<LabelName>;
  private readonly workDuration?: Histogram<LabelName>;
  private readonly registry?: Registry;
  private probe?: QueueProbe;

  constructor(registry: Registry | undefined, labels: Labels) {
    this.labels = labels;
    if (!registry) return;
    this.registry = registry;
    const labelNames: LabelName[] = ["name", "controller"];
    this.depth = gaugeOn(registry, {
      name: "workqueue_depth",
      help: "Current depth of workqueue",
      labelNames,
    });
    this.adds = counterOn(registry, {
      name: "workqueue_adds_total",
      help: "Total number of adds handled by workqueue",
      labelNames,
    });
    this.retries = counterOn(registry, {
      name: "workqueue_retries_total",
      help: "Total number of retries handled by workqueue",
      labelNames,
    });
    this.queueDuration = histogramOn(registry, {
      name: "workqueue_queue_duration_seconds",
      help: "How long in seconds an item stays in workqueue before being requested",
      labelNames,
      buckets: DURATION_BUCKETS,
    });
    this.workDuration = histogramOn(registry, {
      name: "workqueue_work_duration_seconds",
      help: "How long in seconds processing an item from workqueue takes",
      labelNames,
      buckets: DURATION_BUCKETS,
    });
    scrapedGauge(
      registry,
      "workqueue_unfinished_work_seconds",
      "How many seconds of work has been done that is in progress and hasn't been observed by work_duration",
      (p) => p.unfinishedSeconds(),
    );
    scrapedGauge(
      registry,
      "workqueue_longest_running_processor_seconds",
      "How many seconds has the longest running processor for workqueue been running",
      (p) => p.longestRunningSeconds(),
    );
    this.depth.set(labels, 0);
  }

  register(probe: QueueProbe): void {
    if (!this.registry) return;
    this.probe = probe;
    const set = probes.get(this.registry) ?? new Set<QueueProbe>();
    set.add(probe);
    probes.set(this.registry, set);
  }

  unregister(): void {
    if (this.registry && this.probe) probes.get(this.registry)?.delete(this.probe);
  }

  added(): void {
    this.adds?.inc(this.labels);
    this.depth?.inc(this.labels);
  }

  taken(waitedMs: number): void {
    this.depth?.dec(this.labels);
    this.queueDuration?.observe(this.labels, waitedMs / 1000);
  }

  finished(workedMs: number): void {
    this.workDuration?.observe(this.labels, workedMs / 1000);
  }

  retried(): void {
    this.retries?.inc(this.labels);
  }
}
