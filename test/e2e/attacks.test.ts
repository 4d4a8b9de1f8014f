/**
 * The attack suite: what people actually try against a viewer gateway, each
 * against a real Vigil (fastify + ws + a real mediasoup worker + an ffmpeg
 * camera), from real sockets. Every case asserts the refusal and then (in
 * afterEach) that a legitimate viewer can still join, create a receive
 * transport and consume an in-scope camera: the server stays healthy.
 *
 * Auth is RS256 here (so HS/RS confusion can be tried); clock tolerance 1 s.
 * Attackers connect from their own loopback address per case (127.0.0.x;
 * Linux routes all of 127/8 to lo), legitimate viewers from 127.0.2.x with
 * their own subject, so per-address and per-subject limits hit by one case
 * never leak into the next.
 */
import { createHmac, generateKeyPairSync, randomUUID, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { MAX_MESSAGE_BYTES, PROTOCOL_VERSION, type Response } from '@vigil/protocol';
import fastify from 'fastify';
import { ConfigError, metricsAccess, parseConfig, registerMetricsRoute } from '@vigil/server';
import { startTestVigil, testCamera, testConfig, waitFor, type TestVigil } from '../helpers/vigil.ts';
import { spawnVigil, tempDir, writeConfig } from '../helpers/vigil-process.ts';
import { WsClient, errorCode } from '../helpers/ws-client.ts';

const ISS = 'vigil';
const AUD = 'vigil-viewer';
const TURN_SECRET = 'attack-suite-turn-secret-0123456789';
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PUBLIC_PEM = publicKey.export({ type: 'spki', format: 'pem' }) as string;
/** A 30-character camera id (in scope of `**`; no `x` in it). */
const LONG_ID = 'lobby/corridor-aaaaaaaaaaaaaaa';

let vigil: TestVigil;
let caps: Record<string, unknown>;
/** Every raw frame any client of this suite received (checked for echoes and stack traces at the end). */
const received: string[] = [];
const open: WsClient[] = [];

/** An RTP-push camera: no media needed (scope checks come first), no ffmpeg to run. */
function pushCamera(id: string, ssrc: number, extra: Record<string, unknown> = {}) {
  return { id, codec: 'H264', source: { kind: 'rtp-push', port: 0, ssrc, payloadType: 96 }, ...extra };
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-attacks-'));
  writeFileSync(join(dir, 'viewer-key.pem'), PUBLIC_PEM);
  vigil = await startTestVigil({
    auth: {
      algorithm: 'RS256',
      publicKeyFile: join(dir, 'viewer-key.pem'),
      issuer: ISS,
      audience: AUD,
      clockToleranceSec: 1,
      groups: { 'hq-ops': ['site:hq'] },
    },
    cameras: [
      testCamera('lobby/1', 'H264', { site: 'hq' }),
      pushCamera('lobby/10', 1001),
      pushCamera('lobby/annex/vault', 1002),
      pushCamera('vault/secret', 1003, { site: 'vault' }),
      pushCamera(LONG_ID, 1004),
    ],
    limits: {
      maxTransportsPerConnection: 1,
      maxConsumersPerConnection: 2,
      maxConnectionsPerIp: 6,
      maxPendingRequests: 8,
      pingIntervalMs: 400,
      joinTimeoutMs: 2000,
    },
    rateLimits: {
      joinPerIp: { burst: 10, perSec: 5 },
      joinPerSubject: { burst: 10, perSec: 5 },
      consumePerIp: { burst: 20, perSec: 10 },
      consumePerSubject: { burst: 20, perSec: 10 },
      viewingsPerSubject: { burst: 4, perSec: 0.01 },
    },
    turn: { urls: ['turn:127.0.0.1:3478?transport=udp'], secret: TURN_SECRET, ttlSec: 600 },
  });
  caps = vigil.gateway.rtpCapabilities as unknown as Record<string, unknown>;
  await waitFor(() => vigil.media.camera('lobby/1')?.state === 'live', 15_000);
});

afterAll(async () => {
  for (const c of open) c.ws.terminate();
  await vigil?.close();
});

// ---------------------------------------------------------------- helpers

let attackerIp = '127.0.0.9';
/** Default token subject of this case (its own, so per-subject buckets do not carry over). */
let attackerSub = 'attacker-0';
let nextAttacker = 10;
let nextLegit = 1;
let legitChecks = 0;

beforeEach(() => {
  attackerSub = `attacker-${nextAttacker}`;
  attackerIp = `127.0.0.${nextAttacker++}`;
});

/**
 * After every case, with the attacker's connections still open: a legitimate
 * viewer joins, gets a transport and consumes an in-scope camera. Then the
 * case's connections are dropped.
 */
afterEach(async () => {
  await legitViewerWorks();
  legitChecks++;
  for (const c of open.splice(0)) c.ws.terminate();
});

async function legitViewerWorks(): Promise<void> {
  const n = nextLegit++;
  const c = await connect({ localAddress: `127.0.2.${n}` });
  try {
    const j = await c.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token: sign({ sub: `legit-${n}`, cameras: ['lobby/1'] }) });
    expect(j.ok, 'legitimate join').toBe(true);
    const t = await c.request({ type: 'createRecvTransport' });
    expect(t.ok, 'legitimate createRecvTransport').toBe(true);
    const r = await c.request({ type: 'consume', transportId: transportIdOf(t), cameraId: 'lobby/1', rtpCapabilities: caps });
    expect(r.ok, 'legitimate consume').toBe(true);
  } finally {
    c.close();
  }
}

/** Opens a client (from this case's attacker address unless told otherwise) and records what it receives. */
async function connect(options: WebSocket.ClientOptions = {}, origin?: string): Promise<WsClient> {
  const c = await WsClient.open(vigil.url, origin, { localAddress: attackerIp, ...options });
  c.ws.on('message', (data) => received.push(data.toString()));
  open.push(c);
  return c;
}

function b64(x: unknown): string {
  return Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
}

/** Signs claims (defaults: valid for 5 min, this case's subject, scope lobby/1) with the server's trusted key unless told otherwise. */
function sign(
  claims: Record<string, unknown> = {},
  opts: { key?: KeyObject | string; algorithm?: jwt.Algorithm; header?: Record<string, unknown> } = {},
): string {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { sub: attackerSub, cameras: ['lobby/1'], iss: ISS, aud: AUD, exp: now + 300, jti: randomUUID(), ...claims };
  for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
  const algorithm = opts.algorithm ?? 'RS256';
  return jwt.sign(payload, opts.key ?? privateKey, { algorithm, ...(opts.header ? { header: { alg: algorithm, ...opts.header } as jwt.JwtHeader } : {}) });
}

/** An RS256 JWS made with node:crypto directly, for claims jsonwebtoken would refuse to sign. */
function rawRs256(claims: Record<string, unknown>): string {
  const input = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${input}.${cryptoSign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

/** A hand-made JWS with an HMAC-SHA256 signature over `key` (jsonwebtoken refuses to make these). */
function hmacToken(header: Record<string, unknown>, claims: Record<string, unknown>, key: string | Buffer): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

function validClaims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { sub: attackerSub, cameras: ['**'], iss: ISS, aud: AUD, exp: Math.floor(Date.now() / 1000) + 300, ...extra };
}

function join_(c: WsClient, token: string): Promise<Response> {
  return c.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token });
}

async function joined(claims: Record<string, unknown> = {}, options: WebSocket.ClientOptions = {}): Promise<WsClient> {
  const c = await connect(options);
  const r = await join_(c, sign(claims));
  expect(r.ok).toBe(true);
  return c;
}

function transportIdOf(r: Response): string {
  if (!r.ok) throw new Error(`refused: ${r.error.code}`);
  return (r.data as { id: string }).id;
}

async function withTransport(claims: Record<string, unknown> = {}): Promise<{ c: WsClient; transportId: string }> {
  const c = await joined(claims);
  return { c, transportId: transportIdOf(await c.request({ type: 'createRecvTransport' })) };
}

function consume(c: WsClient, transportId: string, cameraId: string): Promise<Response> {
  return c.request({ type: 'consume', transportId, cameraId, rtpCapabilities: caps });
}

/** Resolves with the HTTP status of a refused WebSocket upgrade (or 101 if accepted). */
function upgradeStatus(path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${vigil.url.replace(/^http/, 'ws')}${path}`, { headers, localAddress: attackerIp });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

// ---------------------------------------------------------------- the cases

describe('attack suite: token forgery and misuse', () => {
  it('forged signature: a token signed by another RSA key is refused', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const c = await connect();
    expect(errorCode(await join_(c, sign({ cameras: ['**'] }, { key: other })))).toBe('unauthorized');
  });

  it('tampered payload: scope widened with the original signature kept is refused', async () => {
    const [h, , s] = sign({ cameras: ['lobby/1'] }).split('.');
    const c = await connect();
    expect(errorCode(await join_(c, `${h}.${b64(validClaims())}.${s}`))).toBe('unauthorized');
  });

  it('alg "none" (every spelling, with and without a signature part) is refused', async () => {
    const c = await connect();
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      const unsigned = `${b64({ alg, typ: 'JWT' })}.${b64(validClaims())}`;
      expect(errorCode(await join_(c, `${unsigned}.`))).toBe('unauthorized');
      expect(errorCode(await join_(c, `${unsigned}.${b64('sig')}`))).toBe('unauthorized');
    }
  });

  it('algorithm confusion: HS256 signed with the server RS256 public key (PEM, DER, JWK forms) is refused', async () => {
    const c = await connect();
    const der = publicKey.export({ type: 'spki', format: 'der' });
    const jwkText = JSON.stringify(publicKey.export({ format: 'jwk' }));
    for (const key of [PUBLIC_PEM, PUBLIC_PEM.trim(), der, jwkText]) {
      expect(errorCode(await join_(c, hmacToken({ alg: 'HS256', typ: 'JWT' }, validClaims(), key)))).toBe('unauthorized');
    }
  });

  it('the right key with another algorithm (RS512, PS256) is refused: the algorithm is pinned', async () => {
    const c = await connect();
    for (const algorithm of ['RS512', 'PS256', 'RS384'] as jwt.Algorithm[]) {
      expect(errorCode(await join_(c, sign({}, { algorithm })))).toBe('unauthorized');
    }
  });

  it('keys smuggled in the header (embedded jwk, jku/x5u URLs) are never used or fetched', async () => {
    let fetched = 0;
    const trap = createServer((_req, res) => {
      fetched++;
      res.end('{}');
    });
    await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
    const trapUrl = `http://127.0.0.1:${(trap.address() as AddressInfo).port}/jwks.json`;
    const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const token = sign(validClaims(), {
      key: attacker.privateKey,
      header: { jwk: attacker.publicKey.export({ format: 'jwk' }), jku: trapUrl, x5u: trapUrl, kid: 'attacker' },
    });
    const c = await connect();
    expect(errorCode(await join_(c, token))).toBe('unauthorized');
    await new Promise<void>((r) => trap.close(() => r()));
    expect(fetched).toBe(0);
  });

  it('kid injection (path traversal, SQL) with an empty-key HMAC is refused', async () => {
    const c = await connect();
    for (const kid of ['../../../../../../dev/null', "' OR '1'='1", '/proc/self/environ']) {
      expect(errorCode(await join_(c, hmacToken({ alg: 'HS256', kid }, validClaims(), '')))).toBe('unauthorized');
    }
  });

  it('wrong audience is refused', async () => {
    const c = await connect();
    expect(errorCode(await join_(c, sign({ aud: 'some-other-service' })))).toBe('unauthorized');
    expect(errorCode(await join_(c, sign({ aud: [] })))).toBe('unauthorized');
  });

  it('wrong issuer is refused', async () => {
    const c = await connect();
    expect(errorCode(await join_(c, sign({ iss: 'evil-idp' })))).toBe('unauthorized');
    expect(errorCode(await join_(c, sign({ iss: undefined })))).toBe('unauthorized');
  });

  it('an expired token (beyond the clock tolerance) is refused with token_expired', async () => {
    const c = await connect();
    expect(errorCode(await join_(c, sign({ exp: Math.floor(Date.now() / 1000) - 3 })))).toBe('token_expired');
  });

  it('a not-yet-valid token (nbf beyond the clock tolerance) is refused', async () => {
    const c = await connect();
    expect(errorCode(await join_(c, sign({ nbf: Math.floor(Date.now() / 1000) + 30 })))).toBe('unauthorized');
  });

  it('ill-typed or missing claims are refused (no exp, no sub, string scope, string exp, negative maxStreams)', async () => {
    const c = await connect();
    const bad: Record<string, unknown>[] = [
      { exp: undefined },
      { sub: undefined },
      { sub: 42 },
      { cameras: '**' },
      { cameras: [{ id: '**' }] },
      { cameras: undefined },
      { exp: '9999999999' },
      { maxStreams: -1 },
      { groups: 'hq-ops' },
    ];
    for (const claims of bad) {
      const payload = Object.fromEntries(Object.entries(validClaims(claims)).filter(([, v]) => v !== undefined));
      expect(errorCode(await join_(c, rawRs256(payload))), JSON.stringify(claims)).toBe('unauthorized');
    }
    // The same construction with good claims is accepted (the harness itself is sound).
    expect((await join_(c, rawRs256(validClaims()))).ok).toBe(true);
  });

  it('malformed token strings are refused (garbage, wrong part count, oversize)', async () => {
    const c = await connect();
    for (const token of ['not-a-jwt', 'a.b', 'a.b.c.d', '...', `${b64({ alg: 'RS256' })}.%%%.${b64('x')}`, 'eyJ'.repeat(100)]) {
      expect(errorCode(await join_(c, token))).toBe('unauthorized');
    }
    expect(errorCode(await join_(c, 'x'.repeat(8193)))).toBe('bad_request');
  });
});

describe('attack suite: scope escalation', () => {
  it('consume of a camera id outside scope gets the same refusal as an unknown camera', async () => {
    const { c, transportId } = await withTransport({ cameras: ['lobby/1'] });
    const out = await consume(c, transportId, 'vault/secret');
    const ghost = await consume(c, transportId, 'vault/no-such-camera');
    expect(errorCode(out)).toBe('forbidden');
    expect(out).toEqual({ ...ghost, id: out.id });
  });

  it('glob tricks in the consume request: wildcards in the camera id are not ids', async () => {
    const { c, transportId } = await withTransport({ cameras: ['lobby/*'] });
    for (const cameraId of ['**', '*', 'vault/*', 'lobby/*', 'vault/secre?', '[v]ault/secret']) {
      expect(errorCode(await consume(c, transportId, cameraId)), cameraId).toBe('bad_request');
    }
  });

  it('glob tricks in scope: * does not cross "/", so lobby/* does not reach lobby/annex/vault', async () => {
    const { c, transportId } = await withTransport({ cameras: ['lobby/*'] });
    expect(errorCode(await consume(c, transportId, 'lobby/annex/vault'))).toBe('forbidden');
  });

  it('prefix, case and path tricks: lobby/1 does not grant lobby/10, LOBBY/1, lobby/1/ or ../ paths', async () => {
    const { c, transportId } = await withTransport({ cameras: ['lobby/1', 'lobby/*'] });
    for (const cameraId of ['lobby/10x', 'LOBBY/1', 'lobby/1/', 'lobby/../vault/secret', 'lobby/./1', 'lobby//1']) {
      expect(errorCode(await consume(c, transportId, cameraId)), cameraId).toBe('forbidden');
    }
    const { c: c2, transportId: t2 } = await withTransport({ cameras: ['lobby/1'] });
    expect(errorCode(await consume(c2, t2, 'lobby/10'))).toBe('forbidden');
    for (const cameraId of ['lobby/1 ', 'lobby/1\u0000', 'lobby/１', 'lobby/1%2F..']) {
      expect(errorCode(await consume(c2, t2, cameraId)), JSON.stringify(cameraId)).toBe('bad_request');
    }
  });

  it('scope entries outside the grammar make the whole token invalid (site:*, regex, alternation, brackets)', async () => {
    const c = await connect();
    for (const cameras of [['site:*'], ['site:hq/../vault'], ['(.*)'], ['lobby/1|vault/secret'], ['lobby/[a-z]*'], ['lobby/1', 'vault/{secret}'], Array(300).fill('x')]) {
      expect(errorCode(await join_(c, sign({ cameras }))), JSON.stringify(cameras).slice(0, 40)).toBe('unauthorized');
    }
  });

  it('a scope of glob metacharacters grants nothing it does not spell out (".*" is literal)', async () => {
    const { c, transportId } = await withTransport({ cameras: ['.*', '?', 'lobby?1'] });
    for (const cameraId of ['lobby/1', 'vault/secret', 'lobby/10']) expect(errorCode(await consume(c, transportId, cameraId))).toBe('forbidden');
  });

  it('a site scope does not reach other sites or site-less cameras', async () => {
    const { c, transportId } = await withTransport({ cameras: ['site:hq'] });
    expect(errorCode(await consume(c, transportId, 'vault/secret'))).toBe('forbidden');
    expect(errorCode(await consume(c, transportId, 'lobby/10'))).toBe('forbidden');
  });

  it('groups grant only what the server defines for them; an invented group grants nothing', async () => {
    const { c, transportId } = await withTransport({ cameras: [], groups: ['admins', 'root', '*'] });
    expect(errorCode(await consume(c, transportId, 'lobby/1'))).toBe('forbidden');
    expect(errorCode(await consume(c, transportId, 'vault/secret'))).toBe('forbidden');
    const { c: c2, transportId: t2 } = await withTransport({ cameras: undefined, groups: ['hq-ops'] });
    expect(errorCode(await consume(c2, t2, 'vault/secret'))).toBe('forbidden');
    expect((await consume(c2, t2, 'lobby/1')).ok).toBe(true);
  });

  it('refresh cannot switch subject or widen scope with another user\'s token', async () => {
    const c = await joined({ cameras: ['lobby/1'] });
    const t = transportIdOf(await c.request({ type: 'createRecvTransport' }));
    const r = await c.request({ type: 'refresh', token: sign({ sub: 'chief-of-security', cameras: ['**'] }) });
    expect(errorCode(r)).toBe('unauthorized');
    expect(errorCode(await consume(c, t, 'vault/secret'))).toBe('forbidden');
    expect(errorCode(await c.request({ type: 'refresh', token: sign({ cameras: ['**'] }, { key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey }) }))).toBe(
      'unauthorized',
    );
    expect(errorCode(await consume(c, t, 'vault/secret'))).toBe('forbidden');
  });

  it('a refresh that narrows the scope closes consumers it no longer covers; later consumes use the new scope', async () => {
    const c = await joined({ sub: 'narrowed', cameras: ['lobby/*'] });
    const t = transportIdOf(await c.request({ type: 'createRecvTransport' }));
    const a = await consume(c, t, 'lobby/1');
    expect(a.ok).toBe(true);
    const consumerId = (a.ok && (a.data as { consumerId: string }).consumerId) as string;
    expect((await c.request({ type: 'refresh', token: sign({ sub: 'narrowed', cameras: ['lobby/10'] }) })).ok).toBe(true);
    await waitFor(() => c.notifications.some((n) => n.notification === 'consumerClosed' && n.consumerId === consumerId), 1000, 20);
    expect(c.notifications).toContainEqual({ notification: 'consumerClosed', consumerId, reason: 'scope_changed' });
    expect(errorCode(await consume(c, t, 'lobby/1'))).toBe('forbidden');
  });
});

describe('attack suite: revocation and expiry', () => {
  it('a revoked jti cannot join', async () => {
    const jti = randomUUID();
    expect((await vigil.admin('POST', '/revocations', { jti, reason: 'attack suite' })).status).toBe(201);
    const c = await connect();
    expect(errorCode(await join_(c, sign({ jti })))).toBe('unauthorized');
  });

  it('a revoked subject cannot join with any token, until the revocation is lifted', async () => {
    expect((await vigil.admin('POST', '/revocations', { subject: 'fired-guard' })).status).toBe(201);
    const c = await connect();
    expect(errorCode(await join_(c, sign({ sub: 'fired-guard' })))).toBe('unauthorized');
    expect(errorCode(await join_(c, sign({ sub: 'fired-guard', jti: undefined })))).toBe('unauthorized');
    expect((await vigil.admin('DELETE', '/revocations/subject/fired-guard')).status).toBe(204);
    expect((await join_(c, sign({ sub: 'fired-guard' }))).ok).toBe(true);
  });

  it('a token revoked mid-session: the session and its consumers end within 1 s, and the token cannot be reused', async () => {
    const jti = randomUUID();
    const token = sign({ sub: 'stolen-laptop', jti });
    const c = await connect();
    expect((await join_(c, token)).ok).toBe(true);
    const t = transportIdOf(await c.request({ type: 'createRecvTransport' }));
    const r = await consume(c, t, 'lobby/1');
    expect(r.ok).toBe(true);
    const consumerId = (r.ok && (r.data as { consumerId: string }).consumerId) as string;
    const closedAt = new Promise<{ reason: string; at: number }>((resolve) => {
      const on = (e: { consumerId: string; reason: string; at: number }) => {
        if (e.consumerId !== consumerId) return;
        vigil.signaling.observer.off('consumerclose', on);
        resolve(e);
      };
      vigil.signaling.observer.on('consumerclose', on);
    });
    const revokedAt = Date.now();
    const res = await vigil.admin('POST', '/revocations', { jti });
    expect(res.body.sessionsEnded).toBe(1);
    const closed = await closedAt;
    expect(closed.reason).toBe('revoked');
    expect(closed.at - revokedAt).toBeLessThan(1000);
    console.log(`[revoke] consumer closed ${closed.at - revokedAt} ms after the admin call`);
    expect(await c.closed()).toBe(1000);
    expect(c.notifications).toContainEqual({ notification: 'sessionClosed', reason: 'revoked' });
    // Reuse after revocation: a new connection with the same token, and a refresh carrying it.
    const again = await connect();
    expect(errorCode(await join_(again, token))).toBe('unauthorized');
    const other = await joined({ sub: 'stolen-laptop' });
    expect(errorCode(await other.request({ type: 'refresh', token }))).toBe('unauthorized');
  });

  it('a token that expires mid-session without refresh: its consumers are closed within 1 s of expiry (+ tolerance)', async () => {
    const exp = Math.floor(Date.now() / 1000) + 2;
    const c = await connect();
    expect((await join_(c, sign({ sub: 'no-refresh', exp }))).ok).toBe(true);
    const t = transportIdOf(await c.request({ type: 'createRecvTransport' }));
    const r = await consume(c, t, 'lobby/1');
    const consumerId = (r.ok && (r.data as { consumerId: string }).consumerId) as string;
    const closed = await new Promise<{ reason: string; at: number }>((resolve) => {
      const on = (e: { consumerId: string; reason: string; at: number }) => {
        if (e.consumerId !== consumerId) return;
        vigil.signaling.observer.off('consumerclose', on);
        resolve(e);
      };
      vigil.signaling.observer.on('consumerclose', on);
    });
    const validUntil = (exp + 1) * 1000; // exp + clockToleranceSec
    expect(closed.reason).toBe('token_expired');
    expect(closed.at).toBeGreaterThanOrEqual(validUntil);
    expect(closed.at - validUntil).toBeLessThan(1000);
    console.log(`[expiry] consumer closed ${closed.at - validUntil} ms after exp + tolerance`);
    expect(await c.closed()).toBe(1000);
    expect(c.notifications).toContainEqual({ notification: 'sessionClosed', reason: 'token_expired' });
    // Refreshing after the fact does not bring it back.
    expect(errorCode(await join_(await connect(), sign({ sub: 'no-refresh', exp })))).toBe('token_expired');
  }, 10_000);

  it('the revocation API needs the admin credential (a viewer token is not one) and well-formed bodies', async () => {
    const viewer = sign({ cameras: ['**'] });
    for (const authorization of [undefined, `Bearer ${viewer}`, 'Bearer wrong']) {
      const res = await vigil.app.inject({ method: 'POST', url: '/admin/v1/revocations', payload: { subject: 'legit-1' }, headers: authorization ? { authorization } : {} });
      expect(res.statusCode).toBe(401);
      expect(res.body).not.toContain(viewer.slice(0, 24));
    }
    for (const body of [{}, { jti: 'a', subject: 'b' }, { jti: '' }, { jti: 'x'.repeat(257) }, { subject: 's', ttlSec: 0 }, { subject: 's', extra: 1 }]) {
      expect((await vigil.admin('POST', '/revocations', body)).status, JSON.stringify(body).slice(0, 40)).toBe(400);
    }
    expect((await vigil.admin('DELETE', '/revocations/session/x')).status).toBe(400);
    expect((await vigil.admin('DELETE', '/revocations/jti/never-revoked')).status).toBe(404);
    expect((await vigil.admin('GET', '/revocations')).body.revocations.some((e: { value: string }) => e.value.startsWith('legit-'))).toBe(false);
  });

  it('refresh with an expired or a revoked token is refused and does not extend the session', async () => {
    const c = await joined({ sub: 'refresher' });
    expect(errorCode(await c.request({ type: 'refresh', token: sign({ sub: 'refresher', exp: Math.floor(Date.now() / 1000) - 10 }) }))).toBe('token_expired');
    const jti = randomUUID();
    await vigil.admin('POST', '/revocations', { jti });
    expect(errorCode(await c.request({ type: 'refresh', token: sign({ sub: 'refresher', jti }) }))).toBe('unauthorized');
    expect((await c.request({ type: 'refresh', token: sign({ sub: 'refresher' }) })).ok).toBe(true);
  });
});

describe('attack suite: frames and protocol abuse', () => {
  it('an oversized frame closes the connection with 1009 (message too big)', async () => {
    const c = await joined();
    c.ws.send(JSON.stringify({ id: 1, type: 'join', protocolVersion: 1, token: 'x'.repeat(MAX_MESSAGE_BYTES) }));
    expect(await c.closed()).toBe(1009);
  });

  it('malformed frames get bad_request and the connection stays usable', async () => {
    const c = await connect();
    for (const frame of ['{garbage', '[]', 'null', '42', '"join"', '', '{"id":1,"type":"join"', '\u0000\u0001']) {
      expect(errorCode(await c.raw(frame, -1)), JSON.stringify(frame)).toBe('bad_request');
    }
    expect(errorCode(await c.raw(Buffer.from('{"id":1,"type":"leave"}'), -1))).toBe('bad_request'); // binary frame
    expect((await join_(c, sign())).ok).toBe(true);
  });

  it('a text frame that is not UTF-8 closes the connection with 1007', async () => {
    const c = await connect();
    c.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect(await c.closed()).toBe(1007);
  });

  it('deeply nested JSON (in the frame and inside rtpCapabilities) is refused without harm', async () => {
    const c = await connect();
    const depth = 20_000;
    expect(errorCode(await c.raw('['.repeat(depth) + ']'.repeat(depth), -1))).toBe('bad_request');
    const { c: j, transportId } = await withTransport();
    const nested = `{"id":5,"type":"consume","transportId":"${transportId}","cameraId":"lobby/1","rtpCapabilities":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`;
    // No codecs to speak of: refused (mediasoup's ORTC check), the connection carries on.
    expect(['bad_request', 'unsupported_codec']).toContain(errorCode(await j.raw(nested, 5)));
    expect((await j.request({ type: 'getRouterRtpCapabilities' })).ok).toBe(true);
  });

  it('prototype pollution keys are refused and pollute nothing', async () => {
    const c = await connect();
    const frames = [
      '{"id":1,"type":"join","protocolVersion":1,"token":"x","__proto__":{"polluted":true}}',
      '{"id":2,"type":"join","protocolVersion":1,"token":"x","constructor":{"prototype":{"polluted":true}}}',
    ];
    for (const [i, f] of frames.entries()) expect(errorCode(await c.raw(f, i + 1))).toBe('bad_request');
    const { c: j, transportId } = await withTransport();
    const r = await j.raw(`{"id":9,"type":"consume","transportId":"${transportId}","cameraId":"lobby/1","rtpCapabilities":{"__proto__":{"polluted":true},"codecs":"x"}}`, 9);
    // mediasoup's canConsume() answers false for malformed capabilities.
    expect(['bad_request', 'unsupported_codec']).toContain(errorCode(r));
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('unknown message types are refused as such', async () => {
    const c = await joined();
    for (const type of ['explode', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'JOIN', 'Consume', 'sessionClosed', '', 7, null]) {
      const r = await c.raw(JSON.stringify({ id: 3, type }), 3);
      expect(errorCode(r), String(type)).toBe('bad_request');
    }
    expect(errorCode(await c.raw(JSON.stringify({ notification: 'sessionClosed', reason: 'left' }), -1))).toBe('bad_request');
  });

  it('messages out of order: nothing before join, no consume before a transport, no resume before consume', async () => {
    const c = await connect();
    expect(errorCode(await c.request({ type: 'createRecvTransport' }))).toBe('not_joined');
    expect(errorCode(await c.request({ type: 'consume', transportId: randomUUID(), cameraId: 'lobby/1', rtpCapabilities: caps }))).toBe('not_joined');
    expect(errorCode(await c.request({ type: 'refresh', token: sign() }))).toBe('not_joined');
    expect(errorCode(await c.request({ type: 'resumeConsumer', consumerId: randomUUID() }))).toBe('not_joined');
    expect((await join_(c, sign())).ok).toBe(true);
    expect(errorCode(await c.request({ type: 'consume', transportId: randomUUID(), cameraId: 'lobby/1', rtpCapabilities: caps }))).toBe('not_found');
    expect(errorCode(await c.request({ type: 'connectTransport', transportId: randomUUID(), dtlsParameters: { fingerprints: [{}] } }))).toBe('not_found');
    expect(errorCode(await c.request({ type: 'resumeConsumer', consumerId: randomUUID() }))).toBe('not_found');
    expect(errorCode(await join_(c, sign()))).toBe('already_joined');
  });

  it("another session's transport and consumer ids are not reachable (no cross-session object access)", async () => {
    const { c: victim, transportId } = await withTransport({ sub: 'victim' });
    const v = await consume(victim, transportId, 'lobby/1');
    const consumerId = (v.ok && (v.data as { consumerId: string }).consumerId) as string;
    const { c: thief } = await withTransport({ sub: 'thief', cameras: ['**'] });
    expect(errorCode(await consume(thief, transportId, 'vault/secret'))).toBe('not_found');
    expect(errorCode(await thief.request({ type: 'connectTransport', transportId, dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: 'AA' }], role: 'client' } }))).toBe('not_found');
    expect(errorCode(await thief.request({ type: 'resumeConsumer', consumerId }))).toBe('not_found');
    expect(errorCode(await thief.request({ type: 'closeConsumer', consumerId }))).toBe('not_found');
    expect((await victim.request({ type: 'resumeConsumer', consumerId })).ok).toBe(true);
  });

  it('request ids outside the protocol (negative, fractional, string, huge) are refused without an id', async () => {
    const c = await connect();
    for (const id of [-1, 1.5, '7', 2 ** 31, 2 ** 53 + 1, null, { $gt: 0 }]) {
      const r = await c.raw(JSON.stringify({ id, type: 'getRouterRtpCapabilities' }), -1);
      expect(errorCode(r)).toBe('bad_request');
      expect(r.id).toBeNull();
    }
  });

  it('pipelining more requests than the per-connection queue allows closes the connection (1008)', async () => {
    const c = await connect();
    for (let i = 0; i < 40; i++) c.ws.send(JSON.stringify({ id: i, type: 'join', protocolVersion: 1, token: sign() }));
    expect(await c.closed()).toBe(1008);
  });

  it('per-connection caps: a second transport and a third consumer are refused', async () => {
    const { c, transportId } = await withTransport({ cameras: ['lobby/*'] });
    expect(errorCode(await c.request({ type: 'createRecvTransport' }))).toBe('limit_exceeded');
    expect((await consume(c, transportId, 'lobby/1')).ok).toBe(true);
    expect((await consume(c, transportId, 'lobby/10')).ok).toBe(true);
    expect(errorCode(await consume(c, transportId, 'lobby/1'))).toBe('limit_exceeded');
  });

  it('maxStreams holds across connections of one subject', async () => {
    const a = await withTransport({ sub: 'quota-user', maxStreams: 1 });
    const b = await withTransport({ sub: 'quota-user', maxStreams: 1 });
    const first = await consume(a.c, a.transportId, 'lobby/1');
    expect(first.ok).toBe(true);
    expect(errorCode(await consume(b.c, b.transportId, 'lobby/1'))).toBe('limit_exceeded');
    await a.c.request({ type: 'closeConsumer', consumerId: (first.ok && (first.data as { consumerId: string }).consumerId) as string });
    expect((await consume(b.c, b.transportId, 'lobby/1')).ok).toBe(true);
  });
});

describe('attack suite: review findings (issue 14)', () => {
  it('a scope glob built to backtrack cannot stall the server: consume and /healthz answer at once', async () => {
    // As a regular expression (^.*.*...x$) this takes seconds per 30-character id, and
    // every extra ** multiplies that (the unit tests try patterns of 63 of them).
    const { c, transportId } = await withTransport({ cameras: ['**'.repeat(9) + 'x'] });
    expect(LONG_ID).toHaveLength(30);
    const t0 = Date.now();
    const consumed = consume(c, transportId, LONG_ID);
    const health = fetch(`${vigil.url}/healthz`).then((r) => ({ status: r.status, ms: Date.now() - t0 }));
    expect(errorCode(await consumed)).toBe('forbidden');
    const h = await health;
    expect(h.status).toBe(200);
    console.log(`[glob] consume + /healthz answered in ${h.ms} ms`);
    expect(h.ms).toBeLessThan(1000);
    // Bounds: 65 wildcard entries or a 129-character entry make the token invalid.
    const j = await connect();
    expect(errorCode(await join_(j, sign({ cameras: Array.from({ length: 65 }, (_, i) => `g${i}/*`) })))).toBe('unauthorized');
    expect(errorCode(await join_(j, sign({ cameras: ['*'.repeat(129)] })))).toBe('unauthorized');
    expect((await join_(j, sign({ cameras: Array.from({ length: 64 }, (_, i) => `g${i}/*`) }))).ok).toBe(true);
  }, 60_000);

  it('no demo token is printed when the operator gave auth.secret; one is when Vigil generated the secret', async () => {
    const dir = tempDir('vigil-demo-');
    const camera = pushCamera('demo/1', 1101);
    const jwtPattern = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/;
    const withSecret = await spawnVigil(writeConfig(dir, { demo: { enabled: true }, cameras: [camera] }, 'with-secret.json'));
    try {
      // The banner (or the line saying why there is none) comes right after `vigil started`.
      const notPrinted = () => withSecret.logs().some((l) => String(l['msg']).startsWith('demo token not printed'));
      await waitFor(() => notPrinted() || /Viewer token/.test(withSecret.stderr()), 5000, 50);
      expect(withSecret.stderr()).not.toMatch(jwtPattern);
      expect(withSecret.stdout()).not.toMatch(jwtPattern);
      expect(withSecret.logs().some((l) => String(l['msg']).startsWith('demo token not printed'))).toBe(true);
    } finally {
      withSecret.child.kill('SIGTERM');
      await withSecret.exited;
    }
    const generated = await spawnVigil(writeConfig(dir, { auth: {}, demo: { enabled: true }, cameras: [camera] }, 'generated.json'));
    try {
      await waitFor(() => /Viewer token: eyJ/.test(generated.stderr()), 5000, 50);
      expect(generated.stdout()).not.toMatch(jwtPattern);
    } finally {
      generated.child.kill('SIGTERM');
      await generated.exited;
    }
  }, 60_000);

  it('/metrics without a bearer token: refused on a non-loopback viewer port, served on its own listener only', async () => {
    // The route as Vigil registers it for http.host 0.0.0.0 without metrics.bearerToken (no socket needed).
    const app = fastify();
    registerMetricsRoute(app, vigil.metrics!, metricsAccess('0.0.0.0', false, undefined), undefined);
    const refused = await app.inject({ method: 'GET', url: '/metrics' });
    expect(refused.statusCode).toBe(401);
    expect(refused.body).not.toContain('lobby/1');
    await app.close();
    expect(metricsAccess('0.0.0.0', false, 'a-token')).toBe('token');
    expect(metricsAccess('127.0.0.1', false, undefined)).toBe('open');
    // metrics.listen: a separate listener (loopback here); the viewer port no longer serves /metrics.
    const own = await startTestVigil({ cameras: [], metrics: { listen: { host: '127.0.0.1', port: 0 } } });
    try {
      expect((await fetch(`${own.url}/metrics`)).status).toBe(404);
      const m = await fetch(`${own.metricsUrl}/metrics`);
      expect(m.status).toBe(200);
      expect(await m.text()).toContain('vigil_viewer_sessions');
    } finally {
      await own.close();
    }
  }, 30_000);

  it('a revoked token replayed past the subject budget does not lock the real user out', async () => {
    const jti = randomUUID();
    expect((await vigil.admin('POST', '/revocations', { jti })).status).toBe(201);
    const stolen = sign({ sub: 'real-user', jti });
    // joinPerSubject burst is 10: replay it 12 times, from addresses of its own (per-address buckets stay full).
    for (let i = 1; i <= 12; i++) {
      const c = await connect({ localAddress: `127.0.3.${i}` });
      expect(errorCode(await join_(c, stolen)), `replay ${i}`).toBe('unauthorized');
      c.close();
    }
    const owner = await connect({ localAddress: '127.0.3.100' });
    expect((await join_(owner, sign({ sub: 'real-user' }))).ok).toBe(true);
  });

  it('TURN credentials never outlive the token; a refresh re-issues them until the new token\'s exp', async () => {
    const c = await connect();
    const exp = Math.floor(Date.now() / 1000) + 60;
    expect((await join_(c, sign({ sub: 'short-lived', exp }))).ok).toBe(true);
    const t = await c.request({ type: 'createRecvTransport' });
    if (!t.ok) throw new Error('refused');
    const first = (t.data as unknown as { iceServers: { username: string }[] }).iceServers[0]!;
    expect(Number(first.username.split(':')[0])).toBe(exp); // turn.ttlSec is 600
    const exp2 = Math.floor(Date.now() / 1000) + 120;
    const r = await c.request({ type: 'refresh', token: sign({ sub: 'short-lived', exp: exp2 }) });
    if (!r.ok) throw new Error('refresh refused');
    const renewed = (r.data as { iceServers?: { username: string; credential: string }[] }).iceServers;
    expect(renewed).toHaveLength(1);
    expect(renewed![0]!.username).toBe(`${exp2}:short-lived`);
    expect(renewed![0]!.credential).toBe(createHmac('sha1', TURN_SECRET).update(renewed![0]!.username).digest('base64'));
  });

  it('token lifetime: a far-future or non-finite exp is refused, and the refused join leaves the session unjoined', async () => {
    const c = await connect();
    const now = Math.floor(Date.now() / 1000);
    for (const exp of [1e300, now + 30 * 86_400, now + 4 * 3600 + 60]) {
      expect(errorCode(await join_(c, rawRs256(validClaims({ exp })))), String(exp)).toBe('unauthorized');
    }
    // 1e400 parses to Infinity: hand-written JSON.
    const input = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(JSON.stringify(validClaims()).replace(/"exp":\d+/, '"exp":1e400'))}`;
    expect(errorCode(await join_(c, `${input}.${cryptoSign('sha256', Buffer.from(input), privateKey).toString('base64url')}`))).toBe('unauthorized');
    // All or nothing: the same connection can still join, once.
    expect((await join_(c, sign())).ok).toBe(true);
    expect(errorCode(await join_(c, sign()))).toBe('already_joined');
  });

  it('audit growth: re-subscribing one camera in a loop is one viewing; new viewings per subject are rate limited', async () => {
    const { c, transportId } = await withTransport({ sub: 'churner', cameras: ['**'] });
    for (let i = 0; i < 15; i++) {
      const r = await consume(c, transportId, 'lobby/1');
      if (!r.ok) throw new Error(`consume ${i} refused: ${r.error.code}`);
      expect((await c.request({ type: 'closeConsumer', consumerId: (r.data as { consumerId: string }).consumerId })).ok).toBe(true);
    }
    const rows = await vigil.audit!.query({ subject: 'churner', limit: 100 });
    expect(rows).toHaveLength(1);
    expect(rows[0]!.endReason).toBe('left');
    // viewingsPerSubject burst is 4 here: three more cameras, then refused.
    for (const cameraId of ['lobby/10', 'lobby/annex/vault', 'vault/secret']) {
      const r = await consume(c, transportId, cameraId);
      if (!r.ok) throw new Error(`${cameraId} refused: ${r.error.code}`);
      await c.request({ type: 'closeConsumer', consumerId: (r.data as { consumerId: string }).consumerId });
    }
    expect(errorCode(await consume(c, transportId, LONG_ID))).toBe('rate_limited');
    expect(await vigil.audit!.query({ subject: 'churner', limit: 100 })).toHaveLength(4);
    // The store's size is a metric.
    expect(await (await fetch(`${vigil.url}/metrics`)).text()).toMatch(/^vigil_audit_store_bytes [1-9]\d*$/m);
  });

  it('stream quota as a class: switches and re-subscribes share their camera\'s slot; a refresh lowering maxStreams is enforced', async () => {
    const consumerIdOf = (r: Response): string => {
      if (!r.ok) throw new Error(`refused: ${r.error.code}`);
      return (r.data as { consumerId: string }).consumerId;
    };
    const claims = { sub: 'quota-class', cameras: ['**'], maxStreams: 2 };
    const a = await withTransport(claims);
    const b = await withTransport(claims);
    const a1 = consumerIdOf(await consume(a.c, a.transportId, 'lobby/1'));
    const b1 = consumerIdOf(await consume(b.c, b.transportId, 'lobby/10'));
    expect(vigil.access.streams.count('quota-class')).toBe(2);
    // Quality switches on both connections at once (old consumers still open): same cameras, no new slot.
    const setQuality = (c: WsClient, consumerId: string) => c.request({ type: 'setQuality', consumerId, quality: 'low', rtpCapabilities: caps });
    consumerIdOf(await setQuality(a.c, a1));
    consumerIdOf(await setQuality(b.c, b1));
    expect(vigil.access.streams.count('quota-class')).toBe(2);
    // A third camera is over the limit on either connection.
    expect(errorCode(await consume(b.c, b.transportId, 'vault/secret'))).toBe('limit_exceeded');
    // A refresh down to maxStreams 1: this session gives up its camera (both of its consumers).
    const r = await a.c.request({ type: 'refresh', token: sign({ ...claims, maxStreams: 1 }) });
    expect(r.ok).toBe(true);
    await waitFor(() => a.c.notifications.filter((n) => n.notification === 'consumerClosed').length === 2, 1000, 20);
    expect(a.c.notifications.every((n) => n.notification !== 'consumerClosed' || n.reason === 'scope_changed')).toBe(true);
    expect(vigil.access.streams.count('quota-class')).toBe(1);
    expect(errorCode(await consume(a.c, a.transportId, 'lobby/1'))).toBe('limit_exceeded');
  });

  it('JWKS: a plain-http URL to another host and a refetch interval under the floor are refused at start', () => {
    const rs = (jwks: Record<string, unknown>) => testConfig({ auth: { algorithm: 'RS256', jwks } });
    expect(() => parseConfig(rs({ url: 'http://idp.example/.well-known/jwks.json' }))).toThrow(ConfigError);
    expect(() => parseConfig(rs({ url: 'https://idp.example/.well-known/jwks.json', minRefetchIntervalSec: 0 }))).toThrow(ConfigError);
    expect(() => parseConfig(rs({ url: 'https://idp.example/.well-known/jwks.json' }))).not.toThrow();
  });
});

describe('attack suite: transport', () => {
  it('disallowed Origins are refused at upgrade (cross-site WebSocket hijacking)', async () => {
    const port = new URL(vigil.url).port;
    for (const origin of ['https://evil.example', 'null', `http://127.0.0.1:${port}.evil.example`, `http://127.0.0.1:${Number(port) + 1}`, `http://localhost:${port}`, 'file://', `ws://127.0.0.1:${port}`]) {
      expect(await upgradeStatus('/ws', { origin }), origin).toBe(403);
    }
  });

  it('upgrades on any other path are refused', async () => {
    for (const path of ['/', '/wss', '/ws/', '/ws/../admin/v1/sessions', '/admin/v1/sessions', '/WS']) {
      expect(await upgradeStatus(path), path).toBe(404);
    }
  });

  it('a flood of joins beyond the per-address rate limit is refused with rate_limited', async () => {
    const c = await connect();
    const codes: string[] = [];
    for (let i = 0; i < 30; i++) codes.push(errorCode(await join_(c, hmacToken({ alg: 'HS256' }, validClaims(), 'guess'))));
    expect(codes.slice(0, 10).every((x) => x === 'unauthorized')).toBe(true);
    expect(codes.filter((x) => x === 'rate_limited').length).toBeGreaterThanOrEqual(15);
  });

  it('a flood of joins for one subject from many addresses is refused with rate_limited', async () => {
    const results: boolean[] = [];
    for (let i = 0; i < 20; i++) {
      const c = await connect({ localAddress: `127.0.1.${i + 1}` });
      const r = await join_(c, sign({ sub: 'botnet-subject' }));
      results.push(r.ok || errorCode(r) !== 'rate_limited');
      c.close();
    }
    expect(results.filter((ok) => !ok).length).toBeGreaterThanOrEqual(5);
  });

  it('a flood of consumes is refused with rate_limited', async () => {
    const { c, transportId } = await withTransport({ sub: 'consume-flooder' });
    const codes: string[] = [];
    for (let i = 0; i < 40; i++) codes.push(errorCode(await consume(c, transportId, 'vault/secret')));
    expect(codes.slice(0, 15).every((x) => x === 'forbidden')).toBe(true);
    expect(codes.filter((x) => x === 'rate_limited').length).toBeGreaterThanOrEqual(10);
  });

  it('a flood of connections from one address is refused with HTTP 429 beyond the cap', async () => {
    const held: WsClient[] = [];
    for (let i = 0; i < 6; i++) held.push(await connect());
    expect(await upgradeStatus('/ws')).toBe(429);
    for (const c of held) c.close();
    await Promise.all(held.map((c) => c.closed()));
    await waitFor(async () => (await upgradeStatus('/ws')) === 101, 2000, 50);
  });

  it('a connection that never joins is closed at the join timeout', async () => {
    const c = await connect();
    const t0 = Date.now();
    expect(await c.closed()).toBe(1008);
    expect(Date.now() - t0).toBeLessThan(4000);
  });

  it('a peer that stops answering pings is dropped; one that answers stays', async () => {
    const silent = await joined({}, { autoPong: false });
    const polite = await joined();
    const t0 = Date.now();
    await silent.closed();
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(polite.ws.readyState).toBe(WebSocket.OPEN);
    expect((await polite.request({ type: 'getRouterRtpCapabilities' })).ok).toBe(true);
  });

  it('TURN credentials go only to joined viewers, per subject, time-limited (TURN REST convention)', async () => {
    const c = await connect();
    const before = await c.request({ type: 'createRecvTransport' });
    expect(errorCode(before)).toBe('not_joined');
    expect(JSON.stringify(before)).not.toContain('turn:');
    // Valid for turn.ttlSec (600 s) but never past the token's exp (300 s here).
    const exp = Math.floor(Date.now() / 1000) + 300;
    expect((await join_(c, sign({ sub: 'turn-user', exp }))).ok).toBe(true);
    const t = await c.request({ type: 'createRecvTransport' });
    if (!t.ok) throw new Error('refused');
    const { iceServers, iceCandidates } = t.data as unknown as { iceServers: { urls: string[]; username: string; credential: string }[]; iceCandidates: { protocol: string }[] };
    expect(iceCandidates.map((x) => x.protocol).sort()).toEqual(['tcp', 'udp']); // ICE-TCP on
    expect(iceServers).toHaveLength(1);
    const [expiry, user] = iceServers[0]!.username.split(':');
    expect(user).toBe('turn-user');
    expect(Math.abs(Number(expiry) - exp)).toBeLessThanOrEqual(2);
    expect(iceServers[0]!.credential).toBe(createHmac('sha1', TURN_SECRET).update(iceServers[0]!.username).digest('base64'));
  });

  it('error answers in this suite never echoed a token, a camera id or a stack trace', async () => {
    const marker = 'SECRET-MARKER-7f3a';
    const c = await connect();
    const token = `${b64({ alg: 'RS256' })}.${b64({ sub: marker })}.${marker}`;
    const r = await join_(c, token);
    expect(errorCode(r)).toBe('unauthorized');
    const { c: j, transportId } = await withTransport({ cameras: ['lobby/1'] });
    await consume(j, transportId, `vault/${marker}`);
    await j.raw(JSON.stringify({ id: 4, type: 'consume', transportId, cameraId: marker, rtpCapabilities: { codecs: marker } }), 4);
    const all = received.join('\n');
    expect(all).not.toContain(marker);
    expect(all).not.toContain(b64({ sub: marker }));
    expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/); // no JWT fragment
    expect(all).not.toMatch(/\n\s+at |\.ts:\d+|node:internal/); // no stack trace
    expect(all).not.toContain('lobby/annex/vault'); // no camera list leaks
    expect(all).not.toMatch(/"code":"internal"/);
  });
});

afterAll(() => {
  // Every case above was followed by a legitimate viewer check.
  expect(legitChecks).toBeGreaterThanOrEqual(30);
});
