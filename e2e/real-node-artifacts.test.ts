// Stories on the real node with remote model artifacts: the fetch-model init
// container downloads the model from a real SeaweedFS (S3, signed requests)
// or a real MLflow registry, both bound to the host's end of the node's link
// (the only host address pods reach), before MLServer loads it; a wrong
// sha256 stops the canary before its model server starts and the rollout
// rolls back; and what the fetcher adds to a pod's start for a 50 MB model.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import type { V1Pod } from "@kubernetes/client-node";
import yaml from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MlflowServer, startMlflowServer } from "../hack/localcluster/mlflow-server.ts";
import { type RunningS3Server, startS3Server } from "../hack/localcluster/s3-server.ts";
import { FETCHER_CONTAINER, LABEL_DEPLOYMENT, LABEL_REVISION } from "../operator/api/contract.ts";
import { directorySha256, regularFiles } from "../operator/fetcher/checksum.ts";
import { POD_START_MS, type RealNodeWorld, report, startRealNodeWorld } from "./harness/real-node.ts";
import { type RolloutStatus, rolloutStatus, waitStatus } from "./harness/rollout.ts";

const root = resolve(import.meta.dirname, "..");
const run = promisify(execFile);
const BUCKET = "models";
const SECRET = "s3-reader";
/** The ModelDeployment of stories 1 to 3. */
const MDEP = "art";
const MLFLOW_VERSION = "iris-mlflow";
/** Who changes the ModelDeployment's version in stories 2 and 3 (server-side apply). */
const PIPELINE = "release-pipeline";
const strategy = `
canary:
  scaleDownDelaySeconds: 5
  steps:
  - setWeight: 50
  - pause: {duration: 15s}`;

let world: RealNodeWorld;
let dir: string;
let s3: RunningS3Server;
let mlflow: MlflowServer;
let smallModel: Timings | undefined;

/** An S3 ModelVersion: the iris sample's spec with the artifact in the bucket under `prefix`. */
function s3Version(name: string, version: string, prefix: string, sha256: string): string {
  const mv = JSON.parse(world.versionManifest(name, version, "logreg"));
  mv.spec.artifact = {
    uri: `s3://${BUCKET}/${prefix}`,
    format: "sklearn",
    sha256,
    secretRef: { name: SECRET },
    s3: { endpoint: s3.endpoint, pathStyle: true },
    allowHttp: true,
  };
  return JSON.stringify(mv);
}

/** Uploads every file of `local` under `prefix/`; returns the directory's canonical sha256. */
async function upload(local: string, prefix: string): Promise<string> {
  for (const f of await regularFiles(local)) {
    await s3.putObject(BUCKET, `${prefix}/${f}`, readFileSync(join(local, f)));
  }
  return directorySha256(local);
}

/** kubectl apply --server-side as `manager` (a release pipeline's own field manager). */
async function applyAs(manager: string, manifest: string): Promise<void> {
  await world.ns.kubectlOk(
    ["apply", "--server-side", "--force-conflicts", `--field-manager=${manager}`, "-f", "-"],
    manifest,
  );
}

async function pods(mdep: string, revision?: string): Promise<V1Pod[]> {
  const selector = `${LABEL_DEPLOYMENT}=${mdep}${revision ? `,${LABEL_REVISION}=${revision}` : ""}`;
  const out = await world.ns.kubectlOk(["get", "pods", "-l", selector, "-o", "json"]);
  return (JSON.parse(out) as { items: V1Pod[] }).items;
}

interface Timings {
  /** fetch-model's startedAt → finishedAt (the kubelet's 1 s resolution). */
  init: number;
  /** What the fetcher itself logged ("done: … in T s"). */
  fetcherSays: number;
  /** Pod creation → Ready (1 s resolution). */
  ready: number;
}

const seconds = (from?: Date | string, to?: Date | string) =>
  (Date.parse(String(to)) - Date.parse(String(from))) / 1000;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** Medians over the revision's pods of the fetch and of the pod's start. */
async function timings(mdep: string, revision: string): Promise<Timings> {
  const all: Timings[] = [];
  for (const pod of await pods(mdep, revision)) {
    const init = pod.status?.initContainerStatuses?.find((c) => c.name === FETCHER_CONTAINER)?.state
      ?.terminated;
    const ready = pod.status?.conditions?.find((c) => c.type === "Ready" && c.status === "True");
    if (!init || !ready) throw new Error(`pod ${pod.metadata?.name} is not fetched and ready`);
    const logs = await world.ns.kubectlOk(["logs", pod.metadata?.name ?? "", "-c", FETCHER_CONTAINER]);
    const said = /done: .* in ([\d.]+) s/.exec(logs);
    all.push({
      init: seconds(init.startedAt, init.finishedAt),
      fetcherSays: said ? Number(said[1]) : Number.NaN,
      ready: seconds(pod.metadata?.creationTimestamp, ready.lastTransitionTime),
    });
  }
  expect(all.length).toBeGreaterThan(0);
  return {
    init: median(all.map((t) => t.init)),
    fetcherSays: median(all.map((t) => t.fetcherSays)),
    ready: median(all.map((t) => t.ready)),
  };
}

const say = (t: Timings | undefined) =>
  t ? `init container ${t.init} s (fetcher: ${t.fetcherSays} s), pod ready ${t.ready} s` : "not measured";

/** Sends the Service real inference requests for `ms`; none may fail. */
async function serves(mdep: string, ms: number): Promise<Record<string, number>> {
  const t0 = Date.now();
  const client = await world.load(mdep);
  await new Promise((r) => setTimeout(r, ms));
  const stats = await world.stopLoad(client);
  report(`${mdep} serves`, stats, t0);
  expect(stats.failures).toEqual([]);
  expect(stats.ok).toBeGreaterThan(0);
  return stats.byRevision;
}

beforeAll(async () => {
  world = await startRealNodeWorld("real-artifacts");
  dir = mkdtempSync(join(tmpdir(), "modelops-real-artifacts-"));
  // Bound to the host's end of the node's link: pods reach them there, and so does this process.
  [s3, mlflow] = await Promise.all([
    startS3Server({ dir: join(dir, "s3"), host: world.hostIp }),
    startMlflowServer({ dir: join(dir, "mlflow"), host: world.hostIp }),
  ]);
  console.log(`[artifacts] S3 at ${s3.endpoint}, MLflow at ${mlflow.url}`);
  await s3.createBucket(BUCKET);
  const small = await upload(world.modelDir("logreg"), "iris/logreg");
  // The same model padded with 50 MB of random bytes MLServer never reads.
  const big = join(dir, "logreg-50mb");
  cpSync(world.modelDir("logreg"), big, { recursive: true });
  writeFileSync(join(big, "padding.bin"), randomBytes(50 << 20));
  const bigSum = await upload(big, "iris/logreg-50mb");
  // A digest that is not this artifact's: the other trained model's.
  const wrong = await directorySha256(world.modelDir("tree"));
  // The fetcher reads with the read-only key: it needs nothing more.
  await world.ns.kubectlOk(
    [
      "create",
      "secret",
      "generic",
      SECRET,
      `--from-literal=AWS_ACCESS_KEY_ID=${s3.readOnlyKey.accessKey}`,
      `--from-literal=AWS_SECRET_ACCESS_KEY=${s3.readOnlyKey.secretKey}`,
    ],
    undefined,
  );
  await world.apply(
    [
      s3Version("iris-s3", "s3-1", "iris/logreg", small),
      s3Version("iris-s3-50mb", "s3-50mb", "iris/logreg-50mb", bigSum),
      s3Version("iris-s3-badsum", "s3-badsum", "iris/logreg", wrong),
    ].join("\n---\n"),
  );
}, 1_800_000);

afterAll(async () => {
  await world?.stop();
  await s3?.stop();
  await mlflow?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("remote artifacts on a real node", () => {
  it("an s3:// model (signed, path-style, sha256-verified) becomes Available and answers inference through its Service", async () => {
    await world.apply(world.deployment(MDEP, "iris-s3", strategy));
    const s = await world.serving(MDEP, "iris-s3");
    const revision = s.stableRevision as string;
    await world.explained(MDEP, async () => {
      for (const pod of await pods(MDEP, revision)) {
        const fetch = pod.status?.initContainerStatuses?.find((c) => c.name === FETCHER_CONTAINER);
        expect(fetch?.state?.terminated?.exitCode).toBe(0);
      }
      const cond = s.conditions?.find((c) => c.type === "ArtifactFetched");
      expect(cond?.status).not.toBe("False");
      const byRevision = await serves(MDEP, 5000);
      expect(Object.keys(byRevision)).toEqual([revision]);
    });
    smallModel = await timings(MDEP, revision);
  }, 600_000);

  it("from an MLflow registry to a canary: imported with kubectl modelops, canaried, promoted, serving, and who set it recorded", async () => {
    const registered = await mlflow.register({ name: "iris", kind: "good" });
    // As a user would: the plugin prints the manifest, the user applies it.
    // --image: the node runs the MLServer image imported locally (it pulls nothing).
    const cli = await run(
      process.execPath,
      [
        join(root, "operator/cli/main.ts"),
        "import",
        "mlflow",
        "--tracking-uri",
        mlflow.url,
        "--model",
        registered.name,
        "--version",
        registered.version,
        "--name",
        MLFLOW_VERSION,
        "--image",
        world.node.images.mlserverImage,
      ],
      { cwd: root, maxBuffer: 16 << 20 },
    );
    const doc = yaml.load(cli.stdout) as { spec: { artifact: Record<string, unknown>; modelName: string } };
    expect(doc.spec.modelName).toBe("iris");
    expect(doc.spec.artifact).toMatchObject({
      uri: `models:/iris/${registered.version}`,
      mlflow: { trackingUri: mlflow.url },
      allowHttp: true,
    });
    await world.apply(cli.stdout);
    const before = await rolloutStatus(world.ns, MDEP);
    const client = await world.load(MDEP);
    const t0 = Date.now();
    await applyAs(PIPELINE, world.deployment(MDEP, MLFLOW_VERSION, strategy));
    const canary = await world.explained(MDEP, () =>
      waitStatus(world.ns, MDEP, (s) => s.canaryVersion === MLFLOW_VERSION, "MLflow canary started"),
    );
    const after = await world.serving(MDEP, MLFLOW_VERSION);
    await world.onlyPodsOf(MDEP, after.stableRevision as string);
    const stats = await world.stopLoad(client);
    report("s3 → MLflow canary", stats, t0);
    await world.explained(MDEP, async () => {
      expect(after.stableRevision).toBe(canary.canaryRevision);
      expect(after.history?.[0]).toMatchObject({ result: "Promoted" });
      expect(after.history?.[0]?.setBy?.manager).toBe(PIPELINE);
      expect(stats.failures).toEqual([]);
      expect(stats.byRevision[before.stableRevision as string]).toBeGreaterThan(0);
      expect(stats.byRevision[after.stableRevision as string]).toBeGreaterThan(0);
      // It serves alone now.
      expect(Object.keys(await serves(MDEP, 3000))).toEqual([after.stableRevision]);
    });
  }, 900_000);

  it("a wrong sha256: the canary's model never starts, ArtifactFetched=False names it before the rollback, an Event says so, and it rolls back by the deadline while the stable version serves", async () => {
    const stable = await rolloutStatus(world.ns, MDEP);
    expect(stable.stableVersion).toBe(MLFLOW_VERSION);
    const client = await world.load(MDEP);
    const t0 = Date.now();
    await applyAs(
      PIPELINE,
      world
        .deployment(MDEP, "iris-s3-badsum", strategy)
        .replace("progressDeadlineSeconds: 120", "progressDeadlineSeconds: 60"),
    );
    const fetchFailed = (s: RolloutStatus) =>
      s.conditions?.find((c) => c.type === "ArtifactFetched" && c.status === "False");
    const failing = await world.explained(MDEP, () =>
      waitStatus(
        world.ns,
        MDEP,
        // Before the rollback: the reason is there while someone can still act on it.
        (s) => !!s.canaryRevision && !!fetchFailed(s) && s.phase !== "RolledBack",
        "ArtifactFetched=False while the canary is still rolling out",
        75_000,
      ),
    );
    const canary = failing.canaryRevision as string;
    const canaryPods = await pods(MDEP, canary);
    const created = Math.min(...canaryPods.map((p) => Date.parse(String(p.metadata?.creationTimestamp))));
    const lastFetchFailure = Math.min(
      ...canaryPods.map((p) => {
        const f = p.status?.initContainerStatuses?.find((c) => c.name === FETCHER_CONTAINER);
        const t = f?.lastState?.terminated ?? f?.state?.terminated;
        return Date.parse(String(t?.finishedAt ?? "")) || Number.POSITIVE_INFINITY;
      }),
    );
    const cond = fetchFailed(failing);
    console.log(
      `[artifacts] checksum mismatch: ArtifactFetched=False ${((Date.now() - t0) / 1000).toFixed(0)} s after the apply, ` +
        `its lastTransitionTime ${seconds(new Date(created), cond?.lastTransitionTime)} s after the canary's pods were created ` +
        `(a fetcher's last failure ${((lastFetchFailure - created) / 1000).toFixed(0)} s after): ${cond?.message}`,
    );
    await world.explained(MDEP, async () => {
      expect(cond?.reason).toBe("ArtifactFetchFailed");
      expect(cond?.message).toContain(canary);
      expect(cond?.message).toMatch(/sha256 mismatch/);
      // The model server container of the canary's pods never ran.
      expect(canaryPods.length).toBeGreaterThan(0);
      for (const pod of canaryPods) {
        for (const c of pod.status?.containerStatuses ?? []) {
          expect(c.state?.running, `${pod.metadata?.name}/${c.name}`).toBeUndefined();
          expect(c.lastState?.terminated, `${pod.metadata?.name}/${c.name}`).toBeUndefined();
        }
      }
      const events = JSON.parse(
        await world.ns.kubectlOk([
          "get",
          "events",
          "--field-selector",
          `reason=ArtifactFetchFailed,involvedObject.name=${MDEP}`,
          "-o",
          "json",
        ]),
      ) as { items: { type: string; message: string }[] };
      expect(events.items.map((e) => e.type)).toContain("Warning");
      expect(events.items.some((e) => /sha256 mismatch/.test(e.message))).toBe(true);
    });
    const rolledBack = await world.explained(MDEP, () =>
      waitStatus(world.ns, MDEP, (s) => s.phase === "RolledBack", "rolled back", POD_START_MS),
    );
    const back = await world.servingAgain(MDEP, MLFLOW_VERSION);
    const stats = await world.stopLoad(client);
    report("checksum mismatch", stats, t0);
    console.log(
      `[artifacts] checksum mismatch: rolled back ${seconds(new Date(created), rolledBack.history?.[0]?.time)} s after the canary's pods were created`,
    );
    await world.explained(MDEP, async () => {
      expect(rolledBack.history?.[0]?.result).toBe("RolledBack");
      expect(back.stableRevision).toBe(stable.stableRevision);
      expect(stats.failures).toEqual([]);
      expect(Object.keys(stats.byRevision)).toEqual([stable.stableRevision]);
    });
  }, 600_000);

  it("measures what the fetcher adds to a pod's start for a 50 MB model", async () => {
    await world.apply(world.deployment("big", "iris-s3-50mb", strategy));
    const s = await world.serving("big", "iris-s3-50mb");
    const big = await world.explained("big", () => timings("big", s.stableRevision as string));
    console.log(`[artifacts] 50 MB fetch: ${say(big)}; small model: ${say(smallModel)}`);
    expect(big.fetcherSays).toBeGreaterThan(0);
    await world.explained("big", async () => {
      await serves("big", 3000);
    });
  }, 600_000);
});
