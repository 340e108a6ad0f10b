// The zod side of setHeaderRoute agrees with the CEL rules (e2e/validation
// checks those on the apiserver): the operator refuses what kubectl apply
// would, with the same message.
import { describe, expect, it } from "vitest";
import { describeHeaderRoute, modelDeploymentSpecSchema, setHeaderRouteSchema } from "./index.ts";

const spec = (trafficRouting: unknown) => ({
  modelVersion: "v1",
  trafficRouting,
  strategy: { canary: { steps: [{ setHeaderRoute: { match: [{ header: "x-cohort", value: "beta" }] } }] } },
});

describe("setHeaderRoute in the spec", () => {
  it.each([[undefined], [{ replicas: {} }]])(
    "is refused with trafficRouting %j, saying how to fix it",
    (routing) => {
      const result = modelDeploymentSpecSchema.safeParse(spec(routing));
      expect(result.error?.issues).toMatchObject([
        {
          path: ["trafficRouting"],
          message: expect.stringMatching(
            /replicas router.*set trafficRouting.gatewayAPI.httpRoute or trafficRouting.istio/,
          ),
        },
      ]);
    },
  );

  it.each([[{ gatewayAPI: { httpRoute: "iris" } }], [{ istio: { virtualService: "iris" } }]])(
    "is accepted with trafficRouting %j",
    (routing) => {
      expect(modelDeploymentSpecSchema.safeParse(spec(routing)).error).toBeUndefined();
    },
  );
});

describe("setHeaderRoute matches", () => {
  const parse = (match: unknown[]) => setHeaderRouteSchema.safeParse({ match });
  it.each([
    [
      [
        { header: "x-a", value: "1" },
        { cookie: "c", value: "v" },
      ],
      true,
    ],
    [[{ header: "x-a", regex: "(?i)beta|(?P<n>alpha)" }], true],
    [[], true],
    [[{ header: "x-a", regex: "(beta" }], false],
    [[{ header: "X-A", value: "1" }], false],
    [[{ cookie: "c", regex: "v.*" }], false],
    [[{ cookie: "c", value: "a b" }], false],
    [[{ header: "x-a", cookie: "c", value: "1" }], false],
    [[{ header: "x-a", value: "1", regex: "1" }], false],
    [
      [
        { cookie: "c", value: "1" },
        { cookie: "d", value: "2" },
      ],
      false,
    ],
    [
      [
        { header: "x-a", value: "1" },
        { header: "x-a", value: "2" },
      ],
      false,
    ],
    [
      [
        { header: "cookie", value: "1" },
        { cookie: "c", value: "2" },
      ],
      false,
    ],
  ])("%j: accepted %s", (match, ok) => {
    expect(parse(match).success).toBe(ok);
  });

  it("describes a route for status messages", () => {
    expect(
      describeHeaderRoute([
        { header: "x-cohort", value: "beta" },
        { header: "x-team", regex: "ml|data" },
        { cookie: "staff", value: "1" },
      ]),
    ).toBe("header x-cohort: beta and header x-team matching /ml|data/ and cookie staff=1");
  });
});
