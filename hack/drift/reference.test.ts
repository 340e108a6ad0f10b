import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parquetWriteBuffer } from "hyparquet-writer";
import yaml from "js-yaml";
import { describe, expect, it } from "vitest";
import { referenceSchema } from "../../operator/api/modelversion.ts";
import { evaluateDrift } from "../../operator/drift/evaluate.ts";
import {
  bucketOf,
  categoricalReference,
  computeReference,
  numericReference,
  parseCsv,
} from "./reference-lib.ts";

function gaussian(seed: number, n: number): number[] {
  let s = seed;
  const uniform = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  return Array.from(
    { length: n },
    () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()),
  );
}

describe("reference from a training set", () => {
  it("gives quantile edges with about equal shares, valid for the ModelVersion schema", () => {
    const values = gaussian(7, 10_000);
    const ref = numericReference("x", values, 10);
    expect(ref.edges).toHaveLength(11);
    for (const f of ref.fractions) expect(f).toBeCloseTo(0.1, 2);
    expect(ref.fractions.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    expect(referenceSchema.safeParse({ features: [ref] }).success).toBe(true);
  });

  it("shares computed with the proxy's bucket rule: the drift of the training set against itself is zero", () => {
    const values = gaussian(11, 5000);
    const ref = numericReference("x", values, 20);
    const live = new Array<number>(ref.fractions.length).fill(0);
    for (const v of values) live[bucketOf(ref.edges, v)] = (live[bucketOf(ref.edges, v)] as number) + 1;
    const e = evaluateDrift({
      features: [
        {
          kind: "Feature",
          ...ref,
          reference: ref.fractions,
          live,
          method: "psi",
        },
      ],
      minSampleSize: 1,
      correction: "none",
    });
    expect(e.features[0]?.score).toBeLessThan(1e-6);
  });

  it("merges equal quantiles and handles a constant column", () => {
    const skewed = numericReference("s", [0, 0, 0, 0, 0, 0, 0, 0, 1, 2], 10);
    expect(new Set(skewed.edges).size).toBe(skewed.edges.length);
    expect(skewed.fractions[0]).toBeCloseTo(0.8, 9);
    expect(numericReference("c", [3, 3, 3], 10)).toEqual({
      name: "c",
      type: "numeric",
      edges: [2.5, 3.5],
      fractions: [1],
    });
  });

  it("keeps the 255 commonest categories and folds the tail into __other__", () => {
    const values = Array.from({ length: 1000 }, (_, i) => `c${i % 300}`);
    const ref = categoricalReference("cat", values);
    expect(Object.keys(ref.categories)).toHaveLength(256);
    // 100 categories occur 4 times, 200 occur 3 times: the 45 rarest (3 each) are folded.
    expect(ref.categories.__other__).toBeCloseTo(0.135, 6);
  });

  it("reads quoted CSV, splits features from predictions, and prints YAML from the command line", () => {
    const csv = 'id,age,city,label\r\n1,23,"Paris, FR",yes\r\n2,35,Lyon,no\r\n3,41,"Paris, FR",yes\r\n';
    const columns = parseCsv(csv);
    expect(columns.map((c) => c.name)).toEqual(["id", "age", "city", "label"]);
    expect(columns[2]?.values).toEqual(["Paris, FR", "Lyon", "Paris, FR"]);
    const reference = computeReference(columns, { ignore: ["id"], predictions: ["label"], buckets: 2 });
    expect(reference.features?.map((f) => f.name)).toEqual(["age", "city"]);
    expect(reference.predictions?.[0]).toMatchObject({ type: "categorical" });

    const dir = mkdtempSync(join(tmpdir(), "reference-"));
    writeFileSync(join(dir, "train.csv"), csv);
    const out = execFileSync(
      process.execPath,
      [
        new URL("./reference.ts", import.meta.url).pathname,
        join(dir, "train.csv"),
        "--ignore",
        "id",
        "--predictions",
        "label",
      ],
      { encoding: "utf8" },
    );
    const parsed = yaml.load(out) as { reference: unknown };
    expect(referenceSchema.safeParse(parsed.reference).success).toBe(true);
  });
});

describe("reference from Parquet", () => {
  it("gives the same reference as the same table in CSV", async () => {
    const ages = gaussian(3, 300).map((v) => 40 + 10 * v);
    const cities = ages.map((_, i) => (i % 3 === 0 ? "lyon" : "paris"));
    const dir = mkdtempSync(join(tmpdir(), "reference-"));
    const parquet = parquetWriteBuffer({
      columnData: [
        { name: "age", data: ages, type: "DOUBLE" },
        { name: "city", data: cities, type: "STRING" },
      ],
    });
    writeFileSync(join(dir, "train.parquet"), new Uint8Array(parquet));
    writeFileSync(
      join(dir, "train.csv"),
      `age,city\n${ages.map((a, i) => `${a},${cities[i]}`).join("\n")}\n`,
    );
    const cli = (file: string) =>
      execFileSync(
        process.execPath,
        [new URL("./reference.ts", import.meta.url).pathname, join(dir, file), "--buckets", "5"],
        {
          encoding: "utf8",
        },
      );
    const fromParquet = cli("train.parquet");
    expect(fromParquet).toContain("name: age");
    expect(fromParquet).toBe(cli("train.csv"));
  });
});
