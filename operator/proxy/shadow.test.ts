import { describe, expect, it } from "vitest";
import { isMirroredCopy, SHADOW_HEADER } from "./shadow.ts";

// The Services of a ModelDeployment named "fraud-shadow": its clients call hosts ending in "-shadow".
const own = new Set(["fraud-shadow", "fraud-shadow-stable", "fraud-shadow-canary", "fraud-shadow-preview"]);

describe("isMirroredCopy", () => {
  it.each([
    ["a client's request", { host: "fraud-shadow-canary.ml.svc:80" }, false],
    ["a copy from another revision's proxy", { host: "127.0.0.1:8000", [SHADOW_HEADER]: "1" }, true],
    [
      "a copy mirrored by Envoy (Istio, Gateway API)",
      { host: "fraud-shadow.ml.svc.cluster.local-shadow" },
      true,
    ],
    ["an Envoy copy with a port", { host: "api.example.com-shadow:8080" }, true],
    ["a client calling a Service whose name ends in -shadow", { host: "fraud-shadow" }, false],
    ["the same, with a port", { host: "fraud-shadow:80" }, false],
    ["an Envoy copy of that call", { host: "fraud-shadow-shadow" }, true],
    ["no host at all", {}, false],
  ])("%s", (_, headers, expected) => {
    expect(isMirroredCopy(headers, own)).toBe(expected);
  });
});
