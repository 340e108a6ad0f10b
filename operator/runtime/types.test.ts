import { describe, expect, it } from "vitest";
import { keyOf, objectKeyOf, parseKey } from "./types.ts";

describe("keys", () => {
  it("round-trips namespaced and cluster-scoped keys", () => {
    expect(keyOf({ namespace: "a", name: "b" })).toBe("a/b");
    expect(keyOf({ name: "b" })).toBe("b");
    expect(parseKey("a/b")).toEqual({ namespace: "a", name: "b" });
    expect(parseKey("b")).toEqual({ name: "b" });
    expect(objectKeyOf({ metadata: { namespace: "n", name: "x" } })).toEqual({ namespace: "n", name: "x" });
    expect(objectKeyOf({ metadata: { name: "x" } })).toEqual({ name: "x" });
  });
});
