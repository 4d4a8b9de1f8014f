/**
 * The client's address as Vigil uses it (per-address limits, audit, logs)
 * when it may sit behind load balancers: `X-Forwarded-For` (the de-facto
 * header, RFC 7239 §5.2 describes its `for=` successor) is believed only from
 * the configured proxy addresses (`http.trustedProxies`: IPs or CIDRs, IPv4
 * and IPv6), walking the chain from the socket's peer leftwards and stopping
 * at the first untrusted hop. A client forging the header from anywhere else
 * gets its own socket address. With no trusted proxies the socket address is
 * used as is (the header is ignored).
 *
 * The same compiled trust function (@fastify/proxy-addr, the one fastify
 * uses) is handed to fastify's `trustProxy`, so `request.ip` on HTTP routes,
 * the WebSocket upgrade (signaling) and the audit trail agree on one address.
 * PROXY protocol (haproxy `send-proxy`) is not read: Node's HTTP server does
 * not parse it; use `option forwardfor`.
 */
import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';

/** Trust function: true when the hop at `addr` (distance `i` from the socket) is a trusted proxy. */
export type ProxyTrust = (addr: string, i: number) => boolean;

/** Resolves the client address of a request (HTTP or WebSocket upgrade); undefined when the socket is already gone. */
export type ClientAddressResolver = (req: IncomingMessage) => string | undefined;

/**
 * Compiles `http.trustedProxies`.
 * @param trusted IPs or CIDRs (e.g. `10.0.0.0/8`, `::1`); empty: trust none
 * @returns the trust function (for fastify's `trustProxy`) or undefined when none is trusted
 * @throws Error naming the entry when one is not an IP address or CIDR
 */
export function compileTrustedProxies(trusted: readonly string[]): ProxyTrust | undefined {
  if (trusted.length === 0) return undefined;
  try {
    return proxyAddr.compile([...trusted]);
  } catch (err) {
    throw new Error(`http.trustedProxies: ${(err as Error).message}`);
  }
}

/** The resolver for `trust` (from {@link compileTrustedProxies}); without one, the socket's peer address. */
export function clientAddressResolver(trust: ProxyTrust | undefined): ClientAddressResolver {
  if (!trust) return (req) => req.socket.remoteAddress;
  return (req) => (req.socket.remoteAddress === undefined ? undefined : proxyAddr(req, trust));
}

/**
 * Config check for `http.trustedProxies` (run at load, so a typo stops the start with a config error).
 * @returns one message per entry that is not an IP address or CIDR
 */
export function trustedProxyIssues(trusted: readonly string[]): string[] {
  const issues: string[] = [];
  trusted.forEach((entry, i) => {
    try {
      proxyAddr.compile(entry);
    } catch {
      issues.push(`http.trustedProxies[${i}]: not an IP address or CIDR`);
    }
  });
  return issues;
}
