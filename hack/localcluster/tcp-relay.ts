// A TCP relay from the host's end of the real node's link to the apiserver on
// loopback: the node's kubelet and kube-proxy live in their own network
// namespace, where the host's 127.0.0.1 is not reachable. TLS passes through
// untouched (the apiserver's certificate names the link address).
//   node hack/localcluster/tcp-relay.ts LISTEN_HOST:PORT TARGET_HOST:PORT [TAG]
// (TAG is ignored: it lets the node's reaper recognise the process.)
import { connect, createServer } from "node:net";

function hostPort(s: string | undefined): { host: string; port: number } {
  const m = /^(.+):(\d+)$/.exec(s ?? "");
  if (!m) throw new Error(`expected HOST:PORT, got ${s}`);
  return { host: m[1] as string, port: Number(m[2]) };
}

const listen = hostPort(process.argv[2]);
const target = hostPort(process.argv[3]);

const server = createServer((client) => {
  const upstream = connect(target.port, target.host);
  client.pipe(upstream).pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on("error", close);
  upstream.on("error", close);
});
server.listen(listen.port, listen.host, () => {
  console.log(`relaying ${listen.host}:${listen.port} -> ${target.host}:${target.port}`);
});
for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => process.exit(0));
