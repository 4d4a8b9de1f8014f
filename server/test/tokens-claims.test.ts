/**
 * Viewer token claims at their bounds (each at its exact limit and one past
 * it), and every refusal as the client sees it: code and message, each
 * naming the failed check and never the token.
 */
import { describe, expect, it } from 'vitest';
import jwt from 'jsonwebtoken';
import { ErrorCode, ProtocolError } from '@vigil/protocol';
import { TokenVerifier, type TokenVerifierOptions } from '../src/auth/tokens.ts';

const SECRET = 'unit-secret-0123456789-abcdefghijklmnopq';
const ISS = 'vigil';
const AUD = 'vigil-viewer';
const TOLERANCE_SEC = 5;
const nowSec = Math.floor(Date.now() / 1000);

const verifier = (extra: Partial<TokenVerifierOptions> = {}) =>
  new TokenVerifier({ algorithm: 'HS256', key: SECRET, issuer: ISS, audience: AUD, clockToleranceSec: TOLERANCE_SEC, ...extra });

const claims = (extra: Record<string, unknown> = {}) => ({ sub: 'u1', cameras: ['cam-1'], iss: ISS, aud: AUD, exp: nowSec + 60, ...extra });
const sign = (extra: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
  jwt.sign(claims(extra), SECRET, { header: { alg: 'HS256', ...header } as jwt.JwtHeader });

/** 'accepted', or the refusal as `code: message`. */
async function outcome(v: TokenVerifier, token: string): Promise<string> {
  try {
    await v.verify(token);
    return 'accepted';
  } catch (err) {
    if (err instanceof ProtocolError) return `${err.code}: ${err.message}`;
    throw err;
  }
}

const refused = (message: string) => `${ErrorCode.Unauthorized}: ${message}`;
const ids = (n: number, prefix = 'cam-') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('viewer token claims at their bounds', () => {
  it('each refusal names its check (and only that)', async () => {
    const v = verifier();
    const { exp: _exp, ...noExp } = claims();
    const cases: [string, string][] = [
      [sign({ exp: nowSec - 60 }), `${ErrorCode.TokenExpired}: token expired`],
      [sign({ nbf: nowSec + 120 }), refused('token not yet valid')],
      [sign({ iss: 'evil' }), refused('token rejected')],
      [jwt.sign(claims(), 'another-secret-0123456789-abcdefghijklm'), refused('token rejected')],
      [jwt.sign(noExp, SECRET), refused('token has no exp claim')],
      [sign({ exp: nowSec + 30 * 86_400 }), refused('token lifetime too long')],
      [sign({ sub: '' }), refused('token has no valid sub claim')],
      [sign({ groups: 'admins' }), refused('token has no valid groups claim')],
      [sign({ cameras: undefined }), refused('token has no valid cameras claim')],
      [sign({ cameras: ['cam-1', 5] }), refused('token has no valid cameras claim')],
      [sign({ cameras: ['(.*)'] }), refused('token has an invalid cameras claim')],
      [sign({ maxStreams: 0 }), refused('token has an invalid maxStreams claim')],
      [sign({ jti: '' }), refused('token has an invalid jti claim')],
      [sign({}, { kid: '' }), refused('token rejected')],
      ['not.a.jwt', refused('token rejected')],
      [jwt.sign('a payload that is not a JSON object', SECRET), refused('token rejected')],
    ];
    for (const [token, expected] of cases) expect(await outcome(v, token)).toBe(expected);
  });

  it('a key source that has no key for the token refuses it', async () => {
    const v = verifier({ key: undefined, keys: { resolve: async () => undefined } });
    expect(await outcome(v, sign({}, { kid: 'unknown' }))).toBe(refused('token rejected'));
  });

  it('needs a key or a key source', () => {
    expect(() => new TokenVerifier({ algorithm: 'HS256', issuer: ISS, audience: AUD, clockToleranceSec: 0 })).toThrow(
      'TokenVerifier needs key or keys',
    );
  });

  it('sub: 256 characters accepted, 257 refused', async () => {
    const v = verifier();
    expect(await outcome(v, sign({ sub: 's'.repeat(256) }))).toBe('accepted');
    expect(await outcome(v, sign({ sub: 's'.repeat(257) }))).toBe(refused('token has no valid sub claim'));
  });

  it('jti: 256 characters accepted, 257 refused', async () => {
    const v = verifier();
    expect(await outcome(v, sign({ jti: 'j'.repeat(256) }))).toBe('accepted');
    expect(await outcome(v, sign({ jti: 'j'.repeat(257) }))).toBe(refused('token has an invalid jti claim'));
  });

  it('kid: 256 characters accepted, 257 refused', async () => {
    const v = verifier();
    expect(await outcome(v, sign({}, { kid: 'k'.repeat(256) }))).toBe('accepted');
    expect(await outcome(v, sign({}, { kid: 'k'.repeat(257) }))).toBe(refused('token rejected'));
  });

  it('maxStreams: 1 and 100,000 accepted; 0 and 100,001 refused', async () => {
    const v = verifier();
    expect((await v.verify(sign({ maxStreams: 1 }))).maxStreams).toBe(1);
    expect((await v.verify(sign({ maxStreams: 100_000 }))).maxStreams).toBe(100_000);
    expect(await outcome(v, sign({ maxStreams: 0 }))).toBe(refused('token has an invalid maxStreams claim'));
    expect(await outcome(v, sign({ maxStreams: 100_001 }))).toBe(refused('token has an invalid maxStreams claim'));
  });

  it('cameras: 256 entries accepted, 257 refused as an ill-formed claim', async () => {
    const v = verifier();
    const grant = await v.verify(sign({ cameras: ids(256) }));
    expect(grant.scope.allows({ id: 'cam-255' })).toBe(true);
    expect(await outcome(v, sign({ cameras: ids(257) }))).toBe(refused('token has no valid cameras claim'));
  });

  it('groups: 64 accepted, 65 refused', async () => {
    const v = verifier({ groups: { 'g-63': ['lobby-*'] } });
    const grant = await v.verify(sign({ cameras: [], groups: ids(64, 'g-') }));
    expect(grant.scope.allows({ id: 'lobby-1' })).toBe(true);
    expect(await outcome(v, sign({ cameras: [], groups: ids(65, 'g-') }))).toBe(refused('token has no valid groups claim'));
  });

  it('the session ends at exp plus the clock tolerance; the grant expires at exp', async () => {
    const exp = nowSec + 60;
    const grant = await verifier().verify(sign({ exp }));
    expect(grant.expiresAt).toBe(exp * 1000);
    expect(grant.validUntil).toBe((exp + TOLERANCE_SEC) * 1000);
  });
});
