// Test support: the apiserver's optimistic concurrency for the fake apiserver,
// which otherwise accepts any write. A patch or apply that names a
// metadata.resourceVersion succeeds only if it is the object's current one.
import type { KubeObject } from "../runtime/types.ts";
import { type FakeApiServer, sendStatus } from "./fake-apiserver.ts";

export function enforceResourceVersion(fake: FakeApiServer): void {
  fake.interceptors.push((req, res) => {
    if (req.method !== "PATCH") return false;
    const expected = (req.body as KubeObject | undefined)?.metadata?.resourceVersion;
    const current = expected ? fake.getObject(req.path) : undefined;
    if (!current || current.metadata?.resourceVersion === expected) return false;
    sendStatus(
      res,
      409,
      "Conflict",
      `Operation cannot be fulfilled on "${current.metadata?.name}": the object has been modified; please apply your changes to the latest version and try again`,
    );
    return true;
  });
}
