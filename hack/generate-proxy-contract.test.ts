// The Rust proxy's contract.rs against the TypeScript it is generated from:
// the checked-in file must be the generator's output, and that output must
// carry every metric name, header and default the TypeScript side defines.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  canaryServiceName,
  clientServiceName,
  previewServiceName,
  REVISION_HEADER,
  stableServiceName,
} from "../operator/api/contract.ts";
import * as metricNames from "../operator/api/metric-names.ts";
import { CONFIG_ENV, MIRROR_PATH, proxyConfigSchema, SHADOW_HEADER } from "../operator/api/proxy-config.ts";
import { CONTRACT_RS, renderContract, staleness } from "./generate-proxy-contract.ts";

const generated = renderContract();

/** The value of `pub const NAME` in the generated text, as written (a literal). */
function rustConst(name: string): string | undefined {
  return generated.match(new RegExp(`^pub const ${name}: [^=]+ = (.+);$`, "m"))?.[1];
}

describe("hack/generate-proxy-contract.ts", () => {
  it("--check passes: the checked-in contract.rs is what the generator writes", () => {
    // Throws (exit 1, with the command to run on stderr) when the file is stale.
    execFileSync(process.execPath, [join(import.meta.dirname, "generate-proxy-contract.ts"), "--check"], {
      stdio: "pipe",
    });
    expect(readFileSync(CONTRACT_RS, "utf8")).toBe(generated);
  });

  it("reports a contract.rs with a changed value, or none at all, as stale", () => {
    const dir = mkdtempSync(join(tmpdir(), "contract-"));
    try {
      const file = join(dir, "contract.rs");
      writeFileSync(file, generated.replace(metricNames.REQUESTS_TOTAL, "modelops_proxy_renamed_total"));
      expect(staleness(file)).toMatch(/is stale/);
      expect(staleness(join(dir, "missing.rs"))).toMatch(/is missing/);
      writeFileSync(file, generated);
      expect(staleness(file)).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("carries every string constant of metric-names.ts under its own name", () => {
    const strings = Object.entries(metricNames).filter(([, v]) => typeof v === "string");
    expect(strings.length).toBeGreaterThan(15);
    for (const [name, value] of strings) expect(rustConst(name), name).toBe(JSON.stringify(value));
    expect(rustConst("SERIES_LABELS")).toBe(JSON.stringify(metricNames.SERIES_LABELS).replaceAll(",", ", "));
  });

  it("carries the headers, the config variable, the mirror path and the own Services' suffixes", () => {
    expect(rustConst("CONFIG_ENV")).toBe(JSON.stringify(CONFIG_ENV));
    expect(rustConst("MIRROR_PATH")).toBe(JSON.stringify(MIRROR_PATH));
    expect(rustConst("SHADOW_HEADER")).toBe(JSON.stringify(SHADOW_HEADER));
    expect(rustConst("REVISION_HEADER")).toBe(JSON.stringify(REVISION_HEADER));
    expect(rustConst("OWN_SERVICE_SUFFIXES")).toBe('["", "-stable", "-canary", "-preview"]');
    for (const name of [clientServiceName, stableServiceName, canaryServiceName, previewServiceName])
      expect(rustConst("OWN_SERVICE_SUFFIXES")).toContain(JSON.stringify(name("iris").slice("iris".length)));
  });

  it("carries the schema's defaults under the names and types the Rust config uses", () => {
    const c = proxyConfigSchema.parse({
      namespace: "n",
      deployment: "d",
      revision: "r",
      version: "v",
      shadow: { url: "http://s" },
    });
    const s = c.shadow;
    if (!s) throw new Error("the schema dropped shadow");
    const expected: Record<string, [string, string | number]> = {
      DEFAULT_UPSTREAM: ["&str", JSON.stringify(c.upstream)],
      DEFAULT_LISTEN_PORT: ["u16", c.listenPort],
      DEFAULT_METRICS_PORT: ["u16", c.metricsPort],
      DEFAULT_MAX_PARSE_BYTES: ["usize", c.maxParseBytes],
      DEFAULT_MAX_BUFFERED_BYTES: ["usize", c.maxBufferedBytes],
      DEFAULT_MAX_PARSE_INFLIGHT: ["usize", c.maxParseInflight],
      DEFAULT_SHADOW_MAX_CONCURRENT: ["usize", s.maxConcurrent],
      DEFAULT_UPSTREAM_TIMEOUT_MS: ["u64", c.upstreamTimeoutMs],
      DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS: ["u64", c.upstreamIdleTimeoutMs],
      DEFAULT_HEADERS_TIMEOUT_MS: ["u64", c.headersTimeoutMs],
      DEFAULT_REQUEST_TIMEOUT_MS: ["u64", c.requestTimeoutMs],
      DEFAULT_KEEP_ALIVE_TIMEOUT_MS: ["u64", c.keepAliveTimeoutMs],
      DEFAULT_MAX_CONNECTION_AGE_MS: ["u64", c.maxConnectionAgeMs],
      DEFAULT_DRAIN_MS: ["u64", c.drainMs],
      DEFAULT_SHADOW_DISCOVER_EVERY_MS: ["u64", s.discoverEveryMs],
      DEFAULT_SHADOW_TIMEOUT_MS: ["u64", s.timeoutMs],
    };
    for (const [name, [type, value]] of Object.entries(expected))
      expect(generated, name).toContain(`pub const ${name}: ${type} = ${value};`);
  });

  it("the Rust config reads every field the operator's schema writes (operator/proxy/src/config.rs)", () => {
    const configRs = readFileSync(join(import.meta.dirname, "../operator/proxy/src/config.rs"), "utf8");
    const snake = (camel: string) => camel.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);
    const shadow = proxyConfigSchema.shape.shadow.unwrap();
    const fields = [...Object.keys(proxyConfigSchema.shape), ...Object.keys(shadow.shape)];
    expect(fields.length).toBeGreaterThan(20);
    // serde renames camelCase to snake_case; a field the Rust side lacks would be ignored silently.
    for (const field of fields) expect(configRs, field).toMatch(new RegExp(`pub ${snake(field)}: `));
  });

  it("says it is generated, from what, and how to regenerate it", () => {
    const header = generated.split("\n").slice(0, 3).join("\n");
    expect(header).toMatch(/Generated by hack\/generate-proxy-contract\.ts/);
    expect(header).toMatch(/metric-names\.ts/);
    expect(header).toMatch(/proxy-config\.ts/);
    expect(header).toMatch(/Regenerate: node hack\/generate-proxy-contract\.ts/);
  });
});
