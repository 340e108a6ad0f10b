// The engine's safety promises as properties over random histories: version
// changes, SRE actions, Prometheus answers (pass, fail, no data, error), pods
// that take time, never become ready or crash, an autoscaler changing the
// total, and spec.paused. Every reconcile of every history is checked. A
// failing history is shrunk and printed; keep it as a case in the table at
// the end.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ModelDeployment, modelDeploymentStatusSchema } from "../api/index.ts";
import {
  age,
  type PodLife,
  type PromAnswer,
  reconcile,
  rolloutWorld,
  setSpec,
} from "../testing/rollout-world.ts";
import { runSpecs } from "./analyses.ts";
import { stepRollout } from "./engine.ts";
import type { ManualAction, RolloutDecision, RolloutInput, RouterKind, Traffic } from "./types.ts";

const VERSIONS = ["v1", "v2", "v3"] as const;

type Event =
  | { t: "wait"; ms: number }
  | { t: "version"; v: string }
  | { t: "action"; verb: ManualAction["verb"] }
  | { t: "prometheus"; answer: PromAnswer }
  | { t: "replicas"; n: number }
  | { t: "paused"; paused: boolean };

const analysisArb = fc.record({
  interval: fc.constantFrom("30s", "1m"),
  count: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
  failureLimit: fc.constantFrom(0, 1),
  inconclusiveLimit: fc.constantFrom(0, 1),
  metrics: fc.constant([]),
});
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const delays = { scaleDownDelaySeconds: 30, abortScaleDownDelaySeconds: 120 };

const stepArb = fc.oneof(
  fc.integer({ min: 0, max: 100 }).map((setWeight) => ({ setWeight })),
  fc.constantFrom({ pause: { duration: "30s" } }, { pause: { duration: "2m" } }, { pause: {} }),
  analysisArb.map((analysis) => ({ analysis })),
  fc.constantFrom(
    { setHeaderRoute: { match: [{ header: "x-cohort", value: "beta" }] } },
    { setHeaderRoute: { match: [] } },
  ),
);

const strategyArb: fc.Arbitrary<ModelDeployment["spec"]["strategy"]> = fc.oneof(
  fc.constant(undefined),
  fc.record({
    canary: fc.record({
      steps: fc.array(stepArb, { minLength: 1, maxLength: 6 }),
      analysis: optional(analysisArb),
      postPromotionAnalysis: optional(analysisArb),
      ...constants(delays),
    }),
  }),
  fc.record({
    blueGreen: fc.record({
      autoPromotionEnabled: fc.boolean(),
      autoPromotionSeconds: optional(fc.constantFrom(0, 60)),
      prePromotionAnalysis: optional(analysisArb),
      postPromotionAnalysis: optional(analysisArb),
      ...constants(delays),
    }),
  }),
  fc.record({
    shadow: fc.record({
      mirrorPercent: fc.integer({ min: 1, max: 100 }),
      duration: optional(fc.constantFrom("1m", "3m")),
      analysis: optional(analysisArb),
      ...constants(delays),
    }),
  }),
) as fc.Arbitrary<ModelDeployment["spec"]["strategy"]>;

function constants<T extends Record<string, unknown>>(o: T) {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, fc.constant(v)])) as {
    [K in keyof T]: fc.Arbitrary<T[K]>;
  };
}

const podLifeArb: fc.Arbitrary<PodLife> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.integer({ min: 0, max: 3 }).map((afterTicks) => ({ kind: "ready" as const, afterTicks })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "neverReady" as const }) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 6 }).map((afterTicks) => ({ kind: "crashes" as const, afterTicks })),
  },
);

const eventArb: fc.Arbitrary<Event> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.integer({ min: 1, max: 180 }).map((s) => ({ t: "wait" as const, ms: s * 1000 })),
  },
  { weight: 2, arbitrary: fc.constantFrom(...VERSIONS).map((v) => ({ t: "version" as const, v })) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom("promote", "promote-full", "abort", "retry", "undo")
      .map((verb) => ({ t: "action" as const, verb: verb as ManualAction["verb"] })),
  },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom<PromAnswer>("pass", "fail", "noData", "error")
      .map((answer) => ({ t: "prometheus" as const, answer })),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 6 }).map((n) => ({ t: "replicas" as const, n })) },
  { weight: 1, arbitrary: fc.boolean().map((paused) => ({ t: "paused" as const, paused })) },
);

const scenarioArb = fc.record({
  strategy: strategyArb,
  router: fc.constantFrom<RouterKind>("replicas", "gatewayAPI", "istio"),
  replicas: fc.integer({ min: 1, max: 5 }),
  lives: fc.tuple(podLifeArb, podLifeArb, podLifeArb),
  events: fc.array(eventArb, { minLength: 5, maxLength: 40 }),
});
type Scenario = typeof scenarioArb extends fc.Arbitrary<infer S> ? S : never;

function mdep(s: Scenario): ModelDeployment {
  return {
    apiVersion: "modelops.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: "iris", namespace: "ml", uid: "u1", generation: 1 },
    spec: {
      modelVersion: "v1",
      replicas: s.replicas,
      paused: false,
      progressDeadlineSeconds: 300,
      strategy: s.strategy,
    },
  } as ModelDeployment;
}

/** Ready pods each revision needs for the share of client traffic it gets. */
function requiredReady(traffic: Traffic, router: RouterKind, total: number): Map<string, number> {
  const need = new Map<string, number>();
  const { stableRevision, canaryRevision, canaryWeight } = traffic;
  const share = (pct: number) => (pct > 0 ? Math.max(1, Math.ceil((total * pct) / 100)) : 0);
  if (router === "replicas") {
    // One Service: it selects the stable revision, both (a replica-ratio
    // split, where only ready pods get requests), or the canary alone.
    if (canaryRevision && canaryWeight >= 100) need.set(canaryRevision, total);
    else if (stableRevision) need.set(stableRevision, canaryRevision && canaryWeight > 0 ? 0 : total);
    return need;
  }
  if (stableRevision) need.set(stableRevision, share(100 - (canaryRevision ? canaryWeight : 0)));
  // A header route sends its cohort to the canary whatever the weight: one ready pod at least.
  const cohort = traffic.headerRoute.length > 0 ? 1 : 0;
  if (canaryRevision)
    need.set(canaryRevision, Math.max(need.get(canaryRevision) ?? 0, share(canaryWeight), cohort));
  return need;
}

type Checker = {
  prevTraffic: Traffic | undefined;
  rolloutRevision: string | undefined;
  manualPromote: boolean;
  passedSteps: Set<number>;
};

type Step = { input: RolloutInput; d: RolloutDecision; action: ManualAction | undefined };

function check(s: Scenario, c: Checker, step: Step, world: { pods: Map<string, unknown> }): void {
  sameDecisionTwice(step); // (f)
  fitsTheCrd(step.d); // (d)
  trafficMovesToReadyPods(s, c, step); // (a)
  stableAtFullSize(step); // (c)
  promotedOnlyAfterAnalyses(c, step); // (b)
  onlyKnownRevisionsRun(step.d, world); // (e)
  headerRouteOnlyDuringARollout(s, step.d); // (g)
}

/** (g) a header route exists only with a canary to send it to, and never on the replicas router. */
function headerRouteOnlyDuringARollout(s: Scenario, d: RolloutDecision): void {
  if (d.traffic.headerRoute.length === 0) return;
  if (s.router === "replicas")
    throw new Error("a header route on the replicas router, which cannot match headers");
  if (!d.traffic.canaryRevision || d.status.phase === "RolledBack")
    throw new Error(`a header route without a rollout in progress (phase ${d.status.phase})`);
}

/** (f) the same input gives the same decision, and the input is not changed. */
function sameDecisionTwice({ input, d }: Step): void {
  const before = JSON.stringify(input.mdep);
  expect(stepRollout(input)).toEqual(d);
  expect(JSON.stringify(input.mdep)).toBe(before);
}

/** (d) status fits every CRD limit. */
function fitsTheCrd(d: RolloutDecision): void {
  const parsed = modelDeploymentStatusSchema.safeParse(d.status);
  if (!parsed.success) throw new Error(`status does not fit the CRD: ${parsed.error.message}`);
}

/**
 * (a) traffic moves only to revisions with ready pods for their share. When
 * nothing that served had a ready pod, there was no service to protect.
 * Traffic going back to the same stable revision (abort, a cancelled or
 * superseded canary) is never held back: an abort always fires, and the
 * stable revision is kept at full size (c) for it.
 */
function trafficMovesToReadyPods(s: Scenario, c: Checker, { input, d }: Step): void {
  const total = input.mdep.spec.replicas ?? 1;
  const was = c.prevTraffic ? requiredReady(c.prevTraffic, s.router, total) : new Map<string, number>();
  const servedBefore = [...was.keys()].some((rev) => (input.revisions.get(rev)?.readyReplicas ?? 0) > 0);
  if (servedBefore) {
    for (const [rev, need] of requiredReady(d.traffic, s.router, total)) {
      const ready = input.revisions.get(rev)?.readyReplicas ?? 0;
      const backToStable = rev === d.traffic.stableRevision && rev === c.prevTraffic?.stableRevision;
      if (!backToStable && need > (was.get(rev) ?? 0) && ready < need)
        throw new Error(`traffic moved to ${rev} with ${ready} ready pods; its share needs ${need}`);
    }
  }
  c.prevTraffic = d.traffic;
}

/** (c) the stable revision stays at full size while a rollout is undecided. */
function stableAtFullSize({ input, d }: Step): void {
  const st = d.status;
  const total = input.mdep.spec.replicas ?? 1;
  if (!st.canaryRevision || st.phase === "RolledBack" || !st.stableRevision) return;
  const planned = d.replicas.get(st.stableRevision) ?? 0;
  if (planned < total)
    throw new Error(`stable ${st.stableRevision} planned at ${planned} of ${total} during a rollout`);
}

/**
 * (b) promoted only after every analysis of the rollout passed: each step's
 * analysis Successful before its step ended; a background, pre-promotion or
 * shadow analysis Successful, or still measuring with a successful latest
 * measurement and no error streak. Written here again, not imported from the
 * engine, so the oracle does not share the code it checks. An SRE's promote
 * skips analyses by design.
 */
function promotedOnlyAfterAnalyses(c: Checker, { input, d, action }: Step): void {
  const was = input.mdep.status;
  if (was?.canaryRevision !== c.rolloutRevision) {
    c.rolloutRevision = was?.canaryRevision;
    c.manualPromote = false;
    c.passedSteps = new Set();
  }
  if (action?.verb === "promote" || action?.verb === "promote-full") c.manualPromote = true;
  const specs = runSpecs(input.mdep);
  for (const run of was?.analysisRuns ?? []) {
    const id = specs.get(run.name)?.id;
    if (id?.kind === "step" && run.phase === "Successful" && run.revision === was?.canaryRevision)
      c.passedSteps.add(id.index);
  }
  const record = d.status.history?.[0];
  const isNew = record && JSON.stringify(record) !== JSON.stringify(was?.history?.[0]);
  if (!isNew || record.result !== "Promoted" || c.manualPromote) return;
  for (const [name, spec] of specs) {
    if (spec.id.kind === "postPromotion") continue;
    const run = was?.analysisRuns?.find((r) => r.name === name && r.revision === record.revision);
    const passed =
      spec.id.kind === "step"
        ? c.passedSteps.has(spec.id.index)
        : run?.phase === "Successful" ||
          (run?.phase === "Running" &&
            (run.consecutiveErrors ?? 0) === 0 &&
            run.measurements?.at(-1)?.phase === "Successful");
    if (!passed)
      throw new Error(
        `promoted ${record.version} although analysis ${name} had not passed: ${JSON.stringify(run)}`,
      );
  }
}

/** (e) every revision that runs is stable, canary, retiring, or the previous one coming back or guarded. */
function onlyKnownRevisionsRun(d: RolloutDecision, world: { pods: Map<string, unknown> }): void {
  const st = d.status;
  const allowed = new Set([
    st.stableRevision,
    st.canaryRevision,
    st.restoring?.revision,
    ...(st.retiringRevisions ?? []).map((r) => r.revision),
  ]);
  if (st.analysisRuns?.some((r) => r.name === "postPromotion")) allowed.add(st.previousRevision);
  for (const rev of world.pods.keys()) {
    if (!allowed.has(rev)) throw new Error(`revision ${rev} runs but is neither stable, canary nor retiring`);
  }
}

/** One line per reconcile, for replaying a counterexample with SAFETY_TRACE=1 SAFETY_SEED=... */
function traceLine(
  now: number,
  action: ManualAction | undefined,
  d: RolloutDecision,
  w: { pods: Map<string, { ready: number; replicas: number }> },
): string {
  const st = d.status;
  const pods = [...w.pods].map(([r, p]) => `${r}:${p.ready}/${p.replicas}`).join(" ");
  const runs = (st.analysisRuns ?? []).map((r) => `${r.name}=${r.phase}`).join(",");
  return `t=${now / 1000 - 1767225600}s ${action?.verb ?? ""} phase=${st.phase} stage=${st.stage ?? "-"} stable=${st.stableRevision} canary=${st.canaryRevision ?? "-"} w=${d.traffic.canaryWeight} restoring=${st.restoring?.revision ?? "-"} retiring=${(st.retiringRevisions ?? []).map((r) => r.revision)} runs=${runs} delete=${d.deleteRevisions} pods=[${pods}] msg=${st.message}`;
}

function play(s: Scenario): void {
  const lives = new Map(VERSIONS.map((v, i) => [v, s.lives[i] as PodLife]));
  const w = rolloutWorld(mdep(s), s.router, lives);
  const c: Checker = {
    prevTraffic: undefined,
    rolloutRevision: undefined,
    manualPromote: false,
    passedSteps: new Set(),
  };
  let n = 0;
  const step = (action?: ManualAction) => {
    const { input, decision } = reconcile(w, action);
    if (process.env.SAFETY_TRACE) console.log(traceLine(w.now, action, decision, w));
    check(s, c, { input, d: decision, action }, w);
  };
  step();
  for (const e of s.events) {
    if (e.t === "wait") age(w, e.ms);
    else if (e.t === "version") setSpec(w, { modelVersion: e.v });
    else if (e.t === "prometheus") w.prometheus = e.answer;
    else if (e.t === "replicas") setSpec(w, { replicas: e.n });
    else if (e.t === "paused") setSpec(w, { paused: e.paused });
    step(e.t === "action" ? { verb: e.verb, value: `${e.verb}@${n++}` } : undefined);
  }
}

describe("rollout safety properties", () => {
  it("hold over 10,000 random histories", () => {
    const seed = process.env.SAFETY_SEED ? Number(process.env.SAFETY_SEED) : undefined;
    fc.assert(fc.property(scenarioArb, play), {
      numRuns: Number(process.env.SAFETY_RUNS ?? 10_000),
      ...(seed === undefined ? {} : { seed, path: process.env.SAFETY_PATH, endOnFailure: true }),
    });
  }, 300_000);
});

// Histories the suite found and shrank, replayed for good.
const delaysOf = { scaleDownDelaySeconds: 30, abortScaleDownDelaySeconds: 120 };
const found: [string, Scenario][] = [
  [
    "a new version during the post-promotion guard left the guarded revision running",
    {
      strategy: {
        canary: {
          steps: [{ setWeight: 0 }],
          postPromotionAnalysis: { interval: "30s", failureLimit: 0, inconclusiveLimit: 0, metrics: [] },
          ...delaysOf,
        },
      } as never,
      router: "replicas",
      replicas: 1,
      lives: [
        { kind: "ready", afterTicks: 0 },
        { kind: "crashes", afterTicks: 1 },
        { kind: "ready", afterTicks: 0 },
      ],
      events: [
        { t: "version", v: "v3" },
        { t: "wait", ms: 1000 },
        { t: "wait", ms: 1000 },
        { t: "version", v: "v2" },
        { t: "prometheus", answer: "pass" },
      ],
    },
  ],
  [
    "a superseding canary inherited the previous canary's weight on a mesh router before its pods were ready",
    {
      strategy: {
        canary: {
          steps: [{ setWeight: 1 }],
          analysis: { interval: "30s", failureLimit: 0, inconclusiveLimit: 0, metrics: [] },
          ...delaysOf,
        },
      } as never,
      router: "istio",
      replicas: 1,
      lives: [{ kind: "ready", afterTicks: 0 }, { kind: "ready", afterTicks: 0 }, { kind: "neverReady" }],
      events: [
        { t: "version", v: "v2" },
        { t: "wait", ms: 1000 },
        { t: "version", v: "v3" },
        { t: "version", v: "v1" },
        { t: "wait", ms: 1000 },
      ],
    },
  ],
  [
    "a promote past a setWeight step sent its weight to pods that were not ready",
    {
      strategy: {
        canary: {
          steps: [{ setWeight: 68 }],
          analysis: { interval: "1m", count: 2, failureLimit: 1, inconclusiveLimit: 0, metrics: [] },
          ...delaysOf,
        },
      } as never,
      router: "gatewayAPI",
      replicas: 3,
      lives: [
        { kind: "ready", afterTicks: 2 },
        { kind: "ready", afterTicks: 0 },
        { kind: "ready", afterTicks: 1 },
      ],
      events: [
        { t: "version", v: "v2" },
        { t: "wait", ms: 106000 },
        { t: "version", v: "v1" },
        { t: "action", verb: "promote" },
        { t: "wait", ms: 49000 },
      ],
    },
  ],
];

describe("histories the property suite found", () => {
  it.each(found)("%s", (_what, scenario) => play(scenario));
});
