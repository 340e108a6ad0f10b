// Reading what a DriftMonitor compares: the reference of the ModelVersion
// serving (inline, or from the ConfigMap it names) and the live distribution
// of each feature over the window, from Prometheus. Failures come back as
// messages for status; nothing here throws for a user's mistake.
import yaml from "js-yaml";
import type { MetricProvider } from "../../analysis/provider.ts";
import { escapePromQLString, formatPromDuration } from "../../analysis/queries.ts";
import { parseDurationMs } from "../../api/common.ts";
import type { DRIFT_QUERY_PLACEHOLDERS, DriftMonitor, ModelVersion } from "../../api/index.ts";
import {
  FEATURE_CATEGORY_TOTAL,
  FEATURE_VALUE,
  PREDICTION_CATEGORY_TOTAL,
  PREDICTION_VALUE,
} from "../../api/metric-names.ts";
import { referenceSchema } from "../../api/modelversion.ts";
import { type AlignResult, alignCategories, alignHistogram } from "../../drift/align.ts";
import type { FeatureInput } from "../../drift/evaluate.ts";
import { isNotFound } from "../../runtime/kube.ts";
import type { ReconcileDeps } from "../context.ts";

type FeatureReference = NonNullable<NonNullable<ModelVersion["spec"]["reference"]>["features"]>[number];
export type Kind = FeatureInput["kind"];
export type ReferenceSet = {
  sampleSize?: number | undefined;
  features: FeatureReference[];
  predictions: FeatureReference[];
};
export type Failure = { reason: string; message: string };

/** The version's reference; a configMapRef is merged in, inline entries winning on a name clash. */
export async function resolveReference(
  deps: ReconcileDeps,
  mv: ModelVersion,
): Promise<{ reference: ReferenceSet } | Failure> {
  const inline = mv.spec.reference;
  const reference: ReferenceSet = {
    sampleSize: inline?.sampleSize,
    features: [...(inline?.features ?? [])],
    predictions: [...(inline?.predictions ?? [])],
  };
  const ref = inline?.configMapRef;
  if (ref) {
    const loaded = await loadConfigMapReference(deps, mv.metadata.namespace ?? "", ref);
    if ("reason" in loaded) return loaded;
    const merge = (own: FeatureReference[], extra: FeatureReference[] | undefined) =>
      own.concat((extra ?? []).filter((e) => !own.some((o) => o.name === e.name)));
    reference.features = merge(reference.features, loaded.features);
    reference.predictions = merge(reference.predictions, loaded.predictions);
    reference.sampleSize ??= loaded.sampleSize;
  }
  if (reference.features.length + reference.predictions.length === 0) {
    return {
      reason: "NoReference",
      message: `ModelVersion ${mv.metadata.name} has no spec.reference distributions to compare with; compute them with hack/drift/reference.ts`,
    };
  }
  return { reference };
}

async function loadConfigMapReference(
  deps: ReconcileDeps,
  namespace: string,
  ref: { name: string; key: string },
): Promise<Partial<ReferenceSet> | Failure> {
  const where = `ConfigMap ${ref.name} key ${ref.key}`;
  try {
    const cm = await deps.kube.get({ apiVersion: "v1", kind: "ConfigMap", namespace, name: ref.name });
    const text = (cm.data as Record<string, string> | undefined)?.[ref.key];
    if (text === undefined) return { reason: "ReferenceNotFound", message: `${where} does not exist` };
    return parseConfigMapReference(text, where);
  } catch (err) {
    if (isNotFound(err)) return { reason: "ReferenceNotFound", message: `${where}: ConfigMap not found` };
    throw err;
  }
}

// The inline reference's own schema (the CRD checks that one at apply time;
// nothing checks a ConfigMap's text until it is read here).
const configMapReferenceSchema = referenceSchema.omit({ configMapRef: true }).strict();

/** The reference in a ConfigMap's text, checked as strictly as an inline one; InvalidReference says where it is wrong. */
export function parseConfigMapReference(text: string, where: string): Partial<ReferenceSet> | Failure {
  let parsed: unknown;
  try {
    parsed = yaml.load(text);
  } catch (err) {
    return { reason: "InvalidReference", message: `${where} is not JSON or YAML: ${(err as Error).message}` };
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    return { reason: "InvalidReference", message: `${where} is not a {features, predictions} object` };
  }
  // hack/drift/reference.ts prints {reference: {...}}, ready to paste under spec; its output as is works too.
  const keys = Object.keys(parsed);
  const body =
    keys.length === 1 && keys[0] === "reference" ? (parsed as { reference: unknown }).reference : parsed;
  const checked = configMapReferenceSchema.safeParse(body);
  if (!checked.success) {
    const issues = checked.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`)
      .join("; ");
    return {
      reason: "InvalidReference",
      message: `${where} is not a valid reference: ${issues}`.slice(0, 1024),
    };
  }
  return checked.data as Partial<ReferenceSet>;
}

export interface SeriesContext {
  namespace: string;
  /** The ModelDeployment. */
  name: string;
  version: string;
  window: string;
}

/** PromQL for the live distribution of one feature or prediction. */
export function liveQuery(ref: FeatureReference, kind: Kind, ctx: SeriesContext, custom?: string): string {
  const window = formatPromDuration(parseDurationMs(ctx.window));
  if (custom) {
    const fill: Record<keyof typeof DRIFT_QUERY_PLACEHOLDERS, string> = {
      namespace: ctx.namespace,
      name: ctx.name,
      version: ctx.version,
      window,
    };
    return custom.replace(/\{\{(\w+)\}\}/g, (whole, key: string) =>
      Object.hasOwn(fill, key) ? fill[key as keyof typeof fill] : whole,
    );
  }
  const label = kind === "Feature" ? "feature" : "output";
  const selector = [
    ["namespace", ctx.namespace],
    ["deployment", ctx.name],
    ["version", ctx.version],
    [label, ref.name],
  ]
    .map(([k, v]) => `${k}="${escapePromQLString(v as string)}"`)
    .join(",");
  if (ref.type === "numeric") {
    const metric = kind === "Feature" ? FEATURE_VALUE : PREDICTION_VALUE;
    return `sum by (le) (increase(${metric}_bucket{${selector}}[${window}]))`;
  }
  const metric = kind === "Feature" ? FEATURE_CATEGORY_TOTAL : PREDICTION_CATEGORY_TOTAL;
  return `sum by (category) (increase(${metric}{${selector}}[${window}]))`;
}

export type Selected = {
  ref: FeatureReference;
  kind: Kind;
  settings?: NonNullable<DriftMonitor["spec"]["features"]>[number];
};

/** What to compare: the listed features, or every reference feature (and prediction). */
export function selectFeatures(
  dm: DriftMonitor,
  reference: ReferenceSet,
): { selected: Selected[]; missing: string[] } {
  const all: Selected[] = [
    ...reference.features.map((ref) => ({ ref, kind: "Feature" as const })),
    ...(dm.spec.predictions === false
      ? []
      : reference.predictions.map((ref) => ({ ref, kind: "Prediction" as const }))),
  ];
  const listed = dm.spec.features;
  if (!listed || listed.length === 0) return { selected: all, missing: [] };
  const everything = [
    ...reference.features.map((ref) => ({ ref, kind: "Feature" as const })),
    ...reference.predictions.map((ref) => ({ ref, kind: "Prediction" as const })),
  ];
  const selected: Selected[] = [];
  const missing: string[] = [];
  for (const settings of listed) {
    const found = everything.find((s) => s.ref.name === settings.name);
    if (found) selected.push({ ...found, settings });
    else missing.push(settings.name);
  }
  // Predictions are compared unless switched off, even when only some features are listed.
  if (dm.spec.predictions !== false) {
    for (const p of all.filter(
      (s) => s.kind === "Prediction" && !selected.some((x) => x.ref.name === s.ref.name),
    ))
      selected.push(p);
  }
  return { selected, missing };
}

/** Live counts aligned with the reference, or the reason they cannot be read. */
export async function readLive(
  prometheus: MetricProvider,
  s: Selected,
  ctx: SeriesContext,
  signal?: AbortSignal,
): Promise<{ input: FeatureInput } | { queryError: string } | { problem: string }> {
  if (!prometheus.queryVector) return { queryError: "the Prometheus provider cannot return vectors" };
  const query = liveQuery(s.ref, s.kind, ctx, s.settings?.query);
  const result = await prometheus.queryVector(query, signal ? { signal } : {});
  if (result.kind === "error") return { queryError: result.message };
  let aligned: AlignResult;
  if (s.ref.type === "numeric") {
    const cumulative = new Map<number, number>();
    for (const sample of result.samples) {
      const le = sample.labels.le;
      if (le === undefined) return { problem: `the query's series have no "le" label: ${query}` };
      cumulative.set(le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le), sample.value);
    }
    aligned = alignHistogram(s.ref.edges ?? [], s.ref.fractions ?? [], cumulative);
  } else {
    const counts = new Map<string, number>();
    for (const sample of result.samples) {
      const category = sample.labels.category;
      if (category === undefined) return { problem: `the query's series have no "category" label: ${query}` };
      counts.set(category, (counts.get(category) ?? 0) + sample.value);
    }
    aligned = { ok: true, value: alignCategories(s.ref.categories ?? {}, counts) };
  }
  if (!aligned.ok) return { problem: aligned.message };
  return {
    input: {
      name: s.ref.name,
      kind: s.kind,
      type: s.ref.type,
      ...aligned.value,
      method: s.settings?.method,
      warning: s.settings?.warning,
      critical: s.settings?.critical,
    },
  };
}
