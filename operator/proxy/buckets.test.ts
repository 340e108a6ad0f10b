import { describe, expect, it } from "vitest";
import { categoryOf, histogramBounds, numericValue, referenceBucket } from "./buckets.ts";
import { Distributions } from "./distributions.ts";

const edges = [0, 1, 2, 4];

describe("reference buckets", () => {
  it("uses the inner edges as le bounds", () => {
    expect(histogramBounds(edges)).toEqual([1, 2]);
    expect(histogramBounds([0, 1])).toEqual([]);
  });

  it.each([
    [-5, 0], // below the training range: first bucket
    [0, 0],
    [1, 0], // (0, 1] is bucket 0: upper edge inclusive, like le
    [1.0001, 1],
    [2, 1],
    [3, 2],
    [100, 2], // above the range: last bucket
  ])("puts %d in bucket %d", (value, bucket) => {
    expect(referenceBucket(edges, value)).toBe(bucket);
  });

  it("reads numbers from numbers, numeric text and booleans only", () => {
    expect([1.5, "2.5", true, "x", "", Number.NaN, Number.POSITIVE_INFINITY].map(numericValue)).toEqual([
      1.5,
      2.5,
      1,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it("counts unknown categories as __other__", () => {
    const known = new Set(["a", "1"]);
    expect(["a", 1, "b", true].map((v) => categoryOf(known, v))).toEqual([
      "a",
      "1",
      "__other__",
      "__other__",
    ]);
  });
});

describe("Distributions", () => {
  const names = { histogram: "h", counter: "c", label: "feature", help: "x" };

  it("renders cumulative buckets that reproduce the reference bucket counts", () => {
    const d = new Distributions([{ name: "f", type: "numeric", edges }], names);
    const values = [-1, 0.5, 1, 1.5, 3, 9, Number.NaN];
    d.observe(
      new Map([
        ["f", values],
        ["unknown", [1]],
      ]),
    );
    const text = d.render('ns="a"');
    expect(text).toContain('h_bucket{ns="a",feature="f",le="1"} 3');
    expect(text).toContain('h_bucket{ns="a",feature="f",le="2"} 4');
    expect(text).toContain('h_bucket{ns="a",feature="f",le="+Inf"} 6');
    expect(text).toContain('h_count{ns="a",feature="f"} 6');
    expect(text).not.toContain("unknown");
    const perBucket = [0, 0, 0];
    for (const v of values.filter(Number.isFinite)) {
      const i = referenceBucket(edges, v);
      perBucket[i] = (perBucket[i] ?? 0) + 1;
    }
    expect(perBucket).toEqual([3, 1, 2]);
  });

  it("exports every known category and __other__ from the start", () => {
    const d = new Distributions(
      [{ name: "color", type: "categorical", categories: ["red", 'we"ird'] }],
      names,
    );
    d.observe(new Map([["color", ["red", "red", "green"]]]));
    const text = d.render('ns="a"');
    expect(text).toContain('c{ns="a",feature="color",category="red"} 2');
    expect(text).toContain('c{ns="a",feature="color",category="we\\"ird"} 0');
    expect(text).toContain('c{ns="a",feature="color",category="__other__"} 1');
  });
});
