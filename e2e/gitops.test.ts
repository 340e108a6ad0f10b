// GitOps with a real Argo CD (v3.2.11, repo server + application controller
// built from its Go module) syncing ModelVersions, ModelDeployments and an
// HTTPRoute from a git repository served on loopback by `git daemon`. Health
// and resource actions are config/argocd's Lua, loaded through the argocd-cm
// patch README.md tells users to apply and evaluated by Argo CD itself.
// The operator runs in-process; commits are what a user would push.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { kubectlOk, waitFor } from "../hack/localcluster/kubectl.ts";
import { simulatedImage } from "../hack/localcluster/pod-life.ts";
import type { RunningManager } from "../operator/manager.ts";
import type { KubeObject } from "../operator/runtime/types.ts";
import { type ArgoCd, startArgoCd } from "./harness/argocd.ts";
import {
  type AppRecorder,
  type AppSpec,
  type AppState,
  applicationManifest,
  appResource,
  appStatus,
  recordApp,
  runResourceAction,
  syncedAt,
  waitApp,
} from "./harness/argocd-app.ts";
import { adminClient } from "./harness/client.ts";
import { standInGateway } from "./harness/gateway-status.ts";
import { type GitRepo, startGitRepo } from "./harness/git-server.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { startInProcess } from "./harness/operator.ts";
import { mdepManifest, waitStatus } from "./harness/rollout.ts";
import { installRouterCrds } from "./harness/router-crds.ts";

const kubeconfig = inject("kubeconfig");
const binDir = inject("binDir");
const admin = adminClient(kubeconfig);

let dir: string;
let ns: TestNamespace;
let operator: RunningManager;
let git: GitRepo;
let argo: ArgoCd;
let removeRouterCrds: () => Promise<void> = async () => {};
const recorders: AppRecorder[] = [];
const gateways: Array<{ stop(): void }> = [];

/** A copy of a sample version under another name whose pods get the named simulated life. */
function version(name: string, image: string): string {
  return readFileSync("config/samples/modelversion-v2.yaml", "utf8")
    .replace("name: iris-classifier-v2", `name: ${name}`)
    .replace("image: seldonio/mlserver:1.7.1", `image: "${image}"`);
}
const V1 = "iris-classifier-v1";
// v2's model takes 6 s to load, so the rollout is visibly Progressing before its pause.
const V2 = "iris-classifier-v2";
const V3 = "iris-classifier-v3";
const VERSIONS = [
  readFileSync("config/samples/modelversion.yaml", "utf8"),
  version(V2, simulatedImage.readyAfter(6)),
].join("\n---\n");

const CANARY_MANUAL = "canary:\n  steps:\n    - setWeight: 50\n    - pause: {}";

function mdepObject(name: string): Promise<KubeObject> {
  return admin.get({ apiVersion: "modelops.io/v1alpha1", kind: "ModelDeployment", namespace: ns.name, name });
}

/** The states recorded from the first one Synced at `revision` on. */
function since(rec: AppRecorder, revision: string): AppState[] {
  const from = rec.states.findIndex((s) => s.revision === revision && s.sync === "Synced");
  return from < 0 ? [] : rec.states.slice(from);
}

/**
 * Every sync operation was for a commit, in order, and none started once the
 * application was Synced at that commit: nothing the operator does while a
 * rollout runs makes Argo CD sync again. Before that first Synced, Argo CD
 * may sync a commit twice: when its cache has not yet seen the first sync's
 * writes, it still finds the app OutOfSync and self-heals at once (seen on a
 * loaded machine: the first operation Succeeded while OutOfSync, the second a
 * second later, then Synced for good).
 */
function expectNoSyncLoop(rec: AppRecorder, commits: string[]): void {
  const revisions = rec.operations.map((o) => o.revision);
  const ops = JSON.stringify(rec.operations);
  expect(
    revisions.filter((r, i) => r !== revisions[i - 1]),
    ops,
  ).toEqual(commits);
  for (const sha of commits) {
    const synced = rec.states.find((s) => s.revision === sha && s.sync === "Synced");
    expect(synced, `${sha} Synced`).toBeDefined();
    // startedAt has a resolution of one second: a later operation started in a later second.
    const firstLaterSecond = Math.floor((synced?.at ?? 0) / 1000) * 1000 + 1000;
    const later = rec.operations.filter(
      (o) => o.revision === sha && Date.parse(o.startedAt) >= firstLaterSecond,
    );
    expect(later, `syncs of ${sha} after it was Synced; all: ${ops}`).toEqual([]);
  }
}

async function createApp(spec: Omit<AppSpec, "server">): Promise<AppRecorder> {
  await kubectlOk(["apply", "-f", "-"], {
    kubeconfig,
    binDir,
    input: applicationManifest({ ...spec, server: argo.server }),
  });
  const rec = recordApp(admin, spec.name);
  recorders.push(rec);
  return rec;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "modelops-gitops-"));
  ns = await createTestNamespace("gitops", kubeconfig, binDir);
  removeRouterCrds = await installRouterCrds(kubeconfig, binDir);
  operator = await startInProcess({ kubeconfig: inject("operatorKubeconfig"), namespace: ns.name });
  git = await startGitRepo(dir);
  argo = await startArgoCd({ kubeconfig, binDir, dir });
});

afterAll(async () => {
  for (const r of [...recorders, ...gateways]) r.stop();
  await argo?.stop();
  await git?.stop();
  await operator?.stop();
  await ns?.delete();
  await removeRouterCrds();
  if (process.env.MODELOPS_KEEP_CLUSTER === "1") console.log(`[gitops] kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
});

describe("a ModelDeployment synced by Argo CD from git", () => {
  const app = "classifier";
  const mdep = (v: string, deadline = 120) =>
    mdepManifest(app, v, CANARY_MANUAL).replace(
      "progressDeadlineSeconds: 120",
      `progressDeadlineSeconds: ${deadline}`,
    );
  let rec: AppRecorder;
  /** The commits synced so far, in order. */
  const commits: string[] = [];

  it("commit v1: Synced, the ModelDeployment Available, the Application Healthy", async () => {
    const sha = await git.commit(
      { "classifier/versions.yaml": VERSIONS, "classifier/modeldeployment.yaml": mdep(V1) },
      "serve iris v1",
    );
    rec = await createApp({
      name: app,
      repoURL: git.url,
      path: "classifier",
      namespace: ns.name,
      selfHeal: true,
    });
    const s = await waitApp(admin, app, (x) => syncedAt(sha)(x) && x.health?.status === "Healthy", "Healthy");
    expect((await waitStatus(ns, app, () => true, "status")).phase).toBe("Available");
    expect(appResource(s, "ModelDeployment", app)).toMatchObject({
      status: "Synced",
      health: { status: "Healthy" },
    });
    expect(appResource(s, "ModelVersion", V1)?.health?.status).toBe("Healthy");
    expect(s.history).toHaveLength(1);
    commits.push(sha);
  });

  it("commit v2: Progressing, Suspended at the pause, promote action, Healthy; Synced throughout", async () => {
    const sha = await git.commit({ "classifier/modeldeployment.yaml": mdep(V2) }, "roll out iris v2");
    const paused = await waitApp(
      admin,
      app,
      (x) => syncedAt(sha)(x) && x.health?.status === "Suspended",
      "Suspended at the manual pause",
    );
    expect(appResource(paused, "ModelDeployment", app)?.health?.message).toContain("PauseStep");
    const patch = await runResourceAction({
      argocd: argo.binary,
      kubeconfig,
      admin,
      object: await mdepObject(app),
      action: "promote",
    });
    expect(JSON.stringify(patch)).toMatch(/"modelops.io\/action":"promote@\d{8}T\d{6}Z"/);
    await waitStatus(ns, app, (x) => x.stableVersion === V2 && x.phase === "Available", "promoted");
    const done = await waitApp(admin, app, (x) => x.health?.status === "Healthy", "Healthy on v2");
    expect(done.sync?.status).toBe("Synced");
    const states = since(rec, sha);
    const healths = states.map((x) => x.health);
    expect(healths.indexOf("Progressing"), JSON.stringify(states)).toBeGreaterThanOrEqual(0);
    expect(healths.indexOf("Suspended")).toBeGreaterThan(healths.indexOf("Progressing"));
    expect(
      states.filter((x) => x.sync !== "Synced"),
      JSON.stringify(states),
    ).toEqual([]);
    expect(done.history).toHaveLength(2);
    expectNoSyncLoop(rec, [...commits, sha]);
    commits.push(sha);
  });

  it("commit a bad v3: rolled back automatically, Degraded with the reason, still Synced, no sync loop", async () => {
    const sha = await git.commit(
      {
        "classifier/versions.yaml": `${VERSIONS}\n---\n${version(V3, simulatedImage.neverReady)}`,
        "classifier/modeldeployment.yaml": mdep(V3, 10),
      },
      "roll out iris v3",
    );
    const rolledBack = await waitStatus(ns, app, (x) => x.phase === "RolledBack", "rolled back");
    expect(rolledBack.stableVersion).toBe(V2);
    const s = await waitApp(
      admin,
      app,
      (x) => syncedAt(sha)(x) && x.health?.status === "Degraded",
      "Degraded",
    );
    expect(appResource(s, "ModelDeployment", app)?.health?.message).toContain("ProgressDeadlineExceeded");
    // Two more resync periods: the controller compares again and finds nothing to sync.
    await new Promise((r) => setTimeout(r, 2 * argo.resyncSeconds * 1000 + 1000));
    const later = await appStatus(admin, app);
    expect(later.sync).toMatchObject({ status: "Synced", revision: sha });
    expect(later.health?.status).toBe("Degraded");
    // One sync per commit (v1, v2, v3), none once Synced: no self-heal sync in between.
    expectNoSyncLoop(rec, [...commits, sha]);
    expect(since(rec, sha).filter((x) => x.sync !== "Synced")).toEqual([]);
  });
});

/** The user's HTTPRoute as it sits in git (e2e/fixtures/routers), for ModelDeployment `name`. */
function routeManifest(name: string): string {
  return readFileSync("e2e/fixtures/routers/httproute.yaml", "utf8")
    .replace("name: iris\n", `name: ${name}\n`)
    .replaceAll("iris-stable", `${name}-stable`)
    .replaceAll("iris-canary", `${name}-canary`);
}

// biome-ignore lint/suspicious/noExplicitAny: route JSON is probed freely
type Json = Record<string, any>;
const routeRef = (name: string) => ({
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "HTTPRoute",
  namespace: ns.name,
  name,
});
const canaryWeight = (r: Json, name: string): number | undefined =>
  r.spec.rules[0].backendRefs.find((b: Json) => b.name === `${name}-canary`)?.weight;
/** Everything but the weights the operator owns. */
const userFields = (r: Json) => ({
  labels: r.metadata.labels,
  annotations: Object.fromEntries(
    Object.entries(r.metadata.annotations ?? {}).filter(([k]) => !k.startsWith("kubectl.kubernetes.io/")),
  ),
  spec: {
    ...r.spec,
    rules: r.spec.rules.map((rule: Json) => ({
      ...rule,
      backendRefs: rule.backendRefs.map(({ weight: _w, ...b }: Json) => b),
    })),
  },
});

/** The README's ignoreDifferences for HTTPRoutes (operator/rollout/routers/README.md). */
const IGNORE_ROUTE_WEIGHTS = `
- group: gateway.networking.k8s.io
  kind: HTTPRoute
  jqPathExpressions:
  - .spec.rules[].backendRefs[].weight
  - .spec.rules[].filters[] | select(.type == "RequestMirror")
`;

describe("a Gateway API canary whose HTTPRoute is in git (uses the versions synced above)", () => {
  const gatewaySpec = (name: string) => `trafficRouting:\n  gatewayAPI: {httpRoute: ${name}}`;
  const commitApp = (name: string, v: string, strategy: string) =>
    git.commit(
      {
        [`${name}/httproute.yaml`]: routeManifest(name),
        [`${name}/modeldeployment.yaml`]: mdepManifest(name, v, strategy, 2, gatewaySpec(name)),
      },
      `${name}: serve ${v}`,
    );

  it("with the documented ignoreDifferences and self-heal: weights change, user fields stay, Synced, nothing reverted", async () => {
    const name = "iris";
    const strategy = `canary:\n  steps:\n    - setWeight: 20\n    - pause: {duration: 3s}\n    - setWeight: 60\n    - pause: {duration: 3s}`;
    const sha1 = await commitApp(name, V1, strategy);
    gateways.push(standInGateway(admin, ns.name, name));
    const rec = await createApp({
      name,
      repoURL: git.url,
      path: name,
      namespace: ns.name,
      selfHeal: true,
      ignoreDifferences: IGNORE_ROUTE_WEIGHTS,
    });
    await waitApp(admin, name, (x) => syncedAt(sha1)(x) && x.health?.status === "Healthy", "Healthy on v1");
    const before = await admin.get<Json>(routeRef(name));
    const sha2 = await commitApp(name, V2, strategy);
    // Every canary weight the route carries until the rollout is done.
    const weights: number[] = [];
    await waitFor(
      async () => {
        const w = canaryWeight(await admin.get<Json>(routeRef(name)), name) ?? -1;
        if (weights.at(-1) !== w) weights.push(w);
        const s = (await mdepObject(name)).status as Json | undefined;
        return s?.stableVersion === V2 && s.phase === "Available";
      },
      { timeoutMs: 90_000, intervalMs: 100, description: `${name} promoted to v2` },
    );
    const done = await waitApp(admin, name, (x) => x.health?.status === "Healthy", "Healthy on v2");
    expect(weights, "canary weights seen").toContain(20);
    expect(weights).toContain(60);
    // A forced sync would have put 100/0 back between the steps.
    const stepping = weights.slice(weights.indexOf(20), weights.lastIndexOf(60) + 1);
    expect(stepping, `weights ${weights}`).toEqual([20, 60]);
    const after = await admin.get<Json>(routeRef(name));
    expect(userFields(after)).toEqual(userFields(before));
    expect(after.spec.hostnames).toEqual(["iris.example.test", "iris.internal.example.test"]);
    expect(done.sync).toMatchObject({ status: "Synced", revision: sha2 });
    expect(
      since(rec, sha2).filter((x) => x.sync !== "Synced"),
      JSON.stringify(rec.states),
    ).toEqual([]);
    expect(done.history).toHaveLength(2);
    expectNoSyncLoop(rec, [sha1, sha2]);
  });

  it("without them, the route goes OutOfSync once the operator sets a weight, as the router README warns", async () => {
    const name = "plain";
    const strategy = "canary:\n  steps:\n    - setWeight: 30\n    - pause: {}";
    const sha1 = await commitApp(name, V1, strategy);
    gateways.push(standInGateway(admin, ns.name, name));
    await createApp({ name, repoURL: git.url, path: name, namespace: ns.name, selfHeal: false });
    await waitApp(admin, name, (x) => syncedAt(sha1)(x) && x.health?.status === "Healthy", "Healthy on v1");
    const sha2 = await commitApp(name, V2, strategy);
    await waitApp(admin, name, syncedAt(sha2), "synced v2");
    await waitFor(async () => canaryWeight(await admin.get<Json>(routeRef(name)), name) === 30, {
      timeoutMs: 60_000,
      description: "canary weight 30 on the route",
    });
    const s = await waitApp(admin, name, (x) => x.sync?.status === "OutOfSync", "OutOfSync");
    expect(appResource(s, "HTTPRoute", name)?.status).toBe("OutOfSync");
    expect(appResource(s, "ModelDeployment", name)?.status).toBe("Synced");
  });

  it("adding RespectIgnoreDifferences=true drops a git edit of the route and self-heal syncs again and again (why the README leaves it out)", async () => {
    const name = "respect";
    const strategy = "canary:\n  steps:\n    - setWeight: 30\n    - pause: {}";
    const sha1 = await commitApp(name, V1, strategy);
    const rec = await createApp({
      name,
      repoURL: git.url,
      path: name,
      namespace: ns.name,
      selfHeal: true,
      ignoreDifferences: IGNORE_ROUTE_WEIGHTS,
      syncOptions: ["RespectIgnoreDifferences=true"],
    });
    // Already the first re-sync over a live route may start the loop; wait for the first sync only.
    await waitApp(admin, name, (x) => x.history?.[0]?.revision === sha1, "synced v1");
    // The user lengthens the predict rule's timeout in git.
    const edited = routeManifest(name).replace("request: 10s", "request: 20s");
    const sha2 = await git.commit({ [`${name}/httproute.yaml`]: edited }, `${name}: longer timeout`);
    // Argo CD applies the live rules list instead (the list is atomic), so the
    // route stays OutOfSync and self-heal syncs it again and again.
    const s = await waitApp(
      admin,
      name,
      () => rec.operations.filter((o) => o.revision === sha2).length >= 3,
      "three syncs of the edit",
      60_000,
    );
    expect(s.sync?.revision).toBe(sha2);
    const route = await admin.get<Json>(routeRef(name));
    expect(route.spec.rules[0].timeouts).toEqual({ request: "10s" });
  });
});

describe("prune", () => {
  it("removing the ModelDeployment from git deletes it and, by owner references, what it owns", async () => {
    const app = "classifier";
    const owned = () =>
      ns.kubectlOk(["get", "deploy,svc", "-l", `modelops.io/deployment=${app}`, "-o", "name"]);
    expect((await owned()).trim()).not.toBe("");
    const sha = await git.commit({ "classifier/modeldeployment.yaml": null }, "retire the classifier");
    await waitApp(admin, app, syncedAt(sha), "synced the removal");
    await waitFor(async () => (await ns.kubectl(["get", "mdep", app])).code !== 0, {
      timeoutMs: 30_000,
      description: "ModelDeployment deleted",
    });
    await waitFor(async () => (await owned()).trim() === "", {
      timeoutMs: 60_000,
      description: "owned objects gone",
    });
    // Only what left git was pruned.
    expect((await ns.kubectlOk(["get", "mv", V1, V2, V3, "-o", "name"])).trim().split("\n")).toHaveLength(3);
  });
});
