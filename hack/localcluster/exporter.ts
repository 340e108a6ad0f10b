// A /metrics endpoint whose series the test controls, for a real Prometheus to
// scrape: plain counters, gauges and histograms, plus simulated traffic of the
// modelops-proxy (the series of operator/api/metric-names.ts) at a given
// request rate, error rate and latency.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  INFLIGHT_REQUESTS,
  REQUEST_DURATION,
  REQUESTS_TOTAL,
  type SERIES_LABELS,
} from "../../operator/api/metric-names.ts";

export type Labels = Record<string, string>;

/** The labels the proxy puts on every series. */
export type ProxySeries = Record<(typeof SERIES_LABELS)[number], string>;

export interface TrafficProfile {
  /** Requests per second. */
  rps: number;
  /** Fraction of requests answered 5xx (the rest 2xx), 0..1. */
  errorRate?: number;
  /** Every request's latency, or a mix of latencies with weights summing to 1. */
  latencySeconds?: number | Array<{ seconds: number; weight: number }>;
}

export interface Traffic {
  /** Changes the profile from now on; what was served so far stays counted. */
  set(profile: TrafficProfile): void;
  /** Stops the traffic; the counters keep their values, as a live proxy's would. */
  stop(): void;
}

/** prom-client's default buckets, which the proxy uses too. */
export const DEFAULT_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type Family = { type: "counter" | "gauge"; series: Map<string, { labels: Labels; value: number }> };
type HistogramSeries = { labels: Labels; buckets: number[]; counts: number[]; sum: number; count: number };
type HistogramFamily = { type: "histogram"; series: Map<string, HistogramSeries> };

function labelKey(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function formatValue(v: number): string {
  return Number.isFinite(v) ? String(v) : v > 0 ? "+Inf" : v < 0 ? "-Inf" : "NaN";
}

interface Flow {
  series: ProxySeries;
  profile: TrafficProfile;
  /** When the counters were last brought up to date. */
  since: number;
}

/**
 * Series live in memory and are rendered on every scrape. Traffic is not
 * advanced by a timer but brought up to date at each scrape from the elapsed
 * time, so counters grow exactly at the requested rate whatever the event
 * loop is doing, and rate() sees the requested values.
 */
export class FixtureExporter {
  readonly target: string;
  readonly url: string;
  private readonly server: Server;
  private readonly families = new Map<string, Family | HistogramFamily>();
  private readonly flows = new Map<string, Flow>();
  private readonly now: () => number;

  private constructor(server: Server, now: () => number) {
    this.server = server;
    this.now = now;
    const { port } = server.address() as AddressInfo;
    this.target = `127.0.0.1:${port}`;
    this.url = `http://${this.target}/metrics`;
  }

  /** Listens on a free loopback port. `now` (ms) is for unit tests of the arithmetic. */
  static async start(opts: { now?: () => number } = {}): Promise<FixtureExporter> {
    let exporter: FixtureExporter | undefined;
    const server = createServer((req, res) => {
      if (req.url !== "/metrics" || !exporter) {
        res.writeHead(404).end();
        return;
      }
      // Prometheus 3 refuses a scrape without a valid content type.
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
      res.end(exporter.render());
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    exporter = new FixtureExporter(server, opts.now ?? Date.now);
    return exporter;
  }

  counter(name: string, labels: Labels = {}): { inc(n?: number): void; value(): number } {
    const s = this.scalar(name, "counter", labels);
    return {
      inc: (n = 1) => {
        if (n < 0) throw new Error(`counter ${name} cannot decrease`);
        s.value += n;
      },
      value: () => s.value,
    };
  }

  gauge(name: string, labels: Labels = {}): { set(v: number): void; inc(n?: number): void } {
    const s = this.scalar(name, "gauge", labels);
    return {
      set: (v) => {
        s.value = v;
      },
      inc: (n = 1) => {
        s.value += n;
      },
    };
  }

  histogram(
    name: string,
    labels: Labels = {},
    buckets: number[] = DEFAULT_LATENCY_BUCKETS,
  ): { observe(v: number, count?: number): void } {
    const fam = this.family(name, "histogram") as HistogramFamily;
    const key = labelKey(labels);
    let s = fam.series.get(key);
    if (!s) {
      const sorted = [...buckets].sort((a, b) => a - b);
      s = { labels, buckets: sorted, counts: sorted.map(() => 0), sum: 0, count: 0 };
      fam.series.set(key, s);
    }
    const series = s;
    return {
      observe: (v, count = 1) => {
        series.buckets.forEach((le, i) => {
          if (v <= le) series.counts[i] = (series.counts[i] ?? 0) + count;
        });
        series.sum += v * count;
        series.count += count;
      },
    };
  }

  /**
   * Simulates the proxy of one revision serving `profile`: requests_total by
   * code class, the duration histogram and the in-flight gauge. Calling it
   * again for the same series changes that revision's profile.
   */
  traffic(series: ProxySeries, profile: TrafficProfile): Traffic {
    const key = labelKey(series);
    this.advance();
    const flow: Flow = this.flows.get(key) ?? { series, profile, since: this.now() };
    flow.profile = profile;
    this.flows.set(key, flow);
    // Create every series at once, at zero: rate() of a series born mid-window
    // would miss its first increments and skew the error ratio.
    this.counter(REQUESTS_TOTAL, { ...series, code: "2xx" });
    this.counter(REQUESTS_TOTAL, { ...series, code: "5xx" });
    this.histogram(REQUEST_DURATION, series);
    this.updateInflight(flow);
    return {
      set: (p) => {
        this.advance();
        flow.profile = p;
        this.updateInflight(flow);
      },
      stop: () => {
        this.advance();
        this.flows.delete(key);
        flow.profile = { ...flow.profile, rps: 0 };
        this.updateInflight(flow);
      },
    };
  }

  /** The exposition Prometheus scrapes (traffic brought up to date first). */
  render(): string {
    this.advance();
    const lines: string[] = [];
    for (const [name, fam] of this.families) {
      lines.push(`# TYPE ${name} ${fam.type}`);
      if (fam.type === "histogram") {
        for (const s of fam.series.values()) lines.push(...renderHistogram(name, s));
      } else {
        for (const s of fam.series.values())
          lines.push(`${name}${formatLabels(s.labels)} ${formatValue(s.value)}`);
      }
    }
    return `${lines.join("\n")}\n`;
  }

  async close(): Promise<void> {
    this.flows.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private family(name: string, type: "counter" | "gauge" | "histogram"): Family | HistogramFamily {
    const fam = this.families.get(name);
    if (fam && fam.type !== type) throw new Error(`${name} is a ${fam.type}, not a ${type}`);
    if (fam) return fam;
    const created = type === "histogram" ? { type, series: new Map() } : { type, series: new Map() };
    this.families.set(name, created);
    return created;
  }

  private scalar(name: string, type: "counter" | "gauge", labels: Labels): { value: number } {
    const fam = this.family(name, type) as Family;
    const key = labelKey(labels);
    let s = fam.series.get(key);
    if (!s) {
      s = { labels, value: 0 };
      fam.series.set(key, s);
    }
    return s;
  }

  /** Counts the requests every flow served since it was last brought up to date. */
  private advance(): void {
    const now = this.now();
    for (const flow of this.flows.values()) {
      const requests = (flow.profile.rps * (now - flow.since)) / 1000;
      flow.since = now;
      if (requests <= 0) continue;
      const errors = requests * (flow.profile.errorRate ?? 0);
      this.counter(REQUESTS_TOTAL, { ...flow.series, code: "5xx" }).inc(errors);
      this.counter(REQUESTS_TOTAL, { ...flow.series, code: "2xx" }).inc(requests - errors);
      const h = this.histogram(REQUEST_DURATION, flow.series);
      for (const { seconds, weight } of latencyMix(flow.profile)) h.observe(seconds, requests * weight);
    }
  }

  // Little's law: requests in flight = arrival rate x time in the system.
  private updateInflight(flow: Flow): void {
    const meanLatency = latencyMix(flow.profile).reduce((a, l) => a + l.seconds * l.weight, 0);
    this.gauge(INFLIGHT_REQUESTS, flow.series).set(flow.profile.rps * meanLatency);
  }
}

function latencyMix(p: TrafficProfile): Array<{ seconds: number; weight: number }> {
  const l = p.latencySeconds ?? 0.05;
  return typeof l === "number" ? [{ seconds: l, weight: 1 }] : l;
}

function renderHistogram(name: string, s: HistogramSeries): string[] {
  const lines = s.buckets.map(
    (le, i) =>
      `${name}_bucket${formatLabels({ ...s.labels, le: String(le) })} ${formatValue(s.counts[i] ?? 0)}`,
  );
  lines.push(`${name}_bucket${formatLabels({ ...s.labels, le: "+Inf" })} ${formatValue(s.count)}`);
  lines.push(`${name}_sum${formatLabels(s.labels)} ${formatValue(s.sum)}`);
  lines.push(`${name}_count${formatLabels(s.labels)} ${formatValue(s.count)}`);
  return lines;
}
