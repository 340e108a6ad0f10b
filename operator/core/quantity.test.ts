import { describe, expect, it } from "vitest";
import { canonicalQuantity } from "./quantity.ts";

// Expected values are what kube-apiserver v1.34 stores for each input.
describe("canonicalQuantity", () => {
  it.each([
    ["0.5", "500m"],
    ["1000m", "1"],
    ["1500m", "1500m"],
    ["1.5", "1500m"],
    ["2000", "2k"],
    ["100M", "100M"],
    [1, "1"],
    [0, "0"],
    ["1024Mi", "1Gi"],
    ["1536Mi", "1536Mi"],
    ["1.5Gi", "1536Mi"],
    ["0.5Ki", "512"],
    ["512Mi", "512Mi"],
    ["1e3", "1e3"],
    ["1G", "1G"],
    ["250m", "250m"],
    ["0.1", "100m"],
    ["128974848", "128974848"],
    ["129e6", "129e6"],
  ])("%s -> %s", (input, expected) => {
    expect(canonicalQuantity(input)).toBe(expected);
  });
});
