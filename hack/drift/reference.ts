// Prints a ModelVersion spec.reference (YAML) computed from a CSV training set.
//
//   node hack/drift/reference.ts train.csv [--buckets 10] [--predictions label,score]
//        [--categorical col,...] [--ignore id,...]
//
// Paste the output under a ModelVersion's spec, or put it in a ConfigMap key
// and point spec.reference.configMapRef at it.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import yaml from "js-yaml";
import { computeReference, parseCsv } from "./reference-lib.ts";

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
    "usage: node hack/drift/reference.ts TRAIN.csv [--buckets N] [--predictions a,b] [--categorical c] [--ignore id]",
  );
  process.exit(2);
}
const list = (s: string | undefined) => (s ?? "").split(",").filter((x) => x !== "");
try {
  const reference = computeReference(parseCsv(readFileSync(file, "utf8")), {
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
