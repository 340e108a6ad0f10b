// stages.yaml cannot import pod-life.ts; this keeps the image names and
// timings the two spell out in step, and checks the jq regexes the stages use
// (written for gojq, whose syntax these patterns share with JavaScript's).
import { readFileSync } from "node:fs";
import yaml from "js-yaml";
import { describe, expect, it } from "vitest";
import { defaultStagesPath } from "./cluster.ts";
import { CRASH_BACKOFF_MS, CRASH_RUN_MS, SIMULATED_REGISTRY, simulatedImage } from "./pod-life.ts";

interface Stage {
  metadata: { name: string };
  spec: {
    selector?: { matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> };
    delay?: { durationMilliseconds?: number; durationFrom?: { expressionFrom: string } };
  };
}

const stages = new Map(
  (yaml.loadAll(readFileSync(defaultStagesPath, "utf8")) as Stage[]).map((s) => [s.metadata.name, s]),
);

function stage(name: string): Stage {
  const s = stages.get(name);
  if (!s) throw new Error(`stages.yaml has no stage ${name}`);
  return s;
}

function expressions(name: string) {
  return stage(name).spec.selector?.matchExpressions ?? [];
}

/** A jq string literal's pattern as a JavaScript RegExp (named groups spelled the Go way). */
function jqRegex(expr: string, fn: "test" | "capture"): RegExp {
  const literal = new RegExp(`${fn}\\(("(?:[^"\\\\]|\\\\.)*")\\)`).exec(expr)?.[1];
  if (!literal) throw new Error(`no ${fn}("...") in ${expr}`);
  return new RegExp((JSON.parse(literal) as string).replaceAll("(?P<", "(?<"));
}

describe("KWOK stages for simulated pod life", () => {
  const simulated = `startswith("${SIMULATED_REGISTRY}/")`;

  it("sends simulated images through pod-start-unready and every other pod through pod-ready", () => {
    expect(expressions("pod-ready")).toContainEqual({
      key: `.spec.containers[].image | ${simulated}`,
      operator: "NotIn",
      values: ["true"],
    });
    expect(expressions("pod-start-unready")).toContainEqual({
      key: `.spec.containers[].image | ${simulated}`,
      operator: "In",
      values: ["true"],
    });
    for (const image of [
      simulatedImage.readyAfter(15),
      simulatedImage.neverReady,
      simulatedImage.crashLoop,
    ]) {
      expect(image.startsWith(`${SIMULATED_REGISTRY}/`)).toBe(true);
    }
  });

  it("makes a ready-after image Ready after the duration in its tag, and no other", () => {
    const selects = expressions("pod-ready-after-delay").find((e) => e.key.includes("ready-after"));
    const pattern = jqRegex(selects?.key ?? "", "test");
    expect(pattern.test(simulatedImage.readyAfter(15))).toBe(true);
    expect(pattern.test(simulatedImage.neverReady)).toBe(false);
    expect(pattern.test(simulatedImage.crashLoop)).toBe(false);
    const durationFrom = stage("pod-ready-after-delay").spec.delay?.durationFrom?.expressionFrom ?? "";
    const capture = jqRegex(durationFrom, "capture");
    expect(capture.exec(simulatedImage.readyAfter(15))?.groups?.after).toBe("15s");
    expect(capture.exec(simulatedImage.readyAfter(0))?.groups?.after).toBe("0s");
  });

  it("crash-loops exactly the crash-loop image, with pod-life.ts's timings", () => {
    for (const name of ["pod-crash", "pod-crash-restart"]) {
      const byImage = expressions(name).find((e) => e.key.endsWith("| .image"));
      expect(byImage?.values).toEqual([simulatedImage.crashLoop]);
    }
    expect(stage("pod-crash").spec.delay?.durationMilliseconds).toBe(CRASH_RUN_MS);
    expect(stage("pod-crash-restart").spec.delay?.durationMilliseconds).toBe(CRASH_BACKOFF_MS);
  });

  it("refuses a readiness delay that is not whole seconds", () => {
    expect(() => simulatedImage.readyAfter(1.5)).toThrow(RangeError);
  });
});
