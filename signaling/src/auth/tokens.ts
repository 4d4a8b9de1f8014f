/**
 * Viewer tokens: JWTs (RFC 7519) signed by the embedding application's backend.
 *
 * Claims read by Vigil:
 * - `sub` (string, required): viewer id, recorded in logs/audit, never a label
 * - `cameras` (string[], required): scope entries, see ./scope.ts
 * - `exp` (required), `nbf` (optional): NumericDate seconds (RFC 7519 §4.1.4-5)
 * - `iss`, `aud` (required): must equal the configured values
 * - `jti` (optional): token id
 * Verification pins one algorithm (RFC 7518 §3.1; `none` and algorithm
 * confusion are refused by jsonwebtoken's `algorithms` option).
 */
import jwt from 'jsonwebtoken';
import { ErrorCode, ProtocolError } from '@vigil/protocol';
import type { AuthConfig } from '../config/schema.ts';
import { compileScope, type Scope } from './scope.ts';

/** What a verified token grants. */
export interface ViewerGrant {
  subject: string;
  scope: Scope;
  /** Token expiry (`exp`), ms since epoch. */
  expiresAt: number;
  /** When a session holding this grant must end: `exp` + clock tolerance, ms since epoch. */
  validUntil: number;
  tokenId?: string | undefined;
}

export interface TokenVerifierOptions {
  algorithm: AuthConfig['algorithm'];
  /** HS256 secret, or PEM public key for RS256/ES256. */
  key: string | Buffer;
  issuer: string;
  audience: string;
  clockToleranceSec: number;
}

/** Verifies viewer tokens against one pinned algorithm and key. */
export class TokenVerifier {
  readonly #opts: TokenVerifierOptions;

  constructor(opts: TokenVerifierOptions) {
    this.#opts = opts;
  }

  /**
   * @param token compact JWS
   * @param nowMs current time, ms since epoch (injectable for tests)
   * @returns the grant
   * @throws ProtocolError `token_expired` when exp (+ tolerance) has passed;
   *   `unauthorized` for every other failure (bad signature, wrong alg, iss,
   *   aud, nbf in the future, missing/ill-typed claims). Messages never echo the token.
   */
  verify(token: string, nowMs = Date.now()): ViewerGrant {
    const o = this.#opts;
    let payload: jwt.JwtPayload;
    try {
      const decoded = jwt.verify(token, o.key, {
        algorithms: [o.algorithm],
        issuer: o.issuer,
        audience: o.audience,
        clockTolerance: o.clockToleranceSec,
        clockTimestamp: Math.floor(nowMs / 1000),
      });
      if (typeof decoded === 'string') throw new ProtocolError(ErrorCode.Unauthorized, 'token payload is not a JSON object');
      payload = decoded;
    } catch (err) {
      if (err instanceof ProtocolError) throw err;
      if (err instanceof jwt.TokenExpiredError) throw new ProtocolError(ErrorCode.TokenExpired, 'token expired');
      if (err instanceof jwt.NotBeforeError) throw new ProtocolError(ErrorCode.Unauthorized, 'token not yet valid');
      throw new ProtocolError(ErrorCode.Unauthorized, 'token rejected');
    }
    if (typeof payload.exp !== 'number') throw new ProtocolError(ErrorCode.Unauthorized, 'token has no exp claim');
    if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 256) {
      throw new ProtocolError(ErrorCode.Unauthorized, 'token has no valid sub claim');
    }
    const cameras: unknown = payload['cameras'];
    if (!Array.isArray(cameras) || !cameras.every((c): c is string => typeof c === 'string')) {
      throw new ProtocolError(ErrorCode.Unauthorized, 'token has no valid cameras claim');
    }
    let scope: Scope;
    try {
      scope = compileScope(cameras);
    } catch {
      throw new ProtocolError(ErrorCode.Unauthorized, 'token has an invalid cameras claim');
    }
    return {
      subject: payload.sub,
      scope,
      expiresAt: payload.exp * 1000,
      validUntil: (payload.exp + o.clockToleranceSec) * 1000,
      tokenId: typeof payload.jti === 'string' ? payload.jti : undefined,
    };
  }
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
