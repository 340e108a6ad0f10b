// The fence around requests the operator sends on behalf of a namespace's
// user (a DriftMonitor's webhook and its own Prometheus address). Anyone who
// may create a DriftMonitor could otherwise make the operator, from inside the
// cluster and with a bearer token attached, call cloud metadata
// (169.254.169.254), its own loopback, or any Service or pod. A destination is
// refused when any address it resolves to is loopback, link-local,
// unspecified, or in the cluster's Service and pod ranges, unless the admin
// allowed it with --outbound-allow; http needs that allowance too. The
// request then connects to the checked address itself (pinned), so a DNS
// answer that changes between check and connect cannot bypass the fence.
// Redirects are not followed. Every request has a deadline and a response
// size limit, fenced or not.
import { lookup as dnsLookup } from "node:dns/promises";
import http from "node:http";
import https from "node:https";
import { BlockList, isIP, type LookupFunction } from "node:net";

export const OUTBOUND_TIMEOUT_MS = 10_000;
export const OUTBOUND_MAX_RESPONSE_BYTES = 1024 * 1024;
/** The flag that allows a fenced destination; named in every refusal. */
export const ALLOW_FLAG = "--outbound-allow";

type Range = { cidr: string; what: string; flag?: string };

const ALWAYS_FENCED: Range[] = [
  { cidr: "127.0.0.0/8", what: "loopback" },
  { cidr: "::1/128", what: "loopback" },
  { cidr: "169.254.0.0/16", what: "link-local (cloud metadata)" },
  { cidr: "fe80::/10", what: "link-local" },
  { cidr: "0.0.0.0/8", what: "unspecified" },
  { cidr: "::/128", what: "unspecified" },
];

export interface OutboundPolicy {
  /** Host names allowed as written (lower case), whatever they resolve to. */
  allowHosts: ReadonlySet<string>;
  /** Addresses and ranges allowed. */
  allowAddresses: BlockList;
  /** Fenced ranges with what they are, for the refusal message. */
  fenced: { list: BlockList; what: string }[];
}

export interface OutboundFlags {
  /** --outbound-allow: comma-separated host names, addresses or CIDRs. */
  allow?: string | undefined;
  /** --service-cidr and --pod-cidr: comma-separated CIDRs (dual stack gives two). */
  serviceCidr?: string | undefined;
  podCidr?: string | undefined;
}

/** The policy from the operator's flags; throws with a message naming the flag on a malformed value. */
export function outboundPolicy(flags: OutboundFlags = {}): OutboundPolicy {
  const allowHosts = new Set<string>();
  const allowAddresses = new BlockList();
  for (const entry of splitList(flags.allow)) {
    if (entry.includes("/")) addSubnet(allowAddresses, entry, ALLOW_FLAG);
    else if (isIP(unbracket(entry))) addSubnet(allowAddresses, unbracket(entry), ALLOW_FLAG);
    else if (/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(entry)) allowHosts.add(entry.toLowerCase());
    else throw new Error(`${ALLOW_FLAG}: "${entry}" is neither a host name, an address nor a CIDR`);
  }
  const ranges: Range[] = [
    ...ALWAYS_FENCED,
    ...splitList(flags.serviceCidr).map((cidr) => ({
      cidr,
      what: "cluster Service",
      flag: "--service-cidr",
    })),
    ...splitList(flags.podCidr).map((cidr) => ({ cidr, what: "cluster pod", flag: "--pod-cidr" })),
  ];
  const fenced = ranges.map(({ cidr, what, flag }) => {
    const list = new BlockList();
    addSubnet(list, cidr, flag ?? what);
    return { list, what };
  });
  return { allowHosts, allowAddresses, fenced };
}

/** What fenced range `address` is in (e.g. "loopback"), or undefined when it is not fenced. */
export function fencedRange(address: string, policy: OutboundPolicy): string | undefined {
  const ip = unmapIPv4(unbracket(address));
  const family = isIP(ip) === 6 ? "ipv6" : "ipv4";
  return policy.fenced.find((r) => r.list.check(ip, family))?.what;
}

/** Why a request to `url` whose host resolved to `addresses` is refused, or undefined when it may go. */
export function refusal(url: URL, addresses: string[], policy: OutboundPolicy): string | undefined {
  const host = unbracket(url.hostname).toLowerCase();
  const named = policy.allowHosts.has(host);
  const allowed = (a: string) => {
    const ip = unmapIPv4(a);
    return named || policy.allowAddresses.check(ip, isIP(ip) === 6 ? "ipv6" : "ipv4");
  };
  const how = `allow it with the operator flag ${ALLOW_FLAG} (chart value outbound.allow)`;
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `refused to send to a ${url.protocol} URL: only https (or http where allowed) is supported`;
  }
  for (const address of addresses) {
    const what = fencedRange(address, policy);
    if (what && !allowed(address)) {
      const is =
        address === host ? `it is a ${what} address` : `it resolves to ${address}, a ${what} address`;
      return `refused to send to ${host}: ${is}; ${how}`;
    }
  }
  if (url.protocol === "http:" && !addresses.every(allowed)) {
    return `refused to send to ${host} over plain http: use https, or ${how}`;
  }
  return undefined;
}

/** A refusal by the fence; the message says why and how to allow it. */
export class OutboundRefused extends Error {
  override name = "OutboundRefused";
}

export interface OutboundRequest {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}
export interface OutboundResponse {
  status: number;
  statusText: string;
  body: string;
}
export interface SendOptions {
  /** The fence; undefined for destinations the admin configured (e.g. --prometheus-address). */
  policy?: OutboundPolicy | undefined;
  timeoutMs?: number;
  maxResponseBytes?: number;
}

/**
 * One request, no redirects followed, within a deadline and a response size
 * limit. With a policy, every address the host resolves to is checked and the
 * connection goes to the first of them. Throws OutboundRefused, or an error
 * named TimeoutError on the deadline.
 */
export async function send(
  target: string,
  req: OutboundRequest,
  opts: SendOptions = {},
): Promise<OutboundResponse> {
  const url = new URL(target);
  const timeoutMs = opts.timeoutMs ?? OUTBOUND_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = req.signal ? AbortSignal.any([deadline, req.signal]) : deadline;
  const onAbort = (err: unknown) => {
    if (deadline.aborted) {
      const timeout = new Error(`${url.host} did not answer within ${timeoutMs / 1000}s`);
      timeout.name = "TimeoutError";
      return timeout;
    }
    return err;
  };
  try {
    const lookup = opts.policy ? await pinnedLookup(url, opts.policy, signal) : undefined;
    return await request(url, req, signal, lookup, opts.maxResponseBytes ?? OUTBOUND_MAX_RESPONSE_BYTES);
  } catch (err) {
    throw signal.aborted ? onAbort(err) : err;
  }
}

/** Resolves and checks the host; the lookup handed to the socket answers only the checked address. */
async function pinnedLookup(url: URL, policy: OutboundPolicy, signal: AbortSignal) {
  const host = unbracket(url.hostname);
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    const aborted = new Promise<never>((_, reject) =>
      signal.addEventListener("abort", () => reject(signal.reason), { once: true }),
    );
    const found = await Promise.race([dnsLookup(host, { all: true, verbatim: true }), aborted]);
    addresses = found.map((a) => a.address);
  }
  const why = refusal(url, addresses, policy);
  if (why) throw new OutboundRefused(why);
  const address = addresses[0] ?? "";
  const family = isIP(address);
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if (options.all)
      (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family }]);
    else callback(null, address, family);
  };
  return lookup;
}

function request(
  url: URL,
  req: OutboundRequest,
  signal: AbortSignal,
  lookup: LookupFunction | undefined,
  maxBytes: number,
): Promise<OutboundResponse> {
  const client = url.protocol === "https:" ? https : http;
  // No pooled sockets (agent: false): a kept-alive connection would skip the
  // pinned lookup, and one closed by the server under us fails the request.
  const headers = { ...req.headers };
  if (req.body !== undefined) headers["content-length"] = String(Buffer.byteLength(req.body));
  return new Promise((resolve, reject) => {
    const r = client.request(
      url,
      { method: req.method, headers, signal, agent: false, ...(lookup ? { lookup } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            res.destroy();
            reject(new Error(`answer from ${url.host} is larger than ${maxBytes} bytes; refused`));
            return;
          }
          chunks.push(chunk);
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? "",
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    r.on("error", reject);
    r.end(req.body);
  });
}

function splitList(text: string | undefined): string[] {
  return (text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function addSubnet(list: BlockList, cidr: string, flag: string): void {
  const [address = "", bits] = cidr.split("/");
  const family = isIP(address);
  const max = family === 6 ? 128 : 32;
  const prefix = bits === undefined ? max : Number(bits);
  if (!family || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    throw new Error(`${flag}: "${cidr}" is not an address or CIDR such as 10.96.0.0/12`);
  }
  list.addSubnet(address, prefix, family === 6 ? "ipv6" : "ipv4");
}

function unbracket(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** ::ffff:127.0.0.1 (or ::ffff:7f00:1) reaches 127.0.0.1: it is checked as the IPv4 address. */
function unmapIPv4(address: string): string {
  const m = /^::ffff:(?:0:)?(.+)$/i.exec(address);
  if (!m?.[1]) return address;
  if (isIP(m[1]) === 4) return m[1];
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(m[1]);
  if (!hex) return address;
  const hi = Number.parseInt(hex[1] ?? "0", 16);
  const lo = Number.parseInt(hex[2] ?? "0", 16);
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
}
