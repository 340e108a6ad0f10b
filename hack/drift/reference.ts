// Prints a ModelVersion spec.reference (YAML) computed from a CSV or Parquet
// training set (by extension: .parquet is Parquet, anything else CSV).
//
//   node hack/drift/reference.ts train.csv|train.parquet [--buckets 10] [--predictions label,score]
//        [--categorical col,...] [--ignore id,...]
//
// Paste the output under a ModelVersion's spec, or put it in a ConfigMap key
// and point spec.reference.configMapRef at it.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import yaml from "js-yaml";
import { type Column, columnsFromRecords, computeReference, parseCsv } from "./reference-lib.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    buckets: { type: "string", default: "10" },
    predictions: { type: "string", default: "" },
    categorical: { type: "string", default: "" },
    ignore: { type: "string", default: "" },
  },
});
const file = positionals[0];
if (!file) {
  console.error(
    "usage: node hack/drift/reference.ts TRAIN.csv|TRAIN.parquet [--buckets N] [--predictions a,b] [--categorical c] [--ignore id]",
  );
  process.exit(2);
}
const list = (s: string | undefined) => (s ?? "").split(",").filter((x) => x !== "");
try {
  const reference = computeReference(await readTable(file), {
    buckets: Number(values.buckets),
    predictions: list(values.predictions),
    categorical: list(values.categorical),
    ignore: list(values.ignore),
  });
  process.stdout.write(yaml.dump({ reference }, { flowLevel: 4, lineWidth: 120 }));
} catch (err) {
  console.error(`reference: ${(err as Error).message}`);
  process.exit(1);
}

async function readTable(path: string): Promise<Column[]> {
  if (!path.endsWith(".parquet")) return parseCsv(readFileSync(path, "utf8"));
  const rows = await parquetReadObjects({ file: await asyncBufferFromFile(path) });
  return columnsFromRecords(rows);
}
