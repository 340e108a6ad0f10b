// Public API of the controller machinery.

export type { ApplyIfChangedOptions } from "./apply.ts";
export {
  APPLIED_HASH_ANNOTATION,
  applyIfChanged,
  applyStatusIfChanged,
  canonicalJson,
  needsApply,
  withAppliedHash,
} from "./apply.ts";
export type { Condition, ConditionInput, ConditionStatus } from "./conditions.ts";
export { getCondition, isFalse, isTrue, kubeTime, removeCondition, setCondition } from "./conditions.ts";
export type { ControllerOptions, ReconcileContext, ReconcileFn, ReconcileResult } from "./controller.ts";
export { Controller, controllerOwnerKey } from "./controller.ts";
export type { EventRecorderOptions, EventType } from "./events.ts";
export { EventRecorder, truncateUtf8 } from "./events.ts";
export type { HealthServer, HealthServerOptions } from "./health.ts";
export { parseBindAddress, startHealthServer } from "./health.ts";
export type { EventHandlers, InformerOptions } from "./informer.ts";
export { Informer, waitForCacheSync } from "./informer.ts";
export type {
  ApplyOptions,
  KubeClientOptions,
  ListOptions,
  ListResult,
  WatchEvent,
  WatchOptions,
} from "./kube.ts";
export { isConflict, isGone, isNotFound, KubeApiError, KubeClient } from "./kube.ts";
export type { LeaderElectionOptions, Lease, LeaseSpec } from "./leader-election.ts";
export { isExpired, LeaderElector } from "./leader-election.ts";
export type { Logger, LoggerOptions } from "./logger.ts";
export { createLogger, silentLogger } from "./logger.ts";
export { counterOn, createRegistry, gaugeOn, histogramOn, metricValue } from "./metrics.ts";
export type { ResourceRef } from "./paths.ts";
export { collectionRefOf, MODELOPS_API_VERSION, pluralOf, refOf, resourcePath } from "./paths.ts";
export type { RateLimiter } from "./rate-limiter.ts";
export {
  BucketRateLimiter,
  defaultControllerRateLimiter,
  ItemExponentialRateLimiter,
  MaxOfRateLimiter,
} from "./rate-limiter.ts";
export { cacheKey, Store } from "./store.ts";
export { backoffDelay, microTime, sleep } from "./time.ts";
export type { KubeObject, ObjectKey, ObjectMeta, OwnerReference } from "./types.ts";
export { keyOf, objectKeyOf, parseKey } from "./types.ts";
export type { WorkQueueOptions } from "./workqueue.ts";
export { WorkQueue } from "./workqueue.ts";
