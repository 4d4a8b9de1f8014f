import { createHmac, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import jwt from 'jsonwebtoken';
import { ErrorCode, ProtocolError } from '@vigil/protocol';
import { DEFAULT_MAX_TOKEN_LIFETIME_SEC, TokenVerifier, signViewerToken } from '../src/auth/tokens.ts';
import { KeyError } from '../src/auth/keys.ts';

const SECRET = 'unit-secret-0123456789-abcdefghijklmnopq';
const ISS = 'vigil';
const AUD = 'vigil-viewer';
const now = Math.floor(Date.now() / 1000);

function hsVerifier() {
  return new TokenVerifier({ algorithm: 'HS256', key: SECRET, issuer: ISS, audience: AUD, clockToleranceSec: 5 });
}

async function code(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ProtocolError) return err.code;
    throw err;
  }
  return 'accepted';
}

const claims = (extra: Record<string, unknown> = {}) => ({ sub: 'u1', cameras: ['cam-1'], iss: ISS, aud: AUD, exp: now + 60, ...extra });

describe('viewer token verification', () => {
  it('accepts a valid HS256 token and returns the grant', async () => {
    const token = signViewerToken(SECRET, { subject: 'u1', cameras: ['site-a/*'], ttlSec: 60 }, { issuer: ISS, audience: AUD });
    const grant = await hsVerifier().verify(token);
    expect(grant.subject).toBe('u1');
    expect(grant.scope.allows({ id: 'site-a/cam' })).toBe(true);
    expect(grant.scope.allows({ id: 'site-b/cam' })).toBe(false);
    expect(grant.expiresAt).toBeGreaterThan(Date.now());
    expect(grant.tokenId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses expired tokens with token_expired, honouring the clock tolerance', async () => {
    const v = hsVerifier();
    expect(await code(() => v.verify(jwt.sign(claims({ exp: now - 60 }), SECRET)))).toBe(ErrorCode.TokenExpired);
    expect(await code(() => v.verify(jwt.sign(claims({ exp: now - 2 }), SECRET)))).toBe('accepted');
  });

  it('refuses not-yet-valid, wrong iss, wrong aud, missing exp/sub/cameras', async () => {
    const v = hsVerifier();
    expect(await code(() => v.verify(jwt.sign(claims({ nbf: now + 120 }), SECRET)))).toBe(ErrorCode.Unauthorized);
    expect(await code(() => v.verify(jwt.sign(claims({ iss: 'evil' }), SECRET)))).toBe(ErrorCode.Unauthorized);
    expect(await code(() => v.verify(jwt.sign(claims({ aud: 'other' }), SECRET)))).toBe(ErrorCode.Unauthorized);
    const { exp: _exp, ...noExp } = claims();
    expect(await code(() => v.verify(jwt.sign(noExp, SECRET)))).toBe(ErrorCode.Unauthorized);
    expect(await code(() => v.verify(jwt.sign(claims({ sub: undefined }), SECRET)))).toBe(ErrorCode.Unauthorized);
    expect(await code(() => v.verify(jwt.sign(claims({ cameras: 'cam-1' }), SECRET)))).toBe(ErrorCode.Unauthorized);
    expect(await code(() => v.verify(jwt.sign(claims({ cameras: ['ok', 3] }), SECRET)))).toBe(ErrorCode.Unauthorized);
    expect(await code(() => v.verify(jwt.sign(claims({ cameras: ['(.*)'] }), SECRET)))).toBe(ErrorCode.Unauthorized);
  });

  it('refuses a forged signature and a tampered payload', async () => {
    const v = hsVerifier();
    expect(await code(() => v.verify(jwt.sign(claims(), 'another-secret-0123456789-abcdefghijk')))).toBe(ErrorCode.Unauthorized);
    const [h, , s] = jwt.sign(claims(), SECRET).split('.');
    const p = Buffer.from(JSON.stringify(claims({ cameras: ['**'] }))).toString('base64url');
    expect(await code(() => v.verify(`${h}.${p}.${s}`))).toBe(ErrorCode.Unauthorized);
    expect(await code(() => v.verify('not.a.jwt'))).toBe(ErrorCode.Unauthorized);
    expect(await code(() => v.verify(''))).toBe(ErrorCode.Unauthorized);
  });

  it('refuses alg "none"', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify(claims())).toString('base64url');
    expect(await code(() => hsVerifier().verify(`${header}.${payload}.`))).toBe(ErrorCode.Unauthorized);
  });

  it('RS256: accepts the right key, refuses HS256 signed with the public key (algorithm confusion)', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pub = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const v = new TokenVerifier({ algorithm: 'RS256', key: pub, issuer: ISS, audience: AUD, clockToleranceSec: 0 });
    expect(await code(() => v.verify(jwt.sign(claims(), privateKey, { algorithm: 'RS256' })))).toBe('accepted');
    // Hand-made HS256 token whose HMAC key is the PEM public key text.
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify(claims())).toString('base64url');
    const sig = createHmac('sha256', pub).update(`${header}.${payload}`).digest('base64url');
    expect(await code(() => v.verify(`${header}.${payload}.${sig}`))).toBe(ErrorCode.Unauthorized);
  });

  it('ES256: accepts the right key, refuses another key pair', async () => {
    const a = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const b = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const v = new TokenVerifier({
      algorithm: 'ES256',
      key: a.publicKey.export({ type: 'spki', format: 'pem' }) as string,
      issuer: ISS,
      audience: AUD,
      clockToleranceSec: 0,
    });
    expect(await code(() => v.verify(jwt.sign(claims(), a.privateKey, { algorithm: 'ES256' })))).toBe('accepted');
    expect(await code(() => v.verify(jwt.sign(claims(), b.privateKey, { algorithm: 'ES256' })))).toBe(ErrorCode.Unauthorized);
  });

  it('never echoes the token in the error message', async () => {
    const token = jwt.sign(claims({ exp: now - 100 }), SECRET);
    // The refusal is taken out of the promise first: an assertion failing inside a catch cannot be swallowed.
    const err = await hsVerifier().verify(token).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe(ErrorCode.TokenExpired);
    for (const part of token.split('.')) expect((err as Error).message).not.toContain(part);
  });

  it('groups grant the server-configured scopes only; unknown groups grant nothing', async () => {
    const v = new TokenVerifier({
      algorithm: 'HS256', key: SECRET, issuer: ISS, audience: AUD, clockToleranceSec: 0,
      groups: { 'north-ops': ['site:border-north'], lobby: ['lobby/*'] },
    });
    const g = await v.verify(jwt.sign(claims({ cameras: undefined, groups: ['north-ops', 'no-such-group'] }), SECRET));
    expect(g.groups).toEqual(['north-ops', 'no-such-group']);
    expect(g.scope.allows({ id: 'gate-3', site: 'border-north' })).toBe(true);
    expect(g.scope.allows({ id: 'lobby/1' })).toBe(false);
    const both = await v.verify(jwt.sign(claims({ groups: ['lobby'] }), SECRET));
    expect(both.scope.allows({ id: 'cam-1' })).toBe(true);
    expect(both.scope.allows({ id: 'lobby/1' })).toBe(true);
    expect(await code(() => v.verify(jwt.sign(claims({ cameras: undefined }), SECRET)))).toBe(ErrorCode.Unauthorized);
    expect(await code(() => v.verify(jwt.sign(claims({ groups: 'lobby' }), SECRET)))).toBe(ErrorCode.Unauthorized);
  });

  it('reads maxStreams and jti; refuses ill-typed ones', async () => {
    const v = hsVerifier();
    const g = await v.verify(jwt.sign(claims({ maxStreams: 4, jti: 'j-1' }), SECRET));
    expect([g.maxStreams, g.tokenId]).toEqual([4, 'j-1']);
    for (const bad of [{ maxStreams: 0 }, { maxStreams: 1.5 }, { maxStreams: '4' }, { jti: 7 }, { jti: '' }]) {
      expect(await code(() => v.verify(jwt.sign(claims(bad), SECRET)))).toBe(ErrorCode.Unauthorized);
    }
  });

  it('ignores keys carried in the token header (jwk / jku / x5c): keys come from config only', async () => {
    const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const v = new TokenVerifier({
      algorithm: 'RS256', key: publicKey.export({ type: 'spki', format: 'pem' }) as string, issuer: ISS, audience: AUD, clockToleranceSec: 0,
    });
    const token = jwt.sign(claims(), attacker.privateKey, {
      algorithm: 'RS256',
      header: { alg: 'RS256', jwk: attacker.publicKey.export({ format: 'jwk' }), jku: 'http://127.0.0.1:9/jwks' } as unknown as jwt.JwtHeader,
    });
    expect(await code(() => v.verify(token))).toBe(ErrorCode.Unauthorized);
    for (const kid of [42, '', 'k'.repeat(300)]) {
      const t = jwt.sign(claims(), SECRET, { header: { alg: 'HS256', kid } as unknown as jwt.JwtHeader });
      expect(await code(() => hsVerifier().verify(t))).toBe(ErrorCode.Unauthorized);
    }
  });

  it('refuses configured key material that does not fit the pinned algorithm', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const rsaShort = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const opts = { issuer: ISS, audience: AUD, clockToleranceSec: 0 };
    expect(() => new TokenVerifier({ ...opts, algorithm: 'RS256', key: SECRET })).toThrow(KeyError);
    expect(() => new TokenVerifier({ ...opts, algorithm: 'RS256', key: ec })).toThrow(KeyError);
    expect(() => new TokenVerifier({ ...opts, algorithm: 'RS256', key: rsaShort })).toThrow(KeyError);
    expect(() => new TokenVerifier({ ...opts, algorithm: 'ES256', key: rsa })).toThrow(KeyError);
    expect(() => new TokenVerifier({ ...opts, algorithm: 'HS256', key: 'short' })).toThrow(KeyError);
  });

  it('bounds the lifetime: exp at now + maxTokenLifetimeSec (+ tolerance) is accepted, one second more is refused', async () => {
    const v = new TokenVerifier({ algorithm: 'HS256', key: SECRET, issuer: ISS, audience: AUD, clockToleranceSec: 5, maxTokenLifetimeSec: 3600 });
    const nowMs = now * 1000;
    expect(await code(() => v.verify(jwt.sign(claims({ exp: now + 3600 + 5 }), SECRET), nowMs))).toBe('accepted');
    expect(await code(() => v.verify(jwt.sign(claims({ exp: now + 3600 + 6 }), SECRET), nowMs))).toBe(ErrorCode.Unauthorized);
    expect(await code(() => v.verify(jwt.sign(claims({ exp: now + 10 * 365 * 86_400 }), SECRET), nowMs))).toBe(ErrorCode.Unauthorized);
    // The default bound is 4 hours.
    expect(DEFAULT_MAX_TOKEN_LIFETIME_SEC).toBe(14_400);
    expect(await code(() => hsVerifier().verify(jwt.sign(claims({ exp: now + 14_400 }), SECRET), nowMs))).toBe('accepted');
    expect(await code(() => hsVerifier().verify(jwt.sign(claims({ exp: now + 14_400 + 6 }), SECRET), nowMs))).toBe(ErrorCode.Unauthorized);
  });

  it('refuses an exp that is not a finite number (1e400 parses to Infinity; 1e300 is finite but absurd)', async () => {
    const forge = (exp: string): string => {
      const b64 = (x: string) => Buffer.from(x).toString('base64url');
      const input = `${b64('{"alg":"HS256","typ":"JWT"}')}.${b64(`{"sub":"u1","cameras":["cam-1"],"iss":"${ISS}","aud":"${AUD}","exp":${exp}}`)}`;
      return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
    };
    expect(await code(() => hsVerifier().verify(forge(String(now + 60))))).toBe('accepted');
    for (const exp of ['1e400', '1e300', String(Number.MAX_SAFE_INTEGER)]) {
      expect(await code(() => hsVerifier().verify(forge(exp))), exp).toBe(ErrorCode.Unauthorized);
    }
    // The refusal names what is wrong with the claim rather than calling it missing.
    await expect(hsVerifier().verify(forge('1e400'))).rejects.toThrow('token exp claim is not a finite NumericDate');
  });
});

