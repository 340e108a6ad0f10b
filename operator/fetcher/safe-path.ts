// Every name that becomes a path under the destination (an archive entry, an
// S3 key below the prefix) goes through here: a hostile artifact must not
// write outside the directory the model server reads.
import { posix } from "node:path";
import { FetchError } from "./http.ts";

/**
 * The normalised relative POSIX path for an entry name, or a FetchError when
 * the name is absolute, contains "..", a NUL or a backslash-drive, or is empty.
 * `what` names the artifact in the message.
 */
export function safeRelativePath(name: string, what: string): string {
  const bad = (why: string) => new FetchError(`${what}: refusing entry ${JSON.stringify(name)}: ${why}`);
  if (name.includes("\0")) throw bad("NUL in name");
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name) || name.startsWith("\\")) throw bad("absolute path");
  const parts = name.replace(/\\/g, "/").split("/");
  if (parts.includes("..")) throw bad("'..' would escape the destination");
  const rel = posix.normalize(parts.filter((p) => p !== "" && p !== ".").join("/"));
  if (rel === "" || rel === ".") throw bad("empty path");
  return rel;
}

/**
 * Whether a symlink at relative path `linkPath` pointing to `target` stays
 * inside the root (resolved lexically, as the link would be followed).
 */
export function symlinkStaysInside(linkPath: string, target: string): boolean {
  if (target.startsWith("/") || target.includes("\0")) return false;
  const resolved = posix.normalize(posix.join(posix.dirname(linkPath), target));
  return resolved !== ".." && !resolved.startsWith("../") && !posix.isAbsolute(resolved);
}
