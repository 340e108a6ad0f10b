import type { CounterConfiguration, GaugeConfiguration, HistogramConfiguration } from "prom-client";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export interface RegistryOptions {
  /** Node process metrics (CPU, memory, event loop lag, GC). Default true. */
  defaultMetrics?: boolean;
}

/**
 * Sampling interval of the event loop lag histogram. prom-client's 10 ms
 * wakes an idle operator 100 times a second (a third of a percent of a core
 * on its own); at 100 ms a stall still delays the next sample and shows.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

export function createRegistry(opts: RegistryOptions = {}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true)
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  return registry;
}

// Several queues/controllers/clients share one registry and one metric per
// name (distinguished by labels); registering a name twice would throw.
export function counterOn<T extends string>(
  registry: Registry,
  config: Omit<CounterConfiguration<T>, "registers">,
): Counter<T> {
  const existing = registry.getSingleMetric(config.name);
  if (existing) return existing as Counter<T>;
  return new Counter<T>({ ...config, registers: [registry] });
}

export function gaugeOn<T extends string>(
  registry: Registry,
  config: Omit<GaugeConfiguration<T>, "registers">,
): Gauge<T> {
  const existing = registry.getSingleMetric(config.name);
  if (existing) return existing as Gauge<T>;
  return new Gauge<T>({ ...config, registers: [registry] });
}

export function histogramOn<T extends string>(
  registry: Registry,
  config: Omit<HistogramConfiguration<T>, "registers">,
): Histogram<T> {
  const existing = registry.getSingleMetric(config.name);
  if (existing) return existing as Histogram<T>;
  return new Histogram<T>({ ...config, registers: [registry] });
}

/** Reads the current value of a counter/gauge series; handy in tests. */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return undefined;
  const data = await metric.get();
  const match = data.values.find((v) =>
    Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val),
  );
  return match?.value;
}
