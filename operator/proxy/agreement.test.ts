import { describe, expect, it } from "vitest";
import { comparePredictions } from "./agreement.ts";

describe("comparePredictions", () => {
  it("counts equal labels as agreement, treating 1 and '1' as the same label", () => {
    const c = comparePredictions(new Map([["label", [0, 1, 2, "1"]]]), new Map([["label", ["0", 2, 2, 1]]]), [
      { name: "label", type: "categorical" },
    ]);
    expect(c).toEqual({ agree: 3, disagree: 1, absDifferences: [], incomparable: 0 });
  });

  it("gives absolute differences for numeric outputs", () => {
    const c = comparePredictions(new Map([["y", [1, 2.5, 3]]]), new Map([["y", [1.5, 2.5, "x"]]]), [
      { name: "y", type: "numeric" },
    ]);
    expect(c.absDifferences).toEqual([0.5, 0]);
    expect(c.incomparable).toBe(1);
  });

  it("counts rows missing on one side as incomparable", () => {
    const c = comparePredictions(new Map([["y", ["a", "b"]]]), new Map([["y", ["a"]]]), [
      { name: "y", type: "categorical" },
    ]);
    expect(c).toMatchObject({ agree: 1, disagree: 0, incomparable: 1 });
  });

  it("without a signature: text is a label, numbers are regression values", () => {
    const c = comparePredictions(
      new Map<string, (string | number)[]>([
        ["cls", ["a", "b"]],
        ["score", [0.25]],
      ]),
      new Map<string, (string | number)[]>([
        ["cls", ["a", "a"]],
        ["score", [0.5]],
      ]),
      [],
    );
    expect(c).toEqual({ agree: 1, disagree: 1, absDifferences: [0.25], incomparable: 0 });
  });
});
