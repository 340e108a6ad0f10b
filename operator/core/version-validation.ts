// What a ModelVersion's schema cannot check: that its runtime can load the
// artifact and that its reference distributions are distributions.
import type { ModelVersion } from "../api/index.ts";
import { parseArtifactUri, runtimeAcceptsArtifact } from "./artifact.ts";

export type ValidationProblem = { reason: string; message: string };

/** Fractions may be rounded when written by hand or by tools. */
const SUM_TOLERANCE = 1e-3;

/** What the operator was started with that a ModelVersion may rely on. */
export type VersionDefaults = {
  /** --mlflow-tracking-uri: the MLflow server of models:/ artifacts that name none. */
  mlflowTrackingUri?: string | undefined;
};

export function validateModelVersion(mv: ModelVersion, defaults: VersionDefaults = {}): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const location = parseArtifactUri(mv.spec.artifact.uri);
  if ("error" in location) {
    problems.push({ reason: "InvalidArtifactURI", message: location.error });
  } else if (!runtimeAcceptsArtifact(mv.spec.runtime.name, location)) {
    problems.push({
      reason: "UnsupportedArtifactScheme",
      message:
        `runtime ${mv.spec.runtime.name} loads models from a local path, and the operator cannot download ` +
        `${"scheme" in location ? location.scheme : location.kind}:// artifacts; use pvc://, file:///, s3://, https:// or models:/ ` +
        "(or runtime.name custom to load other schemes yourself)",
    });
  } else if (
    location.kind === "fetched" &&
    location.scheme === "models" &&
    !mv.spec.artifact.mlflow?.trackingUri &&
    !defaults.mlflowTrackingUri
  ) {
    problems.push({
      reason: "MLflowTrackingURIMissing",
      message:
        "spec.artifact.uri is an MLflow registry version but no tracking server is known: set " +
        "spec.artifact.mlflow.trackingUri in a new ModelVersion, or start the operator with --mlflow-tracking-uri",
    });
  }
  const reference = mv.spec.reference;
  const groups = [
    ["spec.reference.features", reference?.features ?? []],
    ["spec.reference.predictions", reference?.predictions ?? []],
  ] as const;
  const wrong: ValidationProblem[] = [];
  for (const [path, features] of groups) {
    features.forEach((feature, i) => {
      wrong.push(...validateDistribution(`${path}[${i}] (${feature.name})`, feature));
    });
  }
  problems.push(...wrong.slice(0, MAX_REFERENCE_PROBLEMS));
  if (wrong.length > MAX_REFERENCE_PROBLEMS) {
    problems.push({
      reason: "InvalidReference",
      message: `and ${wrong.length - MAX_REFERENCE_PROBLEMS} more problems in spec.reference`,
    });
  }
  return problems;
}

/**
 * The problems become one status message (at most 32768 characters, or the
 * apiserver refuses the whole status), and a ModelDeployment's condition
 * quotes it; 512 wrong reference entries would exceed it, so the first few
 * are named and the rest counted.
 */
const MAX_REFERENCE_PROBLEMS = 10;

type Distribution = {
  edges?: number[] | undefined;
  fractions?: number[] | undefined;
  categories?: Record<string, number> | undefined;
};

function validateDistribution(where: string, d: Distribution): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const edges = d.edges ?? [];
  for (let i = 1; i < edges.length; i++) {
    if (!((edges[i] as number) > (edges[i - 1] as number))) {
      problems.push({
        reason: "InvalidReference",
        message: `${where}: edges must be strictly ascending (edge ${i})`,
      });
      break;
    }
  }
  const fractions = d.fractions ?? Object.values(d.categories ?? {});
  if (fractions.length === 0) return problems;
  if (fractions.some((f) => !(f >= 0 && f <= 1))) {
    problems.push({ reason: "InvalidReference", message: `${where}: every fraction must be within [0, 1]` });
  }
  const sum = fractions.reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 1) > SUM_TOLERANCE) {
    problems.push({
      reason: "InvalidReference",
      message: `${where}: fractions sum to ${sum.toFixed(4)}, not 1; recompute the reference (hack/ tools do this)`,
    });
  }
  return problems;
}
