/**
 * JWKS key source against a real HTTP server on 127.0.0.1 (and a real file):
 * kid selection, rotation by refetch on an unknown kid, the refetch rate
 * bound, and the filtering of keys that do not fit the pinned algorithm.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import jwt from 'jsonwebtoken';
import { pino } from 'pino';
import { ProtocolError } from '@vigil/protocol';
import { JwksKeySource, JwksError } from '../src/auth/jwks.ts';
import { TokenVerifier } from '../src/auth/tokens.ts';

const ISS = 'idp';
const AUD = 'vigil-viewer';
const logger = pino({ level: 'silent' });

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const keyA = rsa();
const keyB = rsa();
const keyC = rsa();

function jwk(pub: KeyObject, kid: string | undefined, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...pub.export({ format: 'jwk' }), ...(kid ? { kid } : {}), use: 'sig', alg: 'RS256', ...extra };
}

function sign(priv: KeyObject, kid: string | undefined, claims: Record<string, unknown> = {}): string {
  return jwt.sign({ cameras: ['cam-1'], ...claims }, priv, {
    algorithm: 'RS256',
    subject: 'u1',
    issuer: ISS,
    audience: AUD,
    expiresIn: 60,
    ...(kid ? { keyid: kid } : {}),
    allowInsecureKeySizes: true, // only so the test can present a 1024-bit-signed token
  });
}

async function outcome(v: TokenVerifier, token: string): Promise<string> {
  try {
    await v.verify(token);
    return 'accepted';
  } catch (err) {
    if (err instanceof ProtocolError) return err.code;
    throw err;
  }
}

/** A JWKS endpoint whose document the test swaps; counts requests. */
let server: Server;
let url: string;
let doc: unknown = { keys: [] };
let requests = 0;

beforeAll(async () => {
  server = createServer((_req, res) => {
    requests++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(doc));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

function verifierFor(source: JwksKeySource): TokenVerifier {
  return new TokenVerifier({ algorithm: 'RS256', keys: source, issuer: ISS, audience: AUD, clockToleranceSec: 0 });
}

describe('JWKS key source', () => {
  it('selects the key by kid from a URL and picks up a rotated-in key with one refetch', async () => {
    doc = { keys: [jwk(keyA.publicKey, 'a')] };
    requests = 0;
    const source = new JwksKeySource({ algorithm: 'RS256', url, minRefetchIntervalMs: 0, maxAgeMs: 600_000, timeoutMs: 2000, logger });
    await source.start();
    const v = verifierFor(source);
    expect(await outcome(v, sign(keyA.privateKey, 'a'))).toBe('accepted');
    expect(requests).toBe(1);
    // Key B signs with kid "a": the signature does not match A, refused without a refetch.
    expect(await outcome(v, sign(keyB.privateKey, 'a'))).toBe('unauthorized');
    expect(requests).toBe(1);
    // Rotation: the IdP publishes B and starts signing with it.
    doc = { keys: [jwk(keyA.publicKey, 'a'), jwk(keyB.publicKey, 'b')] };
    expect(await outcome(v, sign(keyB.privateKey, 'b'))).toBe('accepted');
    expect(requests).toBe(2);
    // A retired key disappears at the next refetch.
    doc = { keys: [jwk(keyB.publicKey, 'b')] };
    expect(await outcome(v, sign(keyC.privateKey, 'c'))).toBe('unauthorized');
    expect(await outcome(v, sign(keyA.privateKey, 'a'))).toBe('unauthorized');
  });

  it('bounds refetches on unknown kids by minRefetchIntervalMs', async () => {
    doc = { keys: [jwk(keyA.publicKey, 'a')] };
    requests = 0;
    const source = new JwksKeySource({ algorithm: 'RS256', url, minRefetchIntervalMs: 60_000, maxAgeMs: 600_000, timeoutMs: 2000, logger });
    await source.start();
    const v = verifierFor(source);
    for (let i = 0; i < 50; i++) expect(await outcome(v, sign(keyC.privateKey, `made-up-${i}`))).toBe('unauthorized');
    expect(requests).toBe(1);
    expect(await outcome(v, sign(keyA.privateKey, 'a'))).toBe('accepted');
  });

  it('keeps only keys that fit the pinned algorithm: no private parts, no other alg/kty/use, no short RSA', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const short = generateKeyPairSync('rsa', { modulusLength: 1024 });
    doc = {
      keys: [
        { ...keyA.privateKey.export({ format: 'jwk' }), kid: 'private', alg: 'RS256' },
        jwk(keyB.publicKey, 'enc', { use: 'enc' }),
        jwk(keyB.publicKey, 'rs512', { alg: 'RS512' }),
        { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec' },
        jwk(short.publicKey, 'short'),
        { kty: 'oct', k: Buffer.from('an HMAC secret someone published').toString('base64url'), kid: 'oct' },
        'not a key',
        jwk(keyC.publicKey, 'good'),
      ],
    };
    const source = new JwksKeySource({ algorithm: 'RS256', url, minRefetchIntervalMs: 60_000, maxAgeMs: 600_000, timeoutMs: 2000, logger });
    await source.start();
    const v = verifierFor(source);
    expect(await outcome(v, sign(keyC.privateKey, 'good'))).toBe('accepted');
    expect(await outcome(v, sign(keyA.privateKey, 'private'))).toBe('unauthorized');
    expect(await outcome(v, sign(keyB.privateKey, 'enc'))).toBe('unauthorized');
    expect(await outcome(v, sign(keyB.privateKey, 'rs512'))).toBe('unauthorized');
    expect(await outcome(v, sign(short.privateKey, 'short'))).toBe('unauthorized');
    // HS256 with the published oct secret: refused (algorithm pinned, key family pinned).
    const hs = jwt.sign({ cameras: ['cam-1'] }, 'an HMAC secret someone published', {
      algorithm: 'HS256', subject: 'u1', issuer: ISS, audience: AUD, expiresIn: 60, keyid: 'oct',
    });
    expect(await outcome(v, hs)).toBe('unauthorized');
  });

  it('a token without kid is accepted only when the set holds exactly one key', async () => {
    doc = { keys: [jwk(keyA.publicKey, undefined)] };
    const one = new JwksKeySource({ algorithm: 'RS256', url, minRefetchIntervalMs: 60_000, maxAgeMs: 600_000, timeoutMs: 2000, logger });
    await one.start();
    expect(await outcome(verifierFor(one), sign(keyA.privateKey, undefined))).toBe('accepted');
    doc = { keys: [jwk(keyA.publicKey, 'a'), jwk(keyB.publicKey, 'b')] };
    const two = new JwksKeySource({ algorithm: 'RS256', url, minRefetchIntervalMs: 60_000, maxAgeMs: 600_000, timeoutMs: 2000, logger });
    await two.start();
    expect(await outcome(verifierFor(two), sign(keyA.privateKey, undefined))).toBe('unauthorized');
  });

  it('an unreachable or broken URL refuses tokens and recovers once the IdP answers', async () => {
    doc = 'not json';
    const source = new JwksKeySource({ algorithm: 'RS256', url, minRefetchIntervalMs: 0, maxAgeMs: 600_000, timeoutMs: 2000, logger });
    await source.start();
    const v = verifierFor(source);
    expect(await outcome(v, sign(keyA.privateKey, 'a'))).toBe('unauthorized');
    doc = { keys: [jwk(keyA.publicKey, 'a')] };
    expect(await outcome(v, sign(keyA.privateKey, 'a'))).toBe('accepted');
    // A server that never answers: the fetch times out, the verifier refuses.
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const dead = new JwksKeySource({
      algorithm: 'RS256',
      url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/jwks`,
      minRefetchIntervalMs: 0,
      maxAgeMs: 600_000,
      timeoutMs: 200,
      logger,
    });
    await dead.start();
    expect(await outcome(verifierFor(dead), sign(keyA.privateKey, 'a'))).toBe('unauthorized');
    silent.closeAllConnections();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  it('reads a file, re-reads it on an unknown kid, and fails start on a bad file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-jwks-'));
    const file = join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [jwk(keyA.publicKey, 'a')] }));
    const source = new JwksKeySource({ algorithm: 'RS256', file, minRefetchIntervalMs: 0, maxAgeMs: 600_000, timeoutMs: 2000, logger });
    await source.start();
    const v = verifierFor(source);
    expect(await outcome(v, sign(keyA.privateKey, 'a'))).toBe('accepted');
    writeFileSync(file, JSON.stringify({ keys: [jwk(keyA.publicKey, 'a'), jwk(keyB.publicKey, 'b')] }));
    expect(await outcome(v, sign(keyB.privateKey, 'b'))).toBe('accepted');
    writeFileSync(file, JSON.stringify({ keys: [{ kty: 'RSA', kid: 'x' }] }));
    const bad = new JwksKeySource({ algorithm: 'RS256', file, minRefetchIntervalMs: 0, maxAgeMs: 600_000, timeoutMs: 2000, logger });
    await expect(bad.start()).rejects.toThrow(JwksError);
    const missing = new JwksKeySource({ algorithm: 'RS256', file: join(dir, 'nope.json'), minRefetchIntervalMs: 0, maxAgeMs: 600_000, timeoutMs: 2000, logger });
    await expect(missing.start()).rejects.toThrow(/ENOENT/);
  });

  it('ES256 sets: P-256 keys only', async () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    doc = {
      keys: [
        { ...p256.publicKey.export({ format: 'jwk' }), kid: 'p256' },
        { ...p384.publicKey.export({ format: 'jwk' }), kid: 'p384' },
        jwk(keyA.publicKey, 'rsa', { alg: undefined }),
      ],
    };
    const source = new JwksKeySource({ algorithm: 'ES256', url, minRefetchIntervalMs: 60_000, maxAgeMs: 600_000, timeoutMs: 2000, logger });
    await source.start();
    const v = new TokenVerifier({ algorithm: 'ES256', keys: source, issuer: ISS, audience: AUD, clockToleranceSec: 0 });
    const es = (priv: KeyObject, kid: string, algorithm: jwt.Algorithm) =>
      jwt.sign({ cameras: ['c'] }, priv, { algorithm, subject: 'u', issuer: ISS, audience: AUD, expiresIn: 60, keyid: kid });
    expect(await outcome(v, es(p256.privateKey, 'p256', 'ES256'))).toBe('accepted');
    expect(await outcome(v, es(p384.privateKey, 'p384', 'ES384'))).toBe('unauthorized');
    expect(await outcome(v, es(keyA.privateKey, 'rsa', 'RS256'))).toBe('unauthorized');
  });

  it('refuses a plain-http URL to anything but a loopback host (keys could be swapped on the path)', () => {
    const opts = { algorithm: 'RS256' as const, minRefetchIntervalMs: 0, maxAgeMs: 600_000, timeoutMs: 2000, logger };
    for (const bad of ['http://idp.example/jwks', 'http://10.1.2.3/jwks', 'http://127.0.0.1.evil.example/jwks', 'ftp://idp.example/jwks']) {
      expect(() => new JwksKeySource({ ...opts, url: bad }), bad).toThrow(JwksError);
    }
    for (const ok of ['https://idp.example/jwks', 'http://127.0.0.1:1/jwks', 'http://localhost/jwks', 'http://[::1]/jwks']) {
      expect(() => new JwksKeySource({ ...opts, url: ok }), ok).not.toThrow();
    }
  });

  it('bounds the body while reading it: an endless body without Content-Length is cut at 256 KiB', async () => {
    let written = 0;
    let ended = false;
    const limit = 64 * 1024 * 1024;
    const endless = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      res.write('{"keys":[');
      const pump = (): void => {
        while (!res.destroyed && written < limit) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        ended = true;
        res.end(']}');
      };
      pump();
    });
    await new Promise<void>((r) => endless.listen(0, '127.0.0.1', r));
    const lines: string[] = [];
    const captured = pino({ level: 'error' }, { write: (l: string) => void lines.push(l) });
    const source = new JwksKeySource({
      algorithm: 'RS256',
      url: `http://127.0.0.1:${(endless.address() as AddressInfo).port}/jwks`,
      minRefetchIntervalMs: 0,
      maxAgeMs: 600_000,
      timeoutMs: 20_000,
      logger: captured,
    });
    await source.start();
    endless.closeAllConnections();
    await new Promise<void>((r) => endless.close(() => r()));
    expect(lines.join('')).toContain('JWKS too large');
    // The reader stopped early: the server never got to write its 64 MiB (socket buffers hold a few MiB at most).
    expect(ended).toBe(false);
    expect(written).toBeLessThan(limit / 4);
  });
});

