// How a test chooses the life of simulated pods on the local cluster's KWOK
// nodes. The choice travels in a container image name, because the image is
// what a ModelVersion contributes to its pods (spec.runtime.image becomes the
// model container's image): marking one version slow, never ready or crashing
// leaves every other version, and the stable revision, untouched. The KWOK
// stages that act on these names are in hack/kwok/stages.yaml; pod-life.test.ts
// keeps the two in step.

/** Images in this registry get a simulated life; every other image is Running+Ready at once. */
export const SIMULATED_REGISTRY = "sim.modelops.test";
export const SIMULATED_MODEL_SERVER = `${SIMULATED_REGISTRY}/model-server`;

/** How long a crash-looping container runs before it exits, and its back-off before a restart. */
export const CRASH_RUN_MS = 2000;
export const CRASH_BACKOFF_MS = 2000;

export const simulatedImage = {
  /** Running at once, Ready after `seconds` (a model that takes that long to load). */
  readyAfter(seconds: number): string {
    if (!Number.isInteger(seconds) || seconds < 0) {
      throw new RangeError(`readyAfter needs whole seconds >= 0, got ${seconds}`);
    }
    return `${SIMULATED_MODEL_SERVER}:ready-after-${seconds}s`;
  },
  /** Running, never Ready: a readiness probe that always fails. */
  neverReady: `${SIMULATED_MODEL_SERVER}:never-ready`,
  /** Running, the container exits after CRASH_RUN_MS, waits CRASH_BACKOFF_MS in CrashLoopBackOff, restarts. */
  crashLoop: `${SIMULATED_MODEL_SERVER}:crash-loop`,
} as const;
