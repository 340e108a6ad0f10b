// Values the three kinds are built from, edges weighted in: unicode text up to
// a field's limit, DNS names at their length limit, doubles at the ends of
// their range, quantities and durations the schema's patterns admit.
import fc from "fast-check";

export const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 3 });

/** Unicode text up to `max` characters (code points from the whole range), empty and full included. */
export function text(max: number, min = 0): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: "binary", minLength: min, maxLength: Math.min(max, 40) }),
    fc.string({ unit: "grapheme-ascii", minLength: Math.max(min, max), maxLength: max }),
    fc.constant("ü".repeat(max)).filter((s) => s.length >= min),
  );
}

/** A DNS-1123 label (or subdomain without dots) of 1..max characters, max itself often. */
export function dnsName(max: number, firstLetter = false): fc.Arbitrary<string> {
  const first = firstLetter ? "[a-z]" : "[a-z0-9]";
  const random = fc.stringMatching(new RegExp(`^${first}([-a-z0-9]{0,10}[a-z0-9])?$`));
  const full = fc
    .tuple(random, fc.constantFrom("a", "0", "z9"))
    .map(([s, end]) => `${s}${"x".repeat(max)}`.slice(0, max - end.length) + end)
    .filter((s) => !firstLetter || /^[a-z]/.test(s));
  return fc.oneof(random, full, fc.constant(firstLetter ? "a" : "0"));
}

/** A label value (max 63), used for modelName and version. */
export const labelValue = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?$/),
  fc.constant(`A${"._-".repeat(20)}Z`),
);

export const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
/** Bucket edges and values where arithmetic overflows or loses precision. */
export const extreme = fc.constantFrom(
  0,
  -0,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MIN_VALUE,
  -Number.MIN_VALUE,
  Number.MAX_SAFE_INTEGER,
  1e-300,
  1e300,
);
export const edgeValue = fc.oneof(finite, extreme, fc.integer({ min: -1000, max: 1000 }));

/** A resource quantity as the schema's pattern admits it, with large exponents and precision. */
export const quantity = fc.oneof(
  fc.integer({ min: 0, max: 1_000_000 }),
  fc.constantFrom("0", "500m", "1Gi", "1.5", ".5", "1e3", "1E", "999999Ei", "1n", "0.0000000001", "1e-12"),
  fc
    .tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: -400, max: 400 }))
    .map(([m, e]) => `${m}e${e}`),
  // Short strings with exponents whose exact value is enormous: the pattern has no bound on them.
  fc.constantFrom(
    "1e99999999",
    "1e-99999999",
    `1${"0".repeat(300)}`,
    `0.${"0".repeat(300)}1`,
    "7e+999999999999",
  ),
);
export const resources = fc.record(
  {
    requests: fc.dictionary(fc.constantFrom("cpu", "memory", "nvidia.com/gpu"), quantity, { maxKeys: 3 }),
    limits: fc.dictionary(fc.constantFrom("cpu", "memory", "ephemeral-storage"), quantity, { maxKeys: 3 }),
  },
  { requiredKeys: [] },
);
export const envList = fc.uniqueArray(
  fc.record({ name: fc.stringMatching(/^[-._a-zA-Z][-._a-zA-Z0-9]{0,30}$/), value: text(64) }),
  { maxLength: 128, selector: (e) => e.name },
);

/** Durations the schema admits for a range, its ends included. */
export const duration = (values: string[]) => fc.constantFrom(...values);
