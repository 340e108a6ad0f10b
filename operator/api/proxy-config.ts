// The proxy's configuration, written by the operator into one environment
// variable, MODELOPS_PROXY_CONFIG, as JSON. One variable keeps the pod spec
// self-describing (kubectl get pod -o yaml shows it), needs no ConfigMap
// lifecycle, and a new ModelVersion (new reference) is a new revision anyway,
// so the config never changes under a running pod. What changes during a
// rollout (whether, and how much, to mirror to a shadow) is discovered at
// run time instead (shadow.percent unset), so a rollout never restarts pods.
import { z } from "zod";

const fieldSchema = z.object({
  name: z.string().min(1),
  type: z.enum(["numeric", "categorical"]),
  datatype: z.string().optional(),
});

const referenceSchema = z.object({
  name: z.string().min(1),
  type: z.enum(["numeric", "categorical"]),
  /** numeric: the reference's N+1 bucket boundaries. */
  edges: z.array(z.number()).min(2).optional(),
  /** categorical: the categories the reference knows; others count as "__other__". */
  categories: z.array(z.string()).optional(),
});

/** How long a terminating proxy keeps serving (drainMs); the model container outlives it. */
export const DEFAULT_DRAIN_MS = 5_000;
/** How long a client connection carries requests before the proxy asks the client to reconnect. */
export const DEFAULT_MAX_CONNECTION_AGE_MS = 10_000;

export const proxyConfigSchema = z.object({
  namespace: z.string().min(1),
  deployment: z.string().min(1),
  revision: z.string().min(1),
  version: z.string().min(1),
  /** Port clients (the Service's "http" target) call; 0 picks a free one (tests). */
  listenPort: z.number().int().min(0).max(65535).default(8080),
  /** Port of /metrics (and the proxy's own /healthz), never proxied. */
  metricsPort: z.number().int().min(0).max(65535).default(9090),
  /** The model server, on the pod's loopback. */
  upstream: z.string().url().default("http://127.0.0.1:8081"),
  /**
   * The model server's gRPC port (h2c), e.g. http://127.0.0.1:8081; gRPC
   * calls to the proxy's port go there. Unset: no gRPC.
   */
  grpcUpstream: z.string().url().optional(),
  signature: z
    .object({ inputs: z.array(fieldSchema).default([]), outputs: z.array(fieldSchema).default([]) })
    .default({ inputs: [], outputs: [] }),
  reference: z
    .object({
      features: z.array(referenceSchema).default([]),
      predictions: z.array(referenceSchema).default([]),
    })
    .default({ features: [], predictions: [] }),
  shadow: z
    .object({
      /** Base URL of the shadow revision (e.g. http://iris-canary.ns.svc); the request path is appended. */
      url: z.string().url(),
      /**
       * Share of inference requests mirrored, 0..100. Unset: asked of the
       * shadow itself (GET <url>/.modelops/mirror) every discoverEveryMs, and
       * nothing is mirrored while it does not answer (no shadow rollout: the
       * operator creates the Service behind the URL only while one runs).
       */
      percent: z.number().min(0).max(100).optional(),
      discoverEveryMs: z.number().int().min(100).default(5000),
      /** Mirrored requests in flight at most; beyond that a copy is dropped and counted. */
      maxConcurrent: z.number().int().min(1).default(32),
      timeoutMs: z.number().int().min(1).default(5000),
    })
    .optional(),
  /** The share of requests this revision asks to receive when it is a shadow, answered at MIRROR_PATH. */
  mirrorPercent: z.number().min(0).max(100).optional(),
  /** Bodies larger than this are forwarded but not parsed (counted as unparsed). */
  maxParseBytes: z
    .number()
    .int()
    .min(1)
    .default(4 << 20),
  // Memory and time bounds (budget.ts, server.ts): neither a client nor the
  // model server can make the proxy hold more than this, or hold it longer.
  /** Body copies (request, response, shadow answer) held at once across requests. */
  maxBufferedBytes: z
    .number()
    .int()
    .min(1)
    .default(32 << 20),
  /** Inference requests in flight beyond this are forwarded without keeping copies (counted as unparsed). */
  maxParseInflight: z.number().int().min(0).default(64),
  /** A model server silent this long (no response, or a stalled one) gets the client a 504. */
  upstreamTimeoutMs: z.number().int().min(1).default(60_000),
  /** An idle connection to the model server is closed after this; below model servers' own keep-alive timeouts. */
  upstreamIdleTimeoutMs: z.number().int().min(1).default(1_000),
  /** A client must send its request headers within this (slowloris). */
  headersTimeoutMs: z.number().int().min(1).default(10_000),
  /** A client must send its whole request (headers and body) within this. */
  requestTimeoutMs: z.number().int().min(1).default(60_000),
  /** An idle keep-alive connection is closed after this; longer than common load-balancer idle timeouts. */
  keepAliveTimeoutMs: z.number().int().min(1).default(65_000),
  /**
   * A client connection older than this gets its next answer with
   * `Connection: close`. A Service balances connections, not requests: a
   * keep-alive client would otherwise stay on the pods it first reached, and
   * a canary's weight, a promotion or a scale-up would never reach it.
   */
  maxConnectionAgeMs: z.number().int().min(1).default(DEFAULT_MAX_CONNECTION_AGE_MS),
  /**
   * After SIGTERM the proxy keeps serving this long, every answer with
   * `Connection: close`, while the endpoint removal reaches every kube-proxy
   * (it happens concurrently with SIGTERM, not before); then it stops
   * accepting and finishes what is in flight.
   */
  drainMs: z.number().int().min(0).default(DEFAULT_DRAIN_MS),
});

export type ProxyConfig = z.infer<typeof proxyConfigSchema>;
export type ProxyConfigInput = z.input<typeof proxyConfigSchema>;
export type SignatureField = z.infer<typeof fieldSchema>;
export type ReferenceEntry = z.infer<typeof referenceSchema>;

export const CONFIG_ENV = "MODELOPS_PROXY_CONFIG";
/** Where a shadow revision's proxy tells the stable proxies what share to mirror to it (never proxied). */
export const MIRROR_PATH = "/.modelops/mirror";
/** Marks the copies a proxy sends to a shadow, so the shadow's proxy counts them as mirrored, not as clients'. */
export const SHADOW_HEADER = "x-modelops-shadow";

/** Parses the JSON config; the error says which field is wrong. */
export function parseProxyConfig(json: string | undefined): ProxyConfig {
  if (!json)
    throw new Error(`${CONFIG_ENV} is not set: the operator passes the proxy's config as JSON in it`);
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new Error(`${CONFIG_ENV} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = proxyConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`${CONFIG_ENV} is invalid: ${issues.join("; ")}`);
  }
  return parsed.data;
}
