// Mirrors a share of inference requests to the shadow revision, off the
// client's path: the copy is sent once the request body is in, the primary
// response never waits for it, and at most `maxConcurrent` copies are in
// flight; beyond that a copy is dropped and counted, so a slow shadow can
// never pile up memory or sockets in the primary's pod.

import type { IncomingHttpHeaders } from "node:http";
import { Agent, request } from "node:http";
import { comparePredictions } from "./agreement.ts";
import { BodyCopy, type ByteBudget } from "./budget.ts";
import { MIRROR_PATH, type ProxyConfig } from "./config.ts";
import { codeClass, type ProxyMetrics } from "./metrics.ts";
import { type Columns, type Parsed, type Protocol, parseResponse } from "./payload.ts";

type ShadowConfig = NonNullable<ProxyConfig["shadow"]>;

/** Marks the copies this proxy sends, so the shadow's proxy counts them as mirrored, not as clients'. */
export const SHADOW_HEADER = "x-modelops-shadow";

/** Headers worth copying: the body's type, and nothing that names the original connection. */
function shadowHeaders(headers: IncomingHttpHeaders, length: number): Record<string, string> {
  const out: Record<string, string> = { "content-length": String(length) };
  const type = headers["content-type"];
  if (type) out["content-type"] = type;
  out[SHADOW_HEADER] = "1";
  return out;
}

/**
 * Whether a request is a mirrored copy rather than a client's: our own mirror
 * sets SHADOW_HEADER; Envoy, under Istio and Envoy-based Gateway API
 * implementations, appends "-shadow" to the host of the copies it mirrors
 * (iris.ml.svc.cluster.local-shadow). A host that is one of `ownNames` (the
 * ModelDeployment's own Services, whose name may end in "-shadow") is a client.
 */
export function isMirroredCopy(headers: IncomingHttpHeaders, ownNames: ReadonlySet<string>): boolean {
  if (headers[SHADOW_HEADER] !== undefined) return true;
  const host = (headers.host ?? "").replace(/:\d+$/, "");
  return host.endsWith("-shadow") && !ownNames.has(host);
}

/** The share a shadow asks for, from its answer at MIRROR_PATH; anything else is 0. */
export function announcedPercent(body: unknown): number {
  const percent = (body as { percent?: unknown } | null)?.percent;
  return typeof percent === "number" && Number.isFinite(percent) ? Math.min(100, Math.max(0, percent)) : 0;
}

export class ShadowMirror {
  private inflight = 0;
  private percent: number;
  private discovery: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly agent: Agent;
  private readonly config: ShadowConfig;
  private readonly metrics: ProxyMetrics["shadow"];
  private readonly outputs: ProxyConfig["signature"]["outputs"];
  private readonly random: () => number;

  private readonly budget: ByteBudget;
  private readonly maxAnswerBytes: number;

  /** `budget` bounds the shadow's answers held for comparison, together with the proxy's other copies. */
  constructor(
    config: ShadowConfig,
    proxyConfig: ProxyConfig,
    metrics: ProxyMetrics,
    budget: ByteBudget,
    random = Math.random,
  ) {
    this.config = config;
    this.budget = budget;
    this.maxAnswerBytes = proxyConfig.maxParseBytes;
    this.metrics = metrics.shadow;
    this.outputs = proxyConfig.signature.outputs;
    this.random = random;
    this.agent = new Agent({ keepAlive: true, maxSockets: config.maxConcurrent });
    this.percent = config.percent ?? 0;
    if (config.percent === undefined) this.discover();
  }

  /** Whether this request is one of the mirrored share; decided before reading its body. */
  selects(): boolean {
    return this.percent > 0 && this.random() * 100 < this.percent;
  }

  /** The share mirrored now. */
  get mirroring(): number {
    return this.percent;
  }

  /** Asks the shadow for its share now and every discoverEveryMs; no answer means no shadow. */
  private discover(): void {
    const ask = fetch(new URL(MIRROR_PATH, this.config.url), { signal: AbortSignal.timeout(1000) })
      .then((res) => (res.ok ? res.json() : undefined))
      .then(announcedPercent, () => 0);
    void ask.then((percent) => {
      this.percent = percent;
      if (this.closed) return;
      this.discovery = setTimeout(() => this.discover(), this.config.discoverEveryMs);
      this.discovery.unref();
    });
  }

  /**
   * Sends the copy; resolves to the shadow's parsed predictions, or undefined
   * when it was dropped or failed (both counted). Never rejects.
   */
  send(
    path: string,
    headers: IncomingHttpHeaders,
    body: Buffer,
    protocol: Protocol,
  ): Promise<Parsed | undefined> {
    if (this.inflight >= this.config.maxConcurrent) {
      this.metrics.dropped.inc();
      return Promise.resolve(undefined);
    }
    this.inflight++;
    const start = performance.now();
    return new Promise<Parsed | undefined>((resolve) => {
      const fail = () => {
        this.metrics.error.inc();
        resolve(undefined);
      };
      const req = request(new URL(path, this.config.url), {
        method: "POST",
        agent: this.agent,
        headers: shadowHeaders(headers, body.length),
        timeout: this.config.timeoutMs,
      });
      req.on("timeout", () => req.destroy(new Error("shadow timeout")));
      req.on("error", fail);
      req.on("response", (res) => {
        // The answer is kept only within maxParseBytes and the shared budget;
        // beyond that it is read and dropped, and not compared.
        const answer = new BodyCopy(this.maxAnswerBytes, this.budget);
        res.on("data", (c: Buffer) => answer.add(c));
        res.on("error", () => {
          answer.release();
          fail();
        });
        res.on("end", () => {
          this.metrics.duration.observe((performance.now() - start) / 1000);
          const status = res.statusCode ?? 0;
          this.metrics.sent[codeClass(status)].inc();
          try {
            resolve(
              status < 300 && answer.complete
                ? parseResponse(protocol, answer.buffer(), this.outputs)
                : undefined,
            );
          } catch {
            resolve(undefined); // parsing is best effort; a hostile answer must not take the proxy down
          } finally {
            answer.release();
          }
        });
      });
      req.end(body);
    }).finally(() => {
      this.inflight--;
    });
  }

  /** Records how the shadow's predictions compare with the primary's. */
  record(primary: Columns, shadow: Columns): void {
    const c = comparePredictions(primary, shadow, this.outputs);
    if (c.agree) this.metrics.agree.inc(c.agree);
    if (c.disagree) this.metrics.disagree.inc(c.disagree);
    for (const d of c.absDifferences) this.metrics.absDifference.observe(d);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.discovery);
    this.agent.destroy();
  }
}
