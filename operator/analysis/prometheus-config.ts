// The Prometheus that analyses query, from the operator's flags. Credentials
// come from a Secret (key `token` for a bearer token, or `username` and
// `password` for basic auth), read once at start.

import type { KubeClient } from "../runtime/kube.ts";
import { createPrometheusProvider } from "./prometheus.ts";
import type { MetricProvider } from "./provider.ts";

export type PrometheusFlags = {
  address?: string | undefined;
  authSecret?: string | undefined;
  timeoutMs: number;
};

export async function prometheusFromFlags(
  kube: KubeClient,
  flags: PrometheusFlags,
): Promise<MetricProvider | undefined> {
  if (!flags.address) return undefined;
  if (!/^https?:\/\//.test(flags.address)) {
    throw new Error(
      `--prometheus-address must be an http(s) URL such as http://prometheus:9090, got "${flags.address}"`,
    );
  }
  const auth = flags.authSecret ? await readAuth(kube, flags.authSecret) : undefined;
  return createPrometheusProvider({
    address: flags.address,
    timeoutMs: flags.timeoutMs,
    ...(auth ? { auth } : {}),
  });
}

async function readAuth(kube: KubeClient, ref: string) {
  const [namespace, name] = ref.split("/");
  if (!namespace || !name) throw new Error(`--prometheus-auth-secret must be NAMESPACE/NAME, got "${ref}"`);
  const secret = await kube.get({ apiVersion: "v1", kind: "Secret", namespace, name });
  const data = (secret.data ?? {}) as Record<string, string>;
  const decode = (key: string) =>
    data[key] ? Buffer.from(data[key], "base64").toString("utf8").trim() : undefined;
  const token = decode("token");
  if (token) return { kind: "bearer" as const, token };
  const username = decode("username");
  const password = decode("password");
  if (username && password) return { kind: "basic" as const, username, password };
  throw new Error(`Secret ${ref} has neither a "token" key nor "username" and "password" keys`);
}
