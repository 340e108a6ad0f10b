// Level-triggered and quiet: once converged, full resyncs reconcile every
// object again and write nothing. Writes are counted in the apiserver's audit
// log, where the operator has a user of its own.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../hack/localcluster/kubectl.ts";
import type { RunningManager } from "../operator/manager.ts";
import { metricValue } from "../operator/runtime/metrics.ts";
import { auditEvents } from "./harness/audit.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { startInProcess } from "./harness/operator.ts";

const RESYNC_MS = 2_000;
let ns: TestNamespace;
let operator: RunningManager;

async function reconciles(): Promise<number> {
  let total = 0;
  for (const controller of ["modelversion", "modeldeployment"]) {
    total +=
      (await metricValue(operator.registry, "controller_runtime_reconcile_total", {
        controller,
        result: "success",
      })) ?? 0;
  }
  return total;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("steady state", () => {
  beforeAll(async () => {
    ns = await createTestNamespace("resync", inject("kubeconfig"), inject("binDir"));
    operator = await startInProcess({
      kubeconfig: inject("operatorKubeconfig"),
      namespace: ns.name,
      resyncMs: RESYNC_MS,
    });
  });
  afterAll(async () => {
    await operator?.stop();
    await ns?.delete();
  });

  it("makes zero write requests during full resyncs after convergence", async () => {
    // Quantities in a form the apiserver rewrites ("0.2" is stored as "200m"):
    // the operator must not take that for a difference worth a write.
    const manifest = readFileSync("config/samples/modeldeployment.yaml", "utf8")
      .replace("cpu: 200m", 'cpu: "0.2"')
      .replace("memory: 256Mi", 'memory: "0.25Gi"');
    expect(manifest).toContain('cpu: "0.2"');
    await ns.kubectlOk(["apply", "-f", "config/samples/modelversion.yaml"]);
    await ns.kubectlOk(["apply", "-f", "-"], manifest);
    await waitFor(
      async () => {
        const m = await ns.getJson<{ status?: { phase?: string } }>("mdep", "iris-classifier");
        return m?.status?.phase === "Available" ? true : undefined;
      },
      { timeoutMs: 60_000, description: "iris-classifier Available" },
    );
    const auditLog = inject("auditLogPath");
    const convergedWrites = auditEvents(auditLog, { since: new Date(0) }).filter(
      (e) => e.objectRef?.namespace === ns.name,
    );
    expect(convergedWrites.length).toBeGreaterThan(0); // the audit filter does see this operator's writes

    await sleep(RESYNC_MS); // let the last status write's own watch event be reconciled
    const since = new Date();
    const reconcilesBefore = await reconciles();
    await sleep(RESYNC_MS * 3 + 500);
    const until = new Date();
    const resynced = (await reconciles()) - reconcilesBefore;
    const writes = auditEvents(auditLog, { since, until }).filter((e) => e.objectRef?.namespace === ns.name);

    console.log(
      `[resync] ${resynced} reconciles in ${until.getTime() - since.getTime()} ms, ${writes.length} writes`,
    );
    expect(resynced).toBeGreaterThanOrEqual(6); // 2 objects x 3 resyncs: the resyncs really ran
    expect(writes.map((e) => `${e.verb} ${e.requestURI}`)).toEqual([]);
  });
});
