/**
 * Typed refusal codes carried in `{ ok: false, error: { code, message } }`.
 *
 * `forbidden` is used both for a camera outside the caller's scope and for a
 * camera that does not exist, so the API never reveals which cameras exist.
 */
export const ErrorCode = {
  /** The message is not JSON, too large, or does not match its schema. */
  BadRequest: 'bad_request',
  /** `join` carried a protocol version this server does not speak. */
  UnsupportedVersion: 'unsupported_version',
  /** The token is missing, malformed, forged, revoked, or fails iss/aud/nbf checks. */
  Unauthorized: 'unauthorized',
  /** The token's `exp` has passed. The client may `join` again with a fresh one. */
  TokenExpired: 'token_expired',
  /** Camera unknown or outside the token's scope (deliberately indistinguishable). */
  Forbidden: 'forbidden',
  /** The message needs a joined session (send `join` first). */
  NotJoined: 'not_joined',
  /** `join` sent twice on one connection. */
  AlreadyJoined: 'already_joined',
  /** A transport or consumer id that this session does not own. */
  NotFound: 'not_found',
  /** The camera is in scope but has no live stream right now. */
  CameraOffline: 'camera_offline',
  /** The browser cannot decode the camera's codec (RTP capabilities mismatch). */
  UnsupportedCodec: 'unsupported_codec',
  /** A per-connection cap (transports, consumers) was reached. */
  LimitExceeded: 'limit_exceeded',
  /** Too many joins or consumes from this address or subject; retry later. */
  RateLimited: 'rate_limited',
  /**
   * The page's origin is not one the server accepts (`http.allowedOrigins`):
   * the WebSocket upgrade was refused with 403 (RFC 6455 §10.2). Raised by
   * the SDK, which learns it from the signaling URL's CORS answer; not retried.
   */
  OriginNotAllowed: 'origin_not_allowed',
  /**
   * A cluster node cannot serve the camera now because the cluster's registry
   * (Redis) is unreachable: it neither ingests the camera nor pulls it already,
   * and cannot find its origin. Retry later; cameras it serves keep playing.
   */
  ClusterUnavailable: 'cluster_unavailable',
  /** Something failed on the server; details are in the server log, not here. */
  Internal: 'internal',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The error object of a refused request. `message` is human-readable and never echoes input. */
export interface ProtocolErrorBody {
  code: ErrorCode;
  message: string;
}

/**
 * An error carrying a protocol error code; thrown by server handlers and
 * rethrown by the SDK when the server refuses a request.
 */
export class ProtocolError extends Error {
  readonly code: ErrorCode;

  /**
   * @param code one of {@link ErrorCode}
   * @param message safe to show to the caller; must not contain tokens or stack traces
   */
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
  }

  /** The wire form `{ code, message }`. */
  toBody(): ProtocolErrorBody {
    return { code: this.code, message: this.message };
  }
}
