// How a model artifact reaches the serving container. Kept pure so the
// ModelVersion reconciler (which validates) and the workload builder (which
// mounts) agree on one table.

export type ArtifactLocation =
  | { kind: "pvc"; claimName: string; subPath: string }
  | { kind: "file"; path: string }
  /** Downloaded by the fetcher init container into the model volume. */
  | { kind: "fetched"; uri: string; scheme: FetchedScheme }
  /** A scheme only a custom runtime can load, by itself. */
  | { kind: "remote"; uri: string; scheme: string };

/** Schemes the artifact fetcher (operator/fetcher/) downloads; "models" is MLflow's registry. */
export const FETCHED_SCHEMES = ["s3", "https", "http", "models"] as const;
export type FetchedScheme = (typeof FETCHED_SCHEMES)[number];

/** Where the serving container finds a mounted artifact (defined with the API, which keeps users off it). */
export { MODEL_MOUNT_PATH } from "../api/contract.ts";

export function parseArtifactUri(uri: string): ArtifactLocation | { error: string } {
  if (uri.startsWith("models:/")) return { kind: "fetched", uri, scheme: "models" };
  const match = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/.exec(uri);
  if (!match) return { error: `artifact uri "${uri}" has no scheme; write it as scheme://location` };
  const scheme = match[1] as string;
  const rest = match[2] as string;
  if (scheme === "pvc") {
    const [claimName, ...path] = rest.split("/");
    if (!claimName)
      return { error: `artifact uri "${uri}" names no PersistentVolumeClaim; use pvc://<claim>/<path>` };
    return { kind: "pvc", claimName, subPath: path.join("/") };
  }
  if (scheme === "file") {
    if (!rest.startsWith("/"))
      return { error: `artifact uri "${uri}" must be an absolute path: file:///path/in/image` };
    return { kind: "file", path: rest };
  }
  if ((FETCHED_SCHEMES as readonly string[]).includes(scheme))
    return { kind: "fetched", uri, scheme: scheme as FetchedScheme };
  return { kind: "remote", uri, scheme };
}

/**
 * Built-in runtimes read the model from a local path: a mounted, baked-in or
 * fetched artifact. A `custom` runtime also takes any other scheme in
 * MODEL_URI and loads it itself.
 */
export function runtimeAcceptsArtifact(runtime: string, location: ArtifactLocation): boolean {
  return runtime === "custom" || location.kind !== "remote";
}
