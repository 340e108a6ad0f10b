import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { MetricProvider, VectorSample } from "../analysis/provider.ts";
import {
  driftMonitorStatusSchema,
  type ModelDeployment,
  modelDeploymentStatusSchema,
  modelVersionStatusSchema,
  parseDurationMs,
} from "../api/index.ts";
import { builtinDecision } from "../autoscaling/builtin.ts";
import { desiredHpa, desiredScaledObject } from "../autoscaling/objects.ts";
import { evaluateGates } from "../core/gates.ts";
import { desiredDeployment, revisionHash } from "../core/workload.ts";
import { stepEpisode } from "../drift/episode.ts";
import { evaluateDrift, type FeatureInput } from "../drift/evaluate.ts";
import { routerKind } from "../rollout/routers/kind.ts";
import type { ManualAction, RolloutDecision } from "../rollout/types.ts";
import { age, reconcile, revisionStates, rolloutWorld, setSpec } from "../testing/rollout-world.ts";
import {
  admittedDriftMonitor,
  admittedModelDeployment,
  admittedModelVersion,
} from "../testing/schema-arbitraries.ts";
import {
  expectParses,
  expectValidDeployment,
  expectValidServices,
  modelVersionStatus,
  NOW,
} from "../testing/schema-checks.ts";
import { readLive, selectFeatures } from "./driftmonitor/query.ts";
import { composeDriftStatus, driftEvents } from "./driftmonitor/status.ts";
import { desiredServices } from "./modeldeployment/services.ts";
import { composeStatus, type VersionLookup } from "./modeldeployment/status.ts";

const RUNS = Number(process.env.SCHEMA_FUZZ_RUNS ?? 1000);
const SEED = process.env.SCHEMA_FUZZ_SEED ? Number(process.env.SCHEMA_FUZZ_SEED) : undefined;
const params = { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) };
/** A few seconds per 1,000 objects (more on a busy machine); the bound only catches a hang. */
const TIMEOUT_MS = Math.max(60_000, RUNS * 60);

describe("ModelVersion: whatever the schema admits is validated, never a crash", () => {
  it(
    `${RUNS} ModelVersions: problems or a renderable Deployment, and a status the CRD accepts`,
    () => {
      fc.assert(
        fc.property(admittedModelVersion, admittedModelDeployment, (mv, mdep) => {
          const { problems, status } = modelVersionStatus(mv);
          expectParses(modelVersionStatusSchema, status);
          for (const p of problems) expect(p.reason).toMatch(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/);
          if (problems.length > 0) return;
          const revision = revisionHash(mdep, mv);
          expect(revision).toMatch(/^[0-9a-f]{10}$/);
          expectValidDeployment(desiredDeployment(mdep, mv, revision, mdep.spec.replicas ?? 1), mdep, mv);
        }),
        params,
      );
    },
    TIMEOUT_MS,
  );
});

const VERBS: ManualAction["verb"][] = ["promote", "promote-full", "abort", "retry", "undo"];

/** Services and status of one reconcile: what the ModelDeployment reconciler writes. */
function expectWritable(
  mdep: ModelDeployment,
  d: RolloutDecision,
  lookup: VersionLookup,
  w: ReturnType<typeof rolloutWorld>,
) {
  const router = routerKind(mdep);
  expectValidServices(desiredServices(mdep, d.traffic, router));
  const scaling = mdep.spec.autoscaling
    ? {
        status: { provider: mdep.spec.autoscaling.provider, desiredReplicas: mdep.spec.replicas ?? 1 },
        problem: { reason: "MetricsUnavailable", message: "no data" },
      }
    : { status: undefined, problem: undefined };
  const status = composeStatus({
    mdep,
    lookup,
    decision: d,
    revisions: revisionStates(w),
    routerProblem: router === "replicas" ? undefined : { reason: "RouteNotFound", message: "no route" },
    scaling,
    gates:
      mdep.spec.gates && lookup.state === "ready"
        ? evaluateGates(mdep.spec.gates, lookup.version, { missing: "gone" })
        : undefined,
    // A termination message may be 4 KiB; every live revision may have one.
    fetching: [...revisionStates(w).values()].map((r) => ({ ...r, message: "x".repeat(4096) })),
    now: new Date(w.now),
  });
  expectParses(modelDeploymentStatusSchema, status);
}

describe("ModelDeployment: every strategy, router and autoscaler the schema admits", () => {
  it(
    `${RUNS} ModelDeployments: a first version, a version change and actions, with Services and status the apiserver accepts`,
    () => {
      fc.assert(
        fc.property(
          admittedModelDeployment,
          admittedModelVersion,
          fc.array(fc.option(fc.constantFrom(...VERBS), { nil: undefined }), { minLength: 2, maxLength: 6 }),
          (spec, mv, actions) => {
            const mdep = { ...spec, status: undefined, spec: { ...spec.spec, modelVersion: "v1" } };
            const w = rolloutWorld(
              mdep,
              routerKind(mdep),
              new Map([
                ["v1", { kind: "ready", afterTicks: 0 }],
                ["v2", { kind: "ready", afterTicks: 1 }],
              ]),
            );
            const ready: VersionLookup = { state: "ready", version: mv };
            const tick = (action?: ManualAction["verb"], lookup: VersionLookup = ready) => {
              const { decision } = reconcile(
                w,
                action ? { verb: action, value: `${action}@${w.now}` } : undefined,
              );
              expectWritable(w.mdep, decision, lookup, w);
              age(w, 30_000);
            };
            tick();
            tick();
            setSpec(w, { modelVersion: "v2" });
            for (const a of actions) tick(a);
            // A version that does not exist: served on, reported, never a crash.
            setSpec(w, { modelVersion: "missing" });
            tick(undefined, { state: "missing", name: "missing" });
            tick(undefined, { state: "invalid", version: mv, message: "InvalidReference" });
          },
        ),
        params,
      );
    },
    TIMEOUT_MS,
  );

  it(
    `${RUNS} autoscaling specs: an HPA, a ScaledObject and builtin decisions within bounds`,
    () => {
      const loads = fc.option(
        fc.oneof(fc.double({ min: 0, max: 1e308, noNaN: true }), fc.constantFrom(0, 1e308)),
        { nil: undefined },
      );
      fc.assert(
        fc.property(
          admittedModelDeployment,
          loads,
          loads,
          fc.integer({ min: 0, max: 10000 }),
          (mdep, stable, panic, current) => {
            const a = mdep.spec.autoscaling;
            if (!a) return;
            const hpa = desiredHpa(mdep, a);
            expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(1);
            expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
            expect(hpa.metadata.name.length).toBeLessThanOrEqual(253);
            const keda = desiredScaledObject(mdep, a, "http://prometheus:9090");
            expect(keda.spec.minReplicaCount).toBeLessThanOrEqual(keda.spec.maxReplicaCount);
            for (const t of keda.spec.triggers)
              for (const v of Object.values(t.metadata)) expect(typeof v).toBe("string");
            for (const target of a.targets.filter((t) => t.averageValue !== undefined)) {
              const d = builtinDecision({
                current,
                min: a.minReplicas ?? 1,
                max: a.maxReplicas,
                targetPerPod: target.averageValue as number,
                stableTotal: stable,
                panicTotal: panic,
                nowMs: NOW.getTime(),
                stableWindowMs: parseDurationMs(a.stableWindow ?? "60s"),
                panicUntilMs: undefined,
                lastScaleMs: undefined,
                maxUpStep: a.scaleUp?.maxPodsPerStep,
                maxDownStep: a.scaleDown?.maxPodsPerStep,
              });
              expect(Number.isInteger(d.desired), d.reason).toBe(true);
              expect(d.desired).toBeGreaterThanOrEqual(Math.min(current, a.minReplicas ?? 1));
              expect(d.desired).toBeLessThanOrEqual(Math.max(current, a.maxReplicas));
            }
          },
        ),
        params,
      );
    },
    TIMEOUT_MS,
  );
});

/** Prometheus answering with whatever a histogram or counter can hold: nothing, zeros, huge counts, unknown categories. */
const answers = fc.array(
  fc.record({
    pick: fc.nat(),
    value: fc.oneof(
      fc.double({ min: 0, max: 1e308, noNaN: true }),
      fc.constantFrom(0, 1, 1e308, Number.POSITIVE_INFINITY),
    ),
  }),
  { maxLength: 70 },
);

function fakePrometheus(
  edges: number[],
  categories: string[],
  raw: { pick: number; value: number }[],
): MetricProvider {
  return {
    query: async () => ({ kind: "noData", reason: "not used" }),
    queryVector: async (query) => {
      const numeric = query.includes("by (le)") || query.includes("_bucket");
      const bounds = [...edges.slice(1, -1).map(String), "+Inf"];
      let cumulative = 0;
      const samples: VectorSample[] = numeric
        ? bounds.map((le, i) => {
            cumulative += raw[i]?.value ?? 0;
            return { labels: { le }, value: cumulative };
          })
        : raw.map((r) => ({
            labels: { category: categories[r.pick % (categories.length + 1)] ?? "brand-new" },
            value: r.value,
          }));
      return { kind: "vector", samples };
    },
  };
}

describe("DriftMonitor: every feature setting against every reference the schema admits", () => {
  it(
    `${RUNS} DriftMonitors: an evaluation, a status the CRD accepts, and Events`,
    async () => {
      await fc.assert(
        fc.asyncProperty(admittedDriftMonitor, admittedModelVersion, answers, async (dm, mv, raw) => {
          const inline = mv.spec.reference;
          const reference = {
            sampleSize: inline?.sampleSize,
            features: inline?.features ?? [],
            predictions: inline?.predictions ?? [],
          };
          const { selected, missing } = selectFeatures(dm, reference);
          const features: FeatureInput[] = missing.map((name) => ({
            name,
            kind: "Feature",
            type: "numeric",
            reference: [],
            live: [],
            problem: "not in the reference",
          }));
          const ctx = {
            namespace: dm.metadata.namespace ?? "",
            name: dm.spec.targetRef.name,
            version: mv.metadata.name,
            window: dm.spec.window ?? "1h",
          };
          for (const s of selected) {
            const prometheus = fakePrometheus(s.ref.edges ?? [], Object.keys(s.ref.categories ?? {}), raw);
            const live = await readLive(prometheus, s, ctx);
            expect("queryError" in live).toBe(false);
            if ("input" in live) features.push(live.input);
            else if ("problem" in live)
              features.push({
                name: s.ref.name,
                kind: s.kind,
                type: s.ref.type,
                reference: [],
                live: [],
                problem: live.problem,
              });
          }
          const evaluation = evaluateDrift({
            features,
            minSampleSize: dm.spec.minSampleSize ?? 100,
            correction: dm.spec.correction ?? "benjaminiHochberg",
            referenceSampleSize: reference.sampleSize,
          });
          const episode = stepEpisode(dm.status ?? {}, evaluation.verdict, NOW.toISOString());
          const actions = episode.act
            ? [{ action: "webhook" as const, ok: false, message: "x".repeat(5000) }]
            : undefined;
          const status = composeDriftStatus({
            dm,
            outcome: { kind: "evaluated", evaluation },
            criticalSince: episode.criticalSince,
            actions,
            now: NOW,
          });
          expectParses(driftMonitorStatusSchema, status);
          const failed = composeDriftStatus({
            dm: { ...dm, status },
            outcome: { kind: "failed", reason: "QueryFailed", message: "down" },
            criticalSince: episode.criticalSince,
            actions: undefined,
            now: NOW,
          });
          expectParses(driftMonitorStatusSchema, failed);
          for (const e of [
            ...driftEvents(undefined, status, actions),
            ...driftEvents(status, failed, undefined),
          ]) {
            expect(e.reason).toMatch(/^[A-Za-z][A-Za-z0-9]*$/);
          }
        }),
        params,
      );
    },
    TIMEOUT_MS,
  );
});
