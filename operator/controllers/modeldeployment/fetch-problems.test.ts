import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { describeFetchProblems, fetchFailure } from "./fetch-problems.ts";

const pod = (fetcher: object): V1Pod => ({
  status: {
    initContainerStatuses: [
      { name: "fetch-model", image: "op", imageID: "", ready: false, restartCount: 0, ...fetcher },
    ],
  },
});

describe("fetchFailure", () => {
  it("reads the fetcher's termination message, and how often it was tried", () => {
    const crashLooping = pod({
      restartCount: 3,
      state: { waiting: { reason: "CrashLoopBackOff" } },
      lastState: { terminated: { exitCode: 1, message: "sha256 mismatch (file): expected aa, got bb\n" } },
    });
    expect(fetchFailure(crashLooping)).toBe("sha256 mismatch (file): expected aa, got bb (tried 4 times)");
    const justFailed = pod({ state: { terminated: { exitCode: 1, message: "s3://m/x: 403 AccessDenied" } } });
    expect(fetchFailure(justFailed)).toBe("s3://m/x: 403 AccessDenied");
  });

  it("falls back to the kubelet's reason, and caps a long message", () => {
    expect(fetchFailure(pod({ state: { terminated: { exitCode: 137, reason: "OOMKilled" } } }))).toBe(
      "OOMKilled",
    );
    const long = fetchFailure(pod({ state: { terminated: { exitCode: 1, message: "x".repeat(5000) } } }));
    expect(long?.length).toBe(1024);
  });

  it("is nothing while it runs, after it succeeded, or in a pod without a fetcher", () => {
    expect(fetchFailure(pod({ state: { running: {} } }))).toBeUndefined();
    expect(fetchFailure(pod({ state: { terminated: { exitCode: 0 } } }))).toBeUndefined();
    // A retry that is running again after a failure still says why the last one failed.
    expect(
      fetchFailure(
        pod({
          state: { running: {} },
          restartCount: 1,
          lastState: { terminated: { exitCode: 1, message: "404" } },
        }),
      ),
    ).toBe("404 (tried 2 times)");
    expect(fetchFailure({ status: {} })).toBeUndefined();
  });

  it("names each revision in the condition's message", () => {
    expect(describeFetchProblems([{ revision: "abc", version: "iris-v3", message: "404" }])).toBe(
      "revision abc (iris-v3) cannot fetch its artifact: 404",
    );
  });
});
