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
