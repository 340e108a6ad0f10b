// A ConfigMap's reference is the user's text: whatever it holds becomes a
// reason and a message for status, never an exception that loops the reconcile.
import { describe, expect, it } from "vitest";
import { parseConfigMapReference } from "./query.ts";

const where = "ConfigMap ref key ref.json";
const x = { name: "x", type: "numeric", edges: [0, 1, 2], fractions: [0.5, 0.5] };

describe("parseConfigMapReference", () => {
  it.each([
    ["not YAML", "{features: [", /is not JSON or YAML/],
    ["a scalar", "42", /is not a \{features, predictions\} object/],
    ["a list", "[1, 2]", /is not a \{features, predictions\} object/],
    ["features not a list", JSON.stringify({ features: "x" }), /features: .*expected array/i],
    ["a feature without a type", JSON.stringify({ features: [{ name: "x" }] }), /features\.0\.type/],
    [
      "edges and fractions that do not fit",
      JSON.stringify({ features: [{ ...x, fractions: [1] }] }),
      /edges\.length == fractions\.length \+ 1/,
    ],
    ["a misspelt key", JSON.stringify({ feature: [x] }), /Unrecognized key.*feature/],
    ["a negative sampleSize", JSON.stringify({ sampleSize: -1, features: [x] }), /sampleSize/],
  ])("%s is InvalidReference", (_name, text, message) => {
    const parsed = parseConfigMapReference(text, where);
    expect(parsed).toMatchObject({ reason: "InvalidReference" });
    expect((parsed as { message: string }).message).toMatch(message);
    expect((parsed as { message: string }).message).toContain(where);
  });

  it("reads a valid reference, JSON or YAML, bare or as hack/drift/reference.ts prints it", () => {
    expect(parseConfigMapReference(JSON.stringify({ reference: { features: [x] } }), where)).toEqual({
      features: [x],
    });
    expect(parseConfigMapReference(JSON.stringify({ sampleSize: 10, features: [x] }), where)).toEqual({
      sampleSize: 10,
      features: [x],
    });
    expect(
      parseConfigMapReference("predictions:\n  - {name: y, type: categorical, categories: {a: 1}}\n", where),
    ).toEqual({
      predictions: [{ name: "y", type: "categorical", categories: { a: 1 } }],
    });
  });
});
