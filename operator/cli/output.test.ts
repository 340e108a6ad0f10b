import { connect } from "node:net";
import yaml from "js-yaml";
import { describe, expect, it } from "vitest";
import { KubeApiError } from "../runtime/kube.ts";
import { restingPhase } from "./commands.ts";
import { describeError } from "./errors.ts";
import { asList, parseDuration, serialize } from "./output.ts";
import type { Mdep } from "./render.ts";
import { renderVersion } from "./version.ts";

describe("output formats and flag values", () => {
  it("reads durations as kubectl does, and plain seconds", () => {
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("0.3")).toBe(300);
    for (const bad of ["", "soon", "5d", "-1", "1m soon"])
      expect(() => parseDuration(bad)).toThrow(/invalid duration/);
  });

  it("prints json and yaml that parse back to the object, and nothing for text formats", () => {
    const list = asList([{ metadata: { name: "iris" } }]);
    expect(JSON.parse(serialize(list, "json") as string)).toEqual(list);
    expect(yaml.load(serialize(list, "yaml") as string)).toEqual(list);
    expect(serialize(list, "wide")).toBeUndefined();
    expect(serialize(list, undefined)).toBeUndefined();
  });
});

describe("status --watch", () => {
  const m = (phase: string, generation: number, observedGeneration: number) =>
    ({
      metadata: { name: "iris", generation },
      spec: {},
      status: { phase, observedGeneration },
    }) as unknown as Mdep;

  it("rests on a terminal phase of the current generation only", () => {
    expect(restingPhase(m("Available", 2, 2))).toBe("Available");
    expect(restingPhase(m("RolledBack", 2, 2))).toBe("RolledBack");
    // The operator has not seen the new spec yet: Available is the old rollout's.
    expect(restingPhase(m("Available", 3, 2))).toBeUndefined();
    expect(restingPhase(m("Paused", 2, 2))).toBeUndefined();
    expect(restingPhase(m("Progressing", 2, 2))).toBeUndefined();
  });
});

describe("error messages", () => {
  const target = { server: "https://127.0.0.1:1", context: "kind", kubeconfig: "/home/u/.kube/config" };

  it("names the server, kubeconfig and context when the connection is refused", async () => {
    // A real refused connection, so the error is the one Node raises.
    const err = await new Promise<Error>((resolve) => connect(1, "127.0.0.1").on("error", resolve));
    expect(describeError(err, target)).toBe(
      'The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port? (kubeconfig /home/u/.kube/config, context "kind")',
    );
  });

  it("words apiserver answers as kubectl does", () => {
    const notFound = new KubeApiError(404, "NotFound", 'modeldeployments.modelops.io "nope" not found');
    expect(describeError(notFound, target)).toBe(
      'Error from server (NotFound): modeldeployments.modelops.io "nope" not found',
    );
    const noCrd = new KubeApiError(404, "NotFound", "the server could not find the requested resource");
    expect(describeError(noCrd, target)).toContain("are the modelops.io CRDs installed");
    expect(describeError(new KubeApiError(401, "Unauthorized", ""), target)).toContain("must be logged in");
  });
});

describe("version", () => {
  it("says the operator was not found, or why", () => {
    expect(renderVersion([])).toMatch(/^client: .*\noperator: not found \(no Deployment labelled/);
    expect(renderVersion([{ reason: "not allowed to list Deployments in all namespaces" }])).toContain(
      "operator: not found (not allowed",
    );
    expect(
      renderVersion([{ version: "0.2.0", deployment: "ops/modelops-operator", image: "r/m:0.2.0" }]),
    ).toContain("operator: 0.2.0 (deployment ops/modelops-operator, image r/m:0.2.0)");
  });
});
