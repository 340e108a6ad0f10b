import { describe, expect, it } from "vitest";
import {
  type Condition,
  getCondition,
  isFalse,
  isTrue,
  kubeTime,
  removeCondition,
  setCondition,
} from "./conditions.ts";

const t0 = new Date("2025-01-01T00:00:00.123Z");
const t1 = new Date("2025-01-01T01:00:00.999Z");

describe("setCondition", () => {
  it("adds a new condition with second-precision time and generation", () => {
    const out = setCondition([], { type: "Ready", status: "True", reason: "Ok", message: "m" }, 3, t0);
    expect(out).toEqual([
      {
        type: "Ready",
        status: "True",
        reason: "Ok",
        message: "m",
        lastTransitionTime: "2025-01-01T00:00:00Z",
        observedGeneration: 3,
      },
    ]);
  });

  it("keeps lastTransitionTime when status is unchanged but updates reason/message/generation", () => {
    const a = setCondition(undefined, { type: "Ready", status: "False", reason: "A", message: "a" }, 1, t0);
    const b = setCondition(a, { type: "Ready", status: "False", reason: "B", message: "b" }, 2, t1);
    expect(b[0]).toMatchObject({ reason: "B", message: "b", observedGeneration: 2 });
    expect(b[0]?.lastTransitionTime).toBe("2025-01-01T00:00:00Z");
  });

  it("moves lastTransitionTime when status changes", () => {
    const a = setCondition([], { type: "Ready", status: "False", reason: "A", message: "" }, 1, t0);
    const b = setCondition(a, { type: "Ready", status: "True", reason: "A", message: "" }, 1, t1);
    expect(b[0]?.lastTransitionTime).toBe("2025-01-01T01:00:00Z");
  });

  it("does not mutate the input and keeps order of other conditions", () => {
    const input: Condition[] = [
      { type: "A", status: "True", reason: "R", message: "", lastTransitionTime: "x" },
      { type: "B", status: "True", reason: "R", message: "", lastTransitionTime: "x" },
    ];
    const frozen = structuredClone(input);
    const out = setCondition(input, { type: "A", status: "False", reason: "R", message: "" }, undefined, t0);
    expect(input).toEqual(frozen);
    expect(out.map((c) => c.type)).toEqual(["A", "B"]);
    expect(out[0]).not.toHaveProperty("observedGeneration");
  });

  it("is idempotent: same input twice gives equal output", () => {
    const once = setCondition([], { type: "A", status: "True", reason: "R", message: "m" }, 1, t0);
    const twice = setCondition(once, { type: "A", status: "True", reason: "R", message: "m" }, 1, t1);
    expect(twice).toEqual(once);
  });
});

describe("lookups", () => {
  const list: Condition[] = [
    { type: "Ready", status: "True", reason: "R", message: "", lastTransitionTime: "x" },
    { type: "Degraded", status: "False", reason: "R", message: "", lastTransitionTime: "x" },
  ];
  it("finds and tests conditions", () => {
    expect(getCondition(list, "Ready")?.status).toBe("True");
    expect(getCondition(undefined, "Ready")).toBeUndefined();
    expect(isTrue(list, "Ready")).toBe(true);
    expect(isTrue(list, "Degraded")).toBe(false);
    expect(isFalse(list, "Degraded")).toBe(true);
    expect(isTrue(list, "Missing")).toBe(false);
    expect(removeCondition(list, "Ready").map((c) => c.type)).toEqual(["Degraded"]);
  });
  it("formats kube time", () => {
    expect(kubeTime(t0)).toBe("2025-01-01T00:00:00Z");
  });
});
