/**
 * An RTSP camera source: the typed error every RTSP step throws (its config
 * schema lives with the config, ../../config/rtsp-source.ts), and the credential hygiene helpers (URL redaction, scrubbing of
 * ffmpeg/ffprobe output).
 *
 * Sources: RTSP 1.0 (RFC 2326), URL syntax and userinfo (RFC 3986 §3.2.1),
 * HTTP Basic (RFC 7617) and Digest (RFC 7616 / RFC 2617) authentication as
 * RTSP uses them.
 */
export { RtspSourceSchema, type RtspSource, type RtspSourceInput } from '../../config/rtsp-source.ts';
import type { RtspSourceInput } from '../../config/rtsp-source.ts';

/** Machine-readable reasons an RTSP probe or relay fails. */
export const RTSP_ERROR_REASONS = ['unauthorized', 'not_found', 'unreachable', 'timeout', 'no_video', 'protocol'] as const;
export type RtspErrorReason = (typeof RTSP_ERROR_REASONS)[number];

/**
 * An RTSP step failed. `reason` is for machines (camera state, metrics);
 * `message` for people. Neither contains credentials: URLs are redacted and
 * ffmpeg's output is scrubbed before it is quoted (`detail`).
 */
export class RtspError extends Error {
  readonly reason: RtspErrorReason;
  /** The last meaningful line ffmpeg/ffprobe printed, scrubbed of credentials. */
  readonly detail: string | undefined;

  constructor(reason: RtspErrorReason, message: string, detail?: string) {
    super(message);
    this.name = 'RtspError';
    this.reason = reason;
    this.detail = detail;
  }
}

const SECRET_QUERY_KEY = /pass|pwd|user|token|auth|key|secret|sig/i;

/**
 * A URL safe to log: userinfo (RFC 3986 §3.2.1) becomes `***`, and values of
 * query parameters that look like credentials (`password=`, `user=`,
 * `token=`, ...; some cameras take them there) become `***`.
 * Works on any `scheme://` URL and on text that is not a URL (returned
 * unchanged except for the replacements).
 *
 * @example redactUrl('rtsp://admin:s3cret@10.0.0.7:554/live?token=x') === 'rtsp://***@10.0.0.7:554/live?token=***'
 */
export function redactUrl(url: string): string {
  return url
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^/?#\s]*@/gi, '$1***@')
    .replace(/([?&;])([^=&#\s'"]+)=([^&#\s'"]*)/g, (all, sep: string, key: string) =>
      SECRET_QUERY_KEY.test(key) ? `${sep}${key}=***` : all,
    );
}

/** Shortest credential that is also replaced where it appears outside a URL (shorter ones would garble text). */
const MIN_LITERAL_SECRET = 3;

/**
 * Removes credentials from text ffmpeg or ffprobe printed: every URL's
 * userinfo and credential-like query values ({@link redactUrl}), then every
 * literal occurrence of the password and username, raw and percent-encoded
 * (RFC 3986 §2.1), when at least 3 characters long.
 */
export function scrubCredentials(text: string, source: Pick<RtspSourceInput, 'username' | 'password'>): string {
  let out = redactUrl(text);
  for (const secret of [source.password, source.username]) {
    if (!secret || secret.length < MIN_LITERAL_SECRET) continue;
    for (const form of new Set([secret, encodeURIComponent(secret), encodeUserinfo(secret)])) out = out.split(form).join('***');
  }
  return out;
}

/**
 * The source URL with credentials as userinfo, percent-encoded (RFC 3986
 * §3.2.1, {@link encodeUserinfo}; ffmpeg decodes them before answering Basic
 * or Digest). Only for
 * {@link prepareRtspInput}: never log it.
 *
 * @throws RtspError('protocol') when the URL is not `rtsp://` or already holds userinfo
 */
export function urlWithCredentials(source: RtspSourceInput): string {
  const m = /^rtsp:\/\/([^/?#\s]+)(.*)$/i.exec(source.url);
  if (!m || m[1]!.includes('@')) {
    throw new RtspError('protocol', `not an rtsp:// URL without credentials: ${redactUrl(source.url)}`);
  }
  if (source.password !== undefined && !source.username) {
    throw new RtspError('protocol', `${redactUrl(source.url)}: a password needs a username`);
  }
  if (!source.username) return source.url;
  const userinfo = encodeUserinfo(source.username) + (source.password !== undefined ? `:${encodeUserinfo(source.password)}` : '');
  return `rtsp://${userinfo}@${m[1]}${m[2]}`;
}

/**
 * Percent-encodes everything but RFC 3986 unreserved characters (§2.3), so
 * the userinfo holds no quote, parenthesis or other character ffconcat or a
 * log reader could trip over.
 */
export function encodeUserinfo(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** True when the source carries credentials. */
export function hasCredentials(source: RtspSourceInput): boolean {
  return Boolean(source.username);
}
