/**
 * AccessControl's order of checks with a real deny list on disk and real
 * token buckets: a revoked token is refused before it costs its subject
 * anything, and TURN credentials never outlive the token.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import jwt from 'jsonwebtoken';
import { ErrorCode, ProtocolError } from '@vigil/protocol';
import { AccessControl } from '../src/auth/access-control.ts';
import { DenyList } from '../src/auth/deny-list.ts';
import { TokenVerifier } from '../src/auth/tokens.ts';

const SECRET = 'unit-secret-0123456789-abcdefghijklmnopq';
const logger = pino({ level: 'silent' });

async function access(turnTtlSec = 3600): Promise<AccessControl> {
  const denyList = await DenyList.open(join(mkdtempSync(join(tmpdir(), 'vigil-ac-')), 'revocations.json'), logger);
  const bucket = (burst: number) => ({ burst, perSec: 0.001 });
  return new AccessControl({
    verifier: new TokenVerifier({ algorithm: 'HS256', key: SECRET, issuer: 'vigil', audience: 'vigil-viewer', clockToleranceSec: 0 }),
    denyList,
    rateLimits: { joinPerIp: bucket(1000), joinPerSubject: bucket(3), consumePerIp: bucket(1000), consumePerSubject: bucket(1000), viewingsPerSubject: bucket(1000) },
    turn: { urls: ['turn:127.0.0.1:3478'], secret: 'turn-secret-0123456789', ttlSec: turnTtlSec },
  });
}

const token = (claims: Record<string, unknown>, ttlSec = 300) =>
  jwt.sign({ sub: 'alice', cameras: ['cam-1'], ...claims }, SECRET, { algorithm: 'HS256', issuer: 'vigil', audience: 'vigil-viewer', expiresIn: ttlSec });

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'accepted';
  } catch (err) {
    if (err instanceof ProtocolError) return err.code;
    throw err;
  }
}

describe('access control', () => {
  it('a revoked token replayed past the subject budget never charges it: the real user still joins', async () => {
    const ac = await access();
    await ac.denyList.add({ kind: 'jti', value: 'stolen' });
    for (let i = 0; i < 10; i++) expect(await code(ac.admitToken(token({ jti: 'stolen' }), '127.0.0.1'))).toBe(ErrorCode.Unauthorized);
    // The budget (burst 3) is whole: three joins pass, the fourth is refused.
    for (let i = 0; i < 3; i++) expect(await code(ac.admitToken(token({ jti: `fresh-${i}` }), '127.0.0.2'))).toBe('accepted');
    expect(await code(ac.admitToken(token({ jti: 'fresh-3' }), '127.0.0.2'))).toBe(ErrorCode.RateLimited);
  });

  it('a revoked subject is refused before its budget too', async () => {
    const ac = await access();
    await ac.denyList.add({ kind: 'subject', value: 'alice' });
    for (let i = 0; i < 5; i++) expect(await code(ac.admitToken(token({}), '127.0.0.1'))).toBe(ErrorCode.Unauthorized);
    await ac.denyList.remove('subject', 'alice');
    expect(await code(ac.admitToken(token({}), '127.0.0.1'))).toBe('accepted');
  });

  it('TURN credentials expire with the token when it ends before turn.ttlSec, at ttlSec otherwise', async () => {
    const ac = await access(3600);
    const short = await ac.admitToken(token({}, 120), '127.0.0.1');
    const [expiry] = ac.iceServers(short)![0]!.username.split(':');
    expect(Number(expiry)).toBe(Math.floor(short.expiresAt / 1000));
    const long = await ac.admitToken(token({}, 7200), '127.0.0.1');
    const [expiry2] = ac.iceServers(long)![0]!.username.split(':');
    expect(Number(expiry2)).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 3600);
    expect(Number(expiry2)).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) + 3599);
    expect(ac.iceServers(long)![0]!.username.endsWith(':alice')).toBe(true);
  });
});
