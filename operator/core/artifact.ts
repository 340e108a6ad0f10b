// How a model artifact reaches the serving container. Kept pure so the
// ModelVersion reconciler (which validates) and the workload builder (which
// mounts) agree on one table.

export type ArtifactLocation =
  | { kind: "pvc"; claimName: string; subPath: string }
  | { kind: "file"; path: string }
  | { kind: "remote"; uri: string; scheme: string };

/** Where the serving container finds a mounted artifact. */
export const MODEL_MOUNT_PATH = "/mnt/models";

export function parseArtifactUri(uri: string): ArtifactLocation | { error: string } {
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
  return { kind: "remote", uri, scheme };
}

/**
 * Schemes each runtime can load by itself. Built-in runtimes read the model
 * from a local path, so only mounted (pvc) or baked-in (file) artifacts work;
 * a `custom` runtime receives the URI in MODEL_URI and loads it itself.
 */
export function runtimeAcceptsArtifact(runtime: string, location: ArtifactLocation): boolean {
  if (runtime === "custom") return true;
  return location.kind === "pvc" || location.kind === "file";
}
