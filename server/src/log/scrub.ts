/**
 * Scrubs secrets out of log text wherever they appear, complementing pino's
 * path-based redaction (which only knows key names):
 *
 * - credentials in URLs (`rtsp://user:pass@host/...`, RFC 3986 §3.2.1
 *   userinfo, which RFC 3986 §7.5 says should not be displayed) become
 *   `rtsp://[redacted]@host/...`;
 * - JSON Web Tokens (RFC 7519 compact form: three base64url parts, the first
 *   starting `eyJ`, i.e. `{"`) become `[redacted-jwt]`;
 * - `Bearer <credential>` becomes `Bearer [redacted]`.
 */

/** Userinfo never holds a quote or backslash, so a match cannot run across JSON fields. */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"\\]+@/gi;
const JWT = /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
const BEARER = /\b(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi;

/** Returns `s` with URL credentials, JWTs and bearer credentials replaced. */
export function scrubString(s: string): string {
  if (s.length < 8) return s;
  return s.replace(URL_USERINFO, '$1[redacted]@').replace(JWT, '[redacted-jwt]').replace(BEARER, '$1[redacted]');
}
