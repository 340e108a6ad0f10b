import { defineConfig } from "vitest/config";

// Two tiers: fast pure unit tests beside the code, and integration tests that
// run the operator in-process against a real local control plane.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["operator/**/*.test.ts", "hack/**/*.test.ts"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["e2e/**/*.test.ts"],
          globalSetup: ["e2e/harness/global-setup.ts"],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // One control plane is shared; files run one after another.
          fileParallelism: false,
        },
      },
    ],
  },
});
