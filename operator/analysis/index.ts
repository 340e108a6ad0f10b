// Analysis: metric providers (Prometheus) and the pure judgement and
// progression of analysis runs. The reconciler's entry points are
// measureAnalysis (I/O), then recordMeasurement and nextMeasurementAt (pure).
export * from "./judge.ts";
export * from "./measure.ts";
export * from "./metrics.ts";
export * from "./prometheus.ts";
export * from "./queries.ts";
export * from "./run.ts";
