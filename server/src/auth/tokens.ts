/**
 * Viewer tokens: JWTs (RFC 7519) signed by the embedding application's backend.
 *
 * Claims read by Vigil:
 * - `sub` (string, required): viewer id, recorded in logs/audit, never a label
 * - `cameras` (string[]): scope entries, see ./scope.ts; required unless `groups` is given
 * - `groups` (string[], optional): names of server-configured scopes (config `auth.groups`)
 * - `maxStreams` (integer >= 1, optional): most concurrent streams for this subject
 * - `exp` (required), `nbf` (optional): NumericDate seconds (RFC 7519 §4.1.4-5)
 * - `iss`, `aud` (required): must equal the configured values
 * - `jti` (optional): token id, what a revocation names
 * Verification pins one algorithm (RFC 7518 §3.1; `none` and algorithm
 * confusion are refused by jsonwebtoken's `algorithms` option and by key
 * sources that only yield keys of the pinned family, see ./keys.ts).
 * Header parameters that carry keys (`jwk`, `jku`, `x5u`, `x5c`) are ignored:
 * keys come only from config.
 */
import jwt from 'jsonwebtoken';
import { ErrorCode, ProtocolError } from '@vigil/protocol';
import type { AuthConfig } from '../config/schema.ts';
import { MAX_ENTRIES, compileScope, unionScope, type Scope } from './scope.ts';
import { StaticKeySource, type KeySource } from './keys.ts';

/** What a verified token grants. */
export interface ViewerGrant {
  subject: string;
  scope: Scope;
  /** Token expiry (`exp`), ms since epoch. */
  expiresAt: number;
  /** When a session holding this grant must end: `exp` + clock tolerance, ms since epoch. */
  validUntil: number;
  tokenId?: string | undefined;
  /** The `groups` claim as given (empty when absent). */
  groups: readonly string[];
  /** The `maxStreams` claim: most concurrent consumers for this subject, across connections. */
  maxStreams?: number | undefined;
}

export interface TokenVerifierOptions {
  algorithm: AuthConfig['algorithm'];
  /** HS256 secret, or PEM public key for RS256/ES256 (shorthand for a {@link StaticKeySource}). */
  key?: string | Buffer;
  /** Where keys come from (static, JWKS); wins over `key`. */
  keys?: KeySource;
  issuer: string;
  audience: string;
  clockToleranceSec: number;
  /** Scopes granted by the `groups` claim, by group name (config `auth.groups`). */
  groups?: Readonly<Record<string, readonly string[]>>;
  /** Longest accepted lifetime: `exp` at most this far (+ clock tolerance) beyond now, s (default {@link DEFAULT_MAX_TOKEN_LIFETIME_SEC}). */
  maxTokenLifetimeSec?: number;
}

/** Default `auth.maxTokenLifetimeSec`: 4 hours. */
export const DEFAULT_MAX_TOKEN_LIFETIME_SEC = 4 * 3600;

const MAX_GROUPS = 64;
const MAX_KID_LENGTH = 256;

/** Verifies viewer tokens against one pinned algorithm and its key source. */
export class TokenVerifier {
  readonly #opts: TokenVerifierOptions;
  readonly #keys: KeySource;
  readonly #groupScopes: Map<string, Scope>;

  /**
   * @throws KeyError when `key` does not fit the algorithm; ScopeError when a group's entries are invalid
   */
  constructor(opts: TokenVerifierOptions) {
    this.#opts = opts;
    if (opts.keys) this.#keys = opts.keys;
    else if (opts.key !== undefined) this.#keys = new StaticKeySource(opts.algorithm, opts.key);
    else throw new Error('TokenVerifier needs key or keys');
    this.#groupScopes = new Map(Object.entries(opts.groups ?? {}).map(([name, entries]) => [name, compileScope(entries)]));
  }

  /**
   * @param token compact JWS
   * @param nowMs current time, ms since epoch (injectable for tests)
   * @returns the grant
   * @throws ProtocolError `token_expired` when exp (+ tolerance) has passed;
   *   `unauthorized` for every other failure (bad signature, wrong alg, unknown
   *   kid, iss, aud, nbf in the future, missing/ill-typed claims, an `exp`
   *   that is not a finite number or lies more than `maxTokenLifetimeSec`
   *   (+ clock tolerance) ahead). Messages never echo the token.
   */
  async verify(token: string, nowMs = Date.now()): Promise<ViewerGrant> {
    const o = this.#opts;
    const header = decodeHeader(token);
    const key = await this.#keys.resolve(header.kid);
    if (!key) throw new ProtocolError(ErrorCode.Unauthorized, 'token rejected');
    let payload: jwt.JwtPayload;
    try {
      const decoded = jwt.verify(token, key, {
        algorithms: [o.algorithm],
        issuer: o.issuer,
        audience: o.audience,
        clockTolerance: o.clockToleranceSec,
        clockTimestamp: Math.floor(nowMs / 1000),
      });
      // Stryker disable next-line all: unreachable defence, jsonwebtoken refuses a non-object payload whenever issuer or audience is checked (both always are)
      if (typeof decoded === 'string') throw new ProtocolError(ErrorCode.Unauthorized, 'token payload is not a JSON object');
      payload = decoded;
    } catch (err) {
      // Stryker: the `if (false)` mutant is equivalent: the only ProtocolError thrown in the try is the unreachable one above
      if (err instanceof ProtocolError) throw err;
      if (err instanceof jwt.TokenExpiredError) throw new ProtocolError(ErrorCode.TokenExpired, 'token expired');
      if (err instanceof jwt.NotBeforeError) throw new ProtocolError(ErrorCode.Unauthorized, 'token not yet valid');
      throw new ProtocolError(ErrorCode.Unauthorized, 'token rejected');
    }
    if (payload.exp === undefined) throw new ProtocolError(ErrorCode.Unauthorized, 'token has no exp claim');
    // JSON's 1e400 parses to Infinity: a number, but no NumericDate (RFC 7519 §2).
    if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) throw new ProtocolError(ErrorCode.Unauthorized, 'token exp claim is not a finite NumericDate');
    // A far-future exp is a long-lived bearer credential (and 1e300 breaks date arithmetic): bounded.
    const maxLifetimeSec = (o.maxTokenLifetimeSec ?? DEFAULT_MAX_TOKEN_LIFETIME_SEC) + o.clockToleranceSec;
    if (payload.exp * 1000 - nowMs > maxLifetimeSec * 1000) throw new ProtocolError(ErrorCode.Unauthorized, 'token lifetime too long');
    if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 256) {
      throw new ProtocolError(ErrorCode.Unauthorized, 'token has no valid sub claim');
    }
    const groups = readStringArray(payload['groups'], MAX_GROUPS, 'groups') ?? [];
    const cameras = readStringArray(payload['cameras'], MAX_ENTRIES, 'cameras') ?? (groups.length > 0 ? [] : undefined);
    if (!cameras) throw new ProtocolError(ErrorCode.Unauthorized, 'token has no valid cameras claim');
    let scope: Scope;
    try {
      scope = compileScope(cameras);
    } catch {
      throw new ProtocolError(ErrorCode.Unauthorized, 'token has an invalid cameras claim');
    }
    // A group the server does not define grants nothing.
    const granted = groups.flatMap((g) => this.#groupScopes.get(g) ?? []);
    scope = unionScope([scope, ...granted]);
    const maxStreams: unknown = payload['maxStreams'];
    if (maxStreams !== undefined && !(Number.isInteger(maxStreams) && (maxStreams as number) >= 1 && (maxStreams as number) <= 100_000)) {
      throw new ProtocolError(ErrorCode.Unauthorized, 'token has an invalid maxStreams claim');
    }
    if (payload.jti !== undefined && (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 256)) {
      throw new ProtocolError(ErrorCode.Unauthorized, 'token has an invalid jti claim');
    }
    return {
      subject: payload.sub,
      scope,
      expiresAt: payload.exp * 1000,
      validUntil: (payload.exp + o.clockToleranceSec) * 1000,
      tokenId: payload.jti,
      groups,
      maxStreams: maxStreams as number | undefined,
    };
  }
}

/** The JOSE header (RFC 7515 §4) of a compact JWS, before any trust: only `kid` is read from it here. */
function decodeHeader(token: string): { kid: string | undefined } {
  let decoded: jwt.Jwt | null;
  try {
    decoded = jwt.decode(token, { complete: true });
  } catch {
    decoded = null;
  }
  // Stryker: the `typeof decoded.header !== 'object'` → `false` mutant is equivalent: a non-object header (a JSON string or number) has no kid and jwt.verify then refuses the token with the same 'token rejected'
  if (!decoded || typeof decoded.header !== 'object') throw new ProtocolError(ErrorCode.Unauthorized, 'token rejected');
  const kid: unknown = decoded.header.kid;
  if (kid === undefined) return { kid: undefined };
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > MAX_KID_LENGTH) {
    throw new ProtocolError(ErrorCode.Unauthorized, 'token rejected');
  }
  return { kid };
}

/** undefined when absent; throws `unauthorized` when present but not a short enough string array. */
function readStringArray(value: unknown, max: number, claim: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > max || !value.every((c): c is string => typeof c === 'string')) {
    throw new ProtocolError(ErrorCode.Unauthorized, `token has no valid ${claim} claim`);
  }
  return value;
}

/** Claims for {@link signViewerToken}. */
export interface ViewerTokenClaims {
  subject: string;
  cameras: string[];
  /** Lifetime, s. */
  ttlSec: number;
}

/**
 * Signs a viewer token with an HS256 secret (the demo and tests; production
 * tokens come from the embedding app's backend, see README).
 */
export function signViewerToken(
  secret: string,
  claims: ViewerTokenClaims,
  opts: { issuer: string; audience: string },
): string {
  return jwt.sign({ cameras: claims.cameras }, secret, {
    algorithm: 'HS256',
    subject: claims.subject,
    expiresIn: claims.ttlSec,
    issuer: opts.issuer,
    audience: opts.audience,
    jwtid: crypto.randomUUID(),
  });
}
