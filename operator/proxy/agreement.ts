// Compares the shadow's predictions with the primary's for the same request.
// Pure. Classification outputs agree when the labels are equal; regression
// outputs give an absolute difference per row. An output's kind comes from
// the signature; without one, text and booleans are labels and numbers are
// regression values.

import { categoryText, numericValue } from "./buckets.ts";
import type { SignatureField } from "./config.ts";
import type { Columns, Value } from "./payload.ts";

export interface Comparison {
  agree: number;
  disagree: number;
  /** |primary - shadow| per compared numeric prediction. */
  absDifferences: number[];
  /** Rows present in one response but not the other, or values that cannot be compared. */
  incomparable: number;
}

function kindOf(
  name: string,
  outputs: SignatureField[],
  sample: Value | undefined,
): "categorical" | "numeric" {
  const field = outputs.find((f) => f.name === name);
  if (field) return field.type;
  return typeof sample === "number" ? "numeric" : "categorical";
}

function compareColumn(
  kind: "categorical" | "numeric",
  primary: Value[],
  shadow: Value[] | undefined,
  out: Comparison,
): void {
  const rows = Math.max(primary.length, shadow?.length ?? 0);
  for (let r = 0; r < rows; r++) {
    const p = primary[r];
    const s = shadow?.[r];
    if (p === undefined || s === undefined) {
      out.incomparable++;
    } else if (kind === "categorical") {
      if (categoryText(p) === categoryText(s)) out.agree++;
      else out.disagree++;
    } else {
      const a = numericValue(p);
      const b = numericValue(s);
      if (a === undefined || b === undefined) out.incomparable++;
      else out.absDifferences.push(Math.abs(a - b));
    }
  }
}

/**
 * Compares every output the signature names (or, without a signature, every
 * output of the primary) row by row.
 */
export function comparePredictions(primary: Columns, shadow: Columns, outputs: SignatureField[]): Comparison {
  const out: Comparison = { agree: 0, disagree: 0, absDifferences: [], incomparable: 0 };
  const names = outputs.length > 0 ? outputs.map((f) => f.name) : [...primary.keys()];
  for (const name of names) {
    const p = primary.get(name);
    if (!p) continue;
    compareColumn(kindOf(name, outputs, p[0]), p, shadow.get(name), out);
  }
  return out;
}
