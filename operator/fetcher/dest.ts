// The destination is the shared volume's mount point, which cannot itself be
// renamed; the artifact is built in DEST/.partial and its entries are moved
// up only after verification. The model server container starts only after
// this init container succeeded, and a restarted init container first
// removes whatever an earlier attempt left (complete or not), so a model
// server never reads a half-written or unverified model.
import { mkdir, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";

export const PARTIAL = ".partial";

/** Empties dest (leftovers of earlier attempts) and returns a fresh work directory inside it. */
export async function prepare(dest: string): Promise<string> {
  await mkdir(dest, { recursive: true });
  for (const name of await readdir(dest)) await rm(join(dest, name), { recursive: true, force: true });
  const work = join(dest, PARTIAL);
  await mkdir(work);
  return work;
}

/** Moves the verified contents of the work directory into dest and removes it. */
export async function commit(dest: string, work: string): Promise<void> {
  for (const name of await readdir(work)) await rename(join(work, name), join(dest, name));
  await rm(work, { recursive: true, force: true });
}

/** Removes the work directory after a failure (best effort: a restart cleans up anyway). */
export async function abandon(work: string): Promise<void> {
  await rm(work, { recursive: true, force: true }).catch(() => {});
}
