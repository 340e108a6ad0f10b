// The cluster's certificates, made with the openssl CLI. EC P-256 keys keep
// generation to a few milliseconds per certificate, so every start can make a
// fresh PKI instead of caching secrets between runs.
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { NodeNetwork } from "./node-network.ts";
import { REAL_NODE_NAME } from "./real-node-config.ts";

const run = promisify(execFile);

export interface KeyPair {
  cert: string;
  key: string;
}

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  apiserver: KeyPair;
  /** Signs and verifies service account tokens. */
  serviceAccountKey: string;
  clients: Record<ClientName, KeyPair>;
  /** The real node's kubelet serving certificate (for its InternalIP). */
  kubeletServing: KeyPair;
  /**
   * The aggregation layer: a CA of its own (as kubeadm makes it) whose
   * client certificate the apiserver presents to aggregated API servers,
   * which trust X-Remote-User/-Group only from a client it signed.
   */
  frontProxyCaCert: string;
  frontProxyClient: KeyPair;
}

/** The CN aggregated API servers accept forwarded identities from (--requestheader-allowed-names). */
export const FRONT_PROXY_CLIENT_CN = "front-proxy-client";

/** Client identities: the operator has its own user so its requests stand out in the audit log. */
export const clientSubjects = {
  admin: "/O=system:masters/CN=kubernetes-admin",
  operator: "/O=system:masters/CN=modelops-operator",
  // With --use-service-account-credentials=false every controller acts as the
  // manager itself, and its bootstrap role does not cover them all.
  "controller-manager": "/O=system:masters/CN=system:kube-controller-manager",
  scheduler: "/CN=system:kube-scheduler",
  kwok: "/O=system:masters/CN=kwok-controller",
  // The real node (real-node.ts): kubelet as the Node authorizer expects it,
  // kube-proxy as bound to system:node-proxier by default, and the
  // apiserver's own identity towards kubelets (logs, port-forward).
  kubelet: `/O=system:nodes/CN=system:node:${REAL_NODE_NAME}`,
  "kube-proxy": "/CN=system:kube-proxy",
  "apiserver-kubelet-client": "/O=system:masters/CN=kube-apiserver-kubelet-client",
  // A test cluster's DNS; its reads (Services, EndpointSlices, Namespaces) are not what tests examine.
  coredns: "/O=system:masters/CN=coredns",
} as const;

export type ClientName = keyof typeof clientSubjects;

const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc"];
const days = ["-days", "3650"];

async function openssl(args: string[]): Promise<void> {
  try {
    await run("openssl", args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? "";
    throw new Error(`openssl ${args.slice(0, 2).join(" ")} failed: ${stderr || String(err)}`);
  }
}

async function makeCa(
  dir: string,
  name = "ca",
  cn = "modelops-local-ca",
): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await openssl([
    "req",
    "-x509",
    "-new",
    ...ecKey,
    "-keyout",
    key,
    "-out",
    cert,
    "-subj",
    `/CN=${cn}`,
    ...days,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
  ]);
  return { cert, key };
}

async function signed(
  ca: { cert: string; key: string },
  path: string,
  subject: string,
  extensions: string[],
): Promise<KeyPair> {
  const pair = { cert: `${path}.crt`, key: `${path}.key` };
  const addext = extensions.flatMap((e) => ["-addext", e]);
  await openssl([
    "req",
    "-x509",
    "-new",
    ...ecKey,
    "-keyout",
    pair.key,
    "-out",
    pair.cert,
    "-subj",
    subject,
    "-CA",
    ca.cert,
    "-CAkey",
    ca.key,
    ...days,
    "-addext",
    "basicConstraints=critical,CA:FALSE",
    "-addext",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    ...addext,
  ]);
  return pair;
}

const apiserverSans = (net: NodeNetwork) => [
  "IP:127.0.0.1",
  `IP:${net.kubernetesServiceIp}`, // the `kubernetes` Service's cluster IP, first of --service-cluster-ip-range
  `IP:${net.hostIp}`, // where the real node reaches the apiserver (real-node.ts)
  "DNS:localhost",
  "DNS:kubernetes",
  "DNS:kubernetes.default",
  "DNS:kubernetes.default.svc",
  "DNS:kubernetes.default.svc.cluster.local",
];

/** Creates the CA, the apiserver's serving cert, the SA signing key and every client cert in `dir`. */
export async function createPki(dir: string, net: NodeNetwork): Promise<Pki> {
  mkdirSync(dir, { recursive: true });
  const [ca, frontProxyCa] = await Promise.all([
    makeCa(dir),
    makeCa(dir, "front-proxy-ca", "modelops-local-front-proxy-ca"),
  ]);
  await Promise.all([
    signed(frontProxyCa, join(dir, "front-proxy-client"), `/CN=${FRONT_PROXY_CLIENT_CN}`, [
      "extendedKeyUsage=clientAuth",
    ]),
    signed(ca, join(dir, "apiserver"), "/CN=kube-apiserver", [
      "extendedKeyUsage=serverAuth",
      `subjectAltName=${apiserverSans(net).join(",")}`,
    ]),
    signed(ca, join(dir, "kubelet-serving"), `/CN=${REAL_NODE_NAME}`, [
      "extendedKeyUsage=serverAuth",
      `subjectAltName=IP:${net.nodeIp},DNS:${REAL_NODE_NAME}`,
    ]),
    // SEC1 ("EC PRIVATE KEY"), not PKCS#8: --service-account-key-file reads
    // public keys out of private key files only in the RSA and SEC1 forms.
    openssl([
      "ecparam",
      "-name",
      "prime256v1",
      "-genkey",
      "-noout",
      "-out",
      join(dir, "service-account.key"),
    ]),
    ...(Object.keys(clientSubjects) as ClientName[]).map((n) =>
      signed(ca, join(dir, `client-${n}`), clientSubjects[n], ["extendedKeyUsage=clientAuth"]),
    ),
  ]);
  return pkiIn(dir);
}

/** The paths createPki wrote in `dir`, for a process that did not create them. */
export function pkiIn(dir: string): Pki {
  const pair = (name: string): KeyPair => ({ cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) });
  const names = Object.keys(clientSubjects) as ClientName[];
  return {
    dir,
    caCert: join(dir, "ca.crt"),
    caKey: join(dir, "ca.key"),
    apiserver: pair("apiserver"),
    kubeletServing: pair("kubelet-serving"),
    frontProxyCaCert: join(dir, "front-proxy-ca.crt"),
    frontProxyClient: pair("front-proxy-client"),
    serviceAccountKey: join(dir, "service-account.key"),
    clients: Object.fromEntries(names.map((n) => [n, pair(`client-${n}`)])) as Record<ClientName, KeyPair>,
  };
}

/** A kubeconfig with the certificates embedded, so it works from any directory or container. */
export function kubeconfigFor(pki: Pki, client: ClientName, server: string): string {
  const b64 = (p: string) => readFileSync(p).toString("base64");
  const pair = pki.clients[client];
  const user = `modelops-local-${client}`;
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: modelops-local",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(pki.caCert)}`,
    "users:",
    `- name: ${user}`,
    "  user:",
    `    client-certificate-data: ${b64(pair.cert)}`,
    `    client-key-data: ${b64(pair.key)}`,
    "contexts:",
    "- name: modelops-local",
    "  context:",
    "    cluster: modelops-local",
    `    user: ${user}`,
    "    namespace: default",
    "current-context: modelops-local",
    "",
  ].join("\n");
}
