// Kubernetes stores resource quantities in a canonical form ("0.5" becomes
// "500m", "1024Mi" becomes "1Gi"). Writing the same form means a desired
// object equals the live one, so a converged reconcile writes nothing.

const BINARY: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const DECIMAL_SUFFIX = Object.fromEntries(Object.entries(DECIMAL).map(([s, e]) => [e, s]));
const PATTERN = /^([+-]?)(\d*)(?:\.(\d*))?(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

/**
 * Past these the arithmetic below is no longer cheap: the CRD's pattern
 * admits "1e99999999" (ten characters), whose exact value would take the
 * reconcile minutes and gigabytes. No real resource needs them, so they are
 * left as written and the apiserver judges them.
 */
const MAX_QUANTITY_LENGTH = 64;
const MAX_EXPONENT = 64;

/** The apiserver's canonical string for a quantity; unparseable or outsized input is returned as is. */
export function canonicalQuantity(input: string | number): string {
  const text = String(input).trim();
  const m = text.length > MAX_QUANTITY_LENGTH ? null : PATTERN.exec(text);
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) return text;
  const [, sign = "", whole = "", fraction = "", suffix = ""] = m;
  // value = digits x 10^exp10 x 1024^exp1024, kept exact in BigInt.
  let digits = BigInt(`${whole}${fraction}` || "0");
  let exp10 = -fraction.length;
  let binary = false;
  let exponentFormat = false;
  if (suffix in BINARY) {
    digits *= 1024n ** BigInt(BINARY[suffix] as number);
    binary = true;
  } else if (suffix.startsWith("e") || suffix.startsWith("E")) {
    if (suffix.length > 1) exp10 += Number(suffix.slice(1));
    exponentFormat = suffix.length > 1;
    if (suffix === "E") exp10 += 18;
  } else {
    exp10 += DECIMAL[suffix] ?? 0;
  }
  if (digits === 0n) return "0";
  if (Math.abs(exp10) > MAX_EXPONENT) return text;
  const negative = sign === "-";
  if (binary) {
    const asBinary = formatBinary(digits, exp10);
    if (asBinary) return (negative ? "-" : "") + asBinary;
  }
  return (negative ? "-" : "") + formatDecimal(digits, exp10, exponentFormat);
}

/** Binary suffixes only for whole numbers of bytes of at least 1024, as the apiserver does. */
function formatBinary(digits: bigint, exp10: number): string | undefined {
  let value = digits;
  if (exp10 < 0) {
    const div = 10n ** BigInt(-exp10);
    if (value % div !== 0n) return undefined;
    value /= div;
  } else {
    value *= 10n ** BigInt(exp10);
  }
  if (value < 1024n) return undefined;
  let power = 0;
  while (value % 1024n === 0n && power < 6) {
    value /= 1024n;
    power++;
  }
  return `${value}${["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power]}`;
}

function formatDecimal(digits: bigint, exp10: number, exponentFormat: boolean): string {
  let mantissa = digits;
  let exp = exp10;
  // The apiserver keeps at most nano precision, rounding up.
  if (exp < -9) {
    const div = 10n ** BigInt(-9 - exp);
    mantissa = (mantissa + div - 1n) / div;
    exp = -9;
  }
  while (mantissa % 10n === 0n && mantissa !== 0n) {
    mantissa /= 10n;
    exp++;
  }
  // Exponents are multiples of 3 (SI suffixes), at most 18 ("E").
  while (((exp % 3) + 3) % 3 !== 0 || exp > 18) {
    mantissa *= 10n;
    exp--;
  }
  if (exponentFormat) return exp === 0 ? `${mantissa}` : `${mantissa}e${exp}`;
  return `${mantissa}${DECIMAL_SUFFIX[exp] ?? ""}`;
}

/** Canonical quantities in a requests/limits map. */
export function canonicalResources<T extends Record<string, Record<string, string | number> | undefined>>(
  resources: T,
): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [group, values] of Object.entries(resources)) {
    if (!values) continue;
    out[group] = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, canonicalQuantity(v)]));
  }
  return out;
}
