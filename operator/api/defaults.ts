// Defaults the schema writes into manifests and the engine falls back to
// when a field is absent (objects created before a default existed, tests),
// defined once so the two cannot disagree.

/** Seconds a new revision may take to become ready before the rollout rolls back. */
export const PROGRESS_DEADLINE_SECONDS = 600;
/** Seconds the previous revision stays warm after a promotion, for a fast rollback. */
export const SCALE_DOWN_DELAY_SECONDS = 30;
/** Seconds a rolled-back revision stays up for debugging before it is deleted. */
export const ABORT_SCALE_DOWN_DELAY_SECONDS = 600;
/** Measurements after which a step, pre- or post-promotion analysis succeeds when it sets no count. */
export const ANALYSIS_COUNT = 3;
/** Percentage of requests a shadow rollout mirrors. */
export const MIRROR_PERCENT = 100;
