// Every duration field has a range: the CRD's CEL rule rejects values outside
// it at apply time, and zod (the operator's own parse) agrees.
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { analysisSchema } from "./analysis.ts";
import { autoscalingSchema } from "./autoscaling.ts";
import { zodToStructural } from "./crd.ts";
import { driftMonitorSpecSchema } from "./driftmonitor.ts";
import { canaryStepSchema, shadowStrategySchema } from "./modeldeployment.ts";

const metrics = [{ name: "errors", builtin: "errorRate", max: 0.05 }];
const autoscaling = { maxReplicas: 4, targets: [{ type: "concurrency", averageValue: 2 }] };

/** Each duration field: how to build an object with it, its inclusive range, values just outside. */
const fields = [
  {
    field: "analysis.interval",
    schema: analysisSchema,
    with: (d: string) => ({ interval: d, metrics }),
    range: ["1s", "24h"],
    outside: ["999ms", "24h1ms"],
  },
  {
    field: "canary step pause.duration",
    schema: canaryStepSchema,
    with: (d: string) => ({ pause: { duration: d } }),
    range: ["0s", "168h"],
    outside: ["168h1ms", "600h"],
  },
  {
    field: "shadow.duration",
    schema: shadowStrategySchema,
    with: (d: string) => ({ duration: d }),
    range: ["1s", "168h"],
    outside: ["999ms", "168h1s"],
  },
  {
    field: "driftMonitor.interval",
    schema: driftMonitorSpecSchema,
    with: (d: string) => ({ targetRef: { name: "iris" }, interval: d }),
    range: ["1s", "24h"],
    outside: ["0s", "24h1s"],
  },
  {
    field: "driftMonitor.window",
    schema: driftMonitorSpecSchema,
    with: (d: string) => ({ targetRef: { name: "iris" }, window: d }),
    range: ["1m", "720h"],
    outside: ["59s", "721h"],
  },
  {
    field: "autoscaling.panicWindow",
    schema: autoscalingSchema,
    with: (d: string) => ({ ...autoscaling, panicWindow: d }),
    range: ["1s", "1h"],
    outside: ["500ms", "61m"],
  },
  {
    field: "autoscaling.stableWindow",
    schema: autoscalingSchema,
    with: (d: string) => ({ ...autoscaling, stableWindow: d }),
    range: ["6s", "1h"],
    outside: ["5s", "2h"],
  },
] as const;

function issues(schema: z.ZodType, value: unknown): string[] {
  const r = schema.safeParse(value);
  return r.success ? [] : r.error.issues.map((i) => i.message);
}

describe.each(fields)("$field", ({ schema, with: build, range: [min, max], outside }) => {
  it(`accepts ${min} and ${max}`, () => {
    expect(issues(schema, build(min))).toEqual([]);
    expect(issues(schema, build(max))).toEqual([]);
  });

  it(`rejects values outside ${min}..${max} with a message naming the range`, () => {
    for (const d of [...outside, "9999h"]) {
      expect(issues(schema, build(d)), d).toEqual([
        `"${d}" is out of range: write a duration from ${min} to ${max}`,
      ]);
    }
  });

  it("says its range in the CRD: a CEL rule and the field's description", () => {
    const crd = JSON.stringify(zodToStructural(schema));
    expect(crd).toContain(`duration(self) >= duration('${min}') && duration(self) <= duration('${max}')`);
    expect(crd).toContain(`From ${min} to ${max}; units ms, s, m, h.`);
  });
});

describe("duration syntax", () => {
  it("rejects numbers too large for any clock as syntax, so the range rule never overflows", () => {
    const dm = fields[3];
    expect(issues(dm.schema, dm.with("1000000h"))[0]).toMatch(/"1000000h" is not a duration/);
    expect(issues(dm.schema, dm.with("99999999999999999999h")).join()).toMatch(/not a duration/);
  });
});
