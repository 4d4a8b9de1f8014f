/**
 * Time-limited TURN credentials after the "TURN REST API" convention
 * (draft-uberti-behave-turn-rest-00 §2.2), which coturn implements with
 * `use-auth-secret` + `static-auth-secret`:
 *   username   = `<expiry, unix seconds>:<user id>`
 *   credential = base64(HMAC-SHA1(shared secret, username))
 * The TURN server recomputes the credential from the username and refuses it
 * after the expiry, so nothing is stored and a leaked credential dies on its own.
 * It also means a credential cannot be revoked before its expiry (coturn has
 * no revocation of these): Vigil caps the expiry at the viewer token's `exp`
 * and issues new credentials at each token refresh.
 */
import { createHmac } from 'node:crypto';

export interface TurnServerConfig {
  /** TURN URIs (RFC 7065). */
  urls: string[];
  /** The TURN server's shared secret. */
  secret: string;
  /** Credential lifetime, s. */
  ttlSec: number;
}

/** An RTCIceServer (W3C webrtc-pc §4.2.1) with long-term credentials. */
export interface TurnIceServer {
  urls: string[];
  username: string;
  credential: string;
}

/**
 * @param cfg TURN URIs, secret, lifetime
 * @param userId the viewer's token subject (a `:` in it is kept; coturn reads the expiry before the first `:`)
 * @param nowMs current time, ms since epoch
 * @param notAfterMs the credential expires no later than this (the viewer
 *   token's `exp`), ms since epoch; default: `ttlSec` alone decides
 * @returns the ice server entry and its expiry (ms since epoch)
 */
export function turnCredentials(
  cfg: TurnServerConfig,
  userId: string,
  nowMs = Date.now(),
  notAfterMs = Infinity,
): { iceServer: TurnIceServer; expiresAt: number } {
  const expiry = Math.min(Math.floor(nowMs / 1000) + cfg.ttlSec, Math.floor(notAfterMs / 1000));
  const username = `${expiry}:${userId}`;
  const credential = createHmac('sha1', cfg.secret).update(username).digest('base64');
  return { iceServer: { urls: [...cfg.urls], username, credential }, expiresAt: expiry * 1000 };
}
