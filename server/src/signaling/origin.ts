/**
 * WebSocket Origin check against cross-site WebSocket hijacking (RFC 6455
 * §10.2: servers must check Origin for browser clients).
 *
 * @param origin the Origin header (absent for non-browser clients: allowed)
 * @param host the Host header of the upgrade request
 * @param allowed extra allowed origins, `scheme://host[:port]`
 * @returns true when the origin is the server's own host or listed
 */
export function isOriginAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  if (allowed.includes(origin)) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && host !== undefined && url.host === host;
}

/** The slice of a fastify app {@link registerOriginProbe} needs. */
interface RouteHost {
  get(path: string, handler: (req: { headers: Record<string, string | string[] | undefined> }, reply: ProbeReply) => unknown): unknown;
}
interface ProbeReply {
  code(status: number): ProbeReply;
  header(name: string, value: string): ProbeReply;
  send(body: unknown): unknown;
}

/**
 * `GET <signaling path>` without an Upgrade header: 426 Upgrade Required
 * (RFC 9110 §15.5.22) with `Upgrade: websocket` and a body saying whether the
 * request's Origin would be accepted: `{ code: 'upgrade_required',
 * originAllowed }`, readable from any page (`Access-Control-Allow-Origin: *`,
 * no credentials; Fetch standard, CORS protocol).
 *
 * Why: a browser hides why a WebSocket upgrade failed (the 403 of a refused
 * origin and a server that is down both surface as close code 1006, WHATWG
 * WebSockets). After a failed open the SDK asks here, and reports
 * `origin_not_allowed` instead of retrying forever only on this positive
 * answer. It reveals nothing a 403 does not: no session, no data.
 */
export function registerOriginProbe(app: RouteHost, path: string, allowed: readonly string[]): void {
  app.get(path, (req, reply) => {
    const origin = typeof req.headers['origin'] === 'string' ? req.headers['origin'] : undefined;
    const host = typeof req.headers['host'] === 'string' ? req.headers['host'] : undefined;
    reply.header('upgrade', 'websocket').header('access-control-allow-origin', '*').header('cache-control', 'no-store');
    return reply.code(426).send({ code: 'upgrade_required', originAllowed: isOriginAllowed(origin, host, allowed) });
  });
}
