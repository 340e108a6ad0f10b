// A real prometheus-adapter (hack/prometheus-adapter.sh) serving
// custom.metrics.k8s.io from a test Prometheus with the rules the project
// ships (config/prometheus-adapter/values.yaml), registered with the
// cluster's aggregation layer. It listens on loopback only: its APIService's
// Service is `type: ExternalName, externalName: localhost`, which the
// apiserver resolves to localhost:<service.port> (pki.ts, components.ts),
// while verifying the name <service>.<namespace>.svc in the adapter's certificate.
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { dump } from "js-yaml";
import { adapterRules } from "../prometheus-adapter.ts";
import { kubectl, kubectlOk } from "./kubectl.ts";
import { freePorts, pollUntil, startComponent, stopComponents, track, untrack } from "./procs.ts";

const SERVICE = "prometheus-adapter";
/** The HPA controller asks for v1beta2 and falls back to v1beta1; the adapter serves both. */
const API_SERVICES = ["v1beta2", "v1beta1"].map((v) => `${v}.custom.metrics.k8s.io`);

export interface StartAdapterOptions {
  /** The adapter binary (last line of hack/prometheus-adapter.sh). */
  binary: string;
  /** Holds its config, certificate and log. */
  dir: string;
  /** An admin kubeconfig: the adapter lists pods and namespaces and delegates authn/authz with it. */
  kubeconfig: string;
  binDir: string;
  prometheusUrl: string;
  /** Where its ExternalName Service lives (deleted with the namespace). */
  namespace: string;
  log?: (line: string) => void;
}

export interface RunningAdapter {
  logPath: string;
  /** Removes the APIServices (an unserved one would fail every discovery), then stops the adapter. */
  stop(): Promise<void>;
}

export async function startPrometheusAdapter(opts: StartAdapterOptions): Promise<RunningAdapter> {
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const config = join(dir, "config.yaml");
  writeFileSync(config, dump({ rules: adapterRules() }, { lineWidth: -1 }));
  const [key, cert] = [join(dir, "tls.key"), join(dir, "tls.crt")];
  await promisify(execFile)("openssl", [
    ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc"],
    ...["-keyout", key, "-out", cert, "-subj", `/CN=${SERVICE}`, "-days", "1"],
    ...["-addext", `subjectAltName=DNS:${SERVICE}.${opts.namespace}.svc`],
  ]);
  const [port] = await freePorts(1);
  const logPath = join(dir, "prometheus-adapter.log");
  const c = startComponent(
    "prometheus-adapter",
    opts.binary,
    [
      `--secure-port=${port}`,
      "--bind-address=127.0.0.1",
      `--cert-dir=${dir}`,
      `--tls-cert-file=${cert}`,
      `--tls-private-key-file=${key}`,
      `--lister-kubeconfig=${opts.kubeconfig}`,
      `--authentication-kubeconfig=${opts.kubeconfig}`,
      `--authorization-kubeconfig=${opts.kubeconfig}`,
      `--prometheus-url=${opts.prometheusUrl}`,
      `--config=${config}`,
      // New pods' series are found within seconds, not the default 10 minutes.
      "--metrics-relist-interval=5s",
      "--metrics-max-age=1m",
    ],
    logPath,
  );
  track([c]);
  const kc = { kubeconfig: opts.kubeconfig, binDir: opts.binDir };
  const stop = async () => {
    for (const name of API_SERVICES) await kubectl(["delete", "apiservice", name, "--ignore-not-found"], kc);
    await stopComponents([c], 2000);
    untrack([c]);
  };
  try {
    const caBundle = readFileSync(cert).toString("base64");
    await kubectlOk(["apply", "-f", "-"], {
      ...kc,
      input: [
        `{apiVersion: v1, kind: Service, metadata: {name: ${SERVICE}, namespace: ${opts.namespace}}, spec: {type: ExternalName, externalName: localhost}}`,
        ...API_SERVICES.map((name) => {
          const version = name.split(".")[0];
          return `{apiVersion: apiregistration.k8s.io/v1, kind: APIService, metadata: {name: ${name}}, spec: {group: custom.metrics.k8s.io, version: ${version}, groupPriorityMinimum: 100, versionPriority: 100, caBundle: ${caBundle}, service: {namespace: ${opts.namespace}, name: ${SERVICE}, port: ${port}}}}`;
        }),
      ].join("\n---\n"),
    });
    await pollUntil(
      "prometheus-adapter's APIServices Available",
      async () => {
        const out = await kubectlOk(
          [
            "get",
            "apiservice",
            ...API_SERVICES,
            "-o",
            "jsonpath={.items[*].status.conditions[?(@.type=='Available')].status}",
          ],
          kc,
        );
        return out.split(" ").filter((s) => s === "True").length === API_SERVICES.length || undefined;
      },
      { timeoutMs: 60_000, watch: [c], log: opts.log ?? (() => {}) },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { logPath, stop };
}
