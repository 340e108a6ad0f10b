// The container images, built by the local Docker engine. The operator's,
// from the real Dockerfile on a stand-in of its base (hack/image-base.sh):
// it runs as a non-root user on a read-only root filesystem, its operator
// entry point reconciles against the test cluster and serves /healthz, and
// its CLI starts. The proxy's (operator/proxy/Dockerfile, by
// hack/proxy-image.sh): FROM scratch, no shell, and hardened it starts far
// enough to refuse a missing config.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../hack/localcluster/kubectl.ts";
import { freePorts } from "../hack/localcluster/procs.ts";
import { createTestNamespace, type TestNamespace } from "./harness/namespace.ts";
import { mdepManifest, waitStatus } from "./harness/rollout.ts";

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
const IMAGE = `modelops-operator:${pkg.version}`;
const PROXY_IMAGE = `modelops-proxy:${pkg.version}`;
const kubeconfig = inject("kubeconfig");
const binDir = inject("binDir");
const env: NodeJS.ProcessEnv = { ...process.env };
let startedEngine = false;
let ns: TestNamespace | undefined;
const containers: string[] = [];

async function docker(args: string[], timeout = 300_000): Promise<string> {
  return (await run("docker", args, { env, timeout, maxBuffer: 64 << 20 })).stdout.trim();
}

beforeAll(async () => {
  const wasRunning = await run("bash", [join(root, "hack/image-dockerd.sh"), "status"]).then(
    () => true,
    () => false,
  );
  const { stdout } = await run("bash", [join(root, "hack/image-dockerd.sh"), "start"]);
  startedEngine = !wasRunning;
  env.DOCKER_HOST = stdout
    .trim()
    .split("\n")
    .pop()
    ?.replace(/^DOCKER_HOST=/, "");
  await run("bash", [join(root, "hack/image-base.sh")], { env, timeout: 300_000 });
  await docker(["build", "--network=host", "-t", IMAGE, root], 600_000);
  // Builds the Rust binary first when the cache is cold (minutes).
  const proxy = await run("bash", [join(root, "hack/proxy-image.sh")], { env, timeout: 1_200_000 });
  expect(proxy.stdout.trim().split("\n").pop()).toMatch(new RegExp(` ${PROXY_IMAGE}$`));
}, 2_100_000);

afterAll(async () => {
  for (const c of containers) await docker(["rm", "-f", c]).catch(() => {});
  await ns?.delete();
  if (startedEngine) await run("bash", [join(root, "hack/image-dockerd.sh"), "stop"]);
});

/** `docker run` with the hardening the chart applies. */
function hardenedRun(args: string[]): string[] {
  return [
    "run",
    "--network=host",
    "--read-only",
    "--tmpfs",
    "/tmp",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges",
    "-v",
    `${kubeconfig}:/kube/config:ro`,
    ...args,
  ];
}

describe("image", () => {
  it("is small, runs as a non-root user, and holds no dev dependencies, tests or test support", async () => {
    const size = Number(await docker(["image", "inspect", "-f", "{{.Size}}", IMAGE]));
    console.log(`[image] ${IMAGE}: ${(size / 1e6).toFixed(0)} MB`);
    expect(size).toBeLessThan(450e6);
    expect(await docker(["image", "inspect", "-f", "{{.Config.User}}", IMAGE])).toBe("65532:65532");
    const listing = await docker([
      "run",
      "--rm",
      "--entrypoint",
      "sh",
      IMAGE,
      "-c",
      "id -u; ls node_modules; find operator \\( -name '*.test.ts' -o -path operator/testing \\) -print | wc -l",
    ]);
    const [uid, ...rest] = listing.split("\n");
    expect(uid).toBe("65532");
    expect(rest).toEqual(expect.arrayContaining(["@kubernetes", "zod", "pino", "prom-client", "js-yaml"]));
    for (const dev of ["vitest", "typescript", "@biomejs", "node", "testcontainers"])
      expect(rest).not.toContain(dev);
    expect(rest.at(-1)).toBe("0");
  });

  it("runs the operator against the test cluster: /healthz answers and a model is served", async () => {
    ns = await createTestNamespace("image", kubeconfig, binDir);
    await ns.applySampleVersions();
    const [port] = await freePorts(1);
    const name = `modelops-image-${process.pid}`;
    containers.push(name);
    await docker([
      "run",
      "-d",
      "--name",
      name,
      ...hardenedRun([IMAGE, "dist/operator/main.mjs"]).slice(1),
      "--kubeconfig=/kube/config",
      `--namespace=${ns.name}`,
      `--metrics-bind-address=127.0.0.1:${port}`,
    ]);
    const health = await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
        return res?.status === 200 ? res.status : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, description: "the container's /healthz" },
    );
    expect(health).toBe(200);
    await ns.kubectlOk(
      ["apply", "-f", "-"],
      mdepManifest("iris", "iris-classifier-v1", "canary:\n  steps:\n    - pause: {}"),
    );
    await waitStatus(ns, "iris", (s) => s.phase === "Available", "served by the containerised operator");
    expect(await docker(["exec", name, "id", "-u"])).toBe("65532");
  });

  it("has a working CLI entry point", async () => {
    const cli = await docker(
      hardenedRun([
        "--rm",
        "-e",
        "KUBECONFIG=/kube/config",
        "--entrypoint",
        "kubectl-modelops",
        IMAGE,
        "get",
        "-n",
        ns?.name ?? "default",
      ]),
    );
    expect(cli).toMatch(/iris\s+Available\s+iris-classifier-v1/);
  });
});

describe("proxy image", () => {
  it("is FROM scratch with the binary and its libraries only, and runs as 65532", async () => {
    const size = Number(await docker(["image", "inspect", "-f", "{{.Size}}", PROXY_IMAGE]));
    console.log(`[image] ${PROXY_IMAGE}: ${(size / 1e6).toFixed(1)} MB`);
    expect(size).toBeLessThan(20e6);
    expect(await docker(["image", "inspect", "-f", "{{.Config.User}}", PROXY_IMAGE])).toBe("65532:65532");
    expect(await docker(["image", "inspect", "-f", "{{json .Config.Entrypoint}}", PROXY_IMAGE])).toBe(
      '["/modelops-proxy"]',
    );
    // One layer (FROM scratch, one COPY) whose files are the binary and shared libraries.
    expect(await docker(["image", "inspect", "-f", "{{len .RootFS.Layers}}", PROXY_IMAGE])).toBe("1");
    const dir = mkdtempSync(join(tmpdir(), "proxy-image-"));
    try {
      const container = await docker(["create", PROXY_IMAGE]);
      await docker(["export", "-o", join(dir, "fs.tar"), container]).finally(() => docker(["rm", container]));
      // What the engine adds to every container (mount points, resolv.conf, hosts) is left out.
      const files = (await run("tar", ["-tvf", join(dir, "fs.tar")])).stdout
        .split("\n")
        .filter((line) => line.startsWith("-"))
        .map((line) => line.split(/\s+/).pop() ?? "")
        .filter((path) => !/^(\.dockerenv|dev\/.*|etc\/(hostname|hosts|resolv\.conf|mtab))$/.test(path));
      expect(files).toContain("modelops-proxy");
      expect(files.filter((f) => f !== "modelops-proxy" && !/\.so(\.\d+)*$/.test(f))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // No shell to exec into: `docker run` cannot start one.
    const shell = await run("docker", ["run", "--rm", "--entrypoint", "sh", PROXY_IMAGE, "-c", "true"], {
      env,
    }).then(
      () => "started",
      (e: { stderr: string }) => e.stderr,
    );
    expect(shell).not.toBe("started");
    expect(shell).toMatch(/executable file not found|no such file or directory/);
  });

  it("runs hardened and, without MODELOPS_PROXY_CONFIG, exits 1 with a JSON error line naming it", async () => {
    const result = await run("docker", hardenedRun(["--rm", "--user", "65532:65532", PROXY_IMAGE]), {
      env,
    }).then(
      (r) => ({ code: 0, output: r.stdout + r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        output: e.stdout + e.stderr,
      }),
    );
    expect(result.code, result.output).toBe(1);
    const errors = result.output
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .filter((line) => {
        try {
          return typeof JSON.parse(line) === "object";
        } catch {
          return false;
        }
      })
      .filter((line) => line.includes("MODELOPS_PROXY_CONFIG"));
    expect(errors, result.output).toHaveLength(1);
  });
});
