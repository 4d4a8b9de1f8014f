/**
 * Each AccessControl limit on its own: one bucket tight (burst 2), every
 * other loose, so a refusal can only come from the limit under test; the
 * refusals' codes and messages as the client sees them.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import jwt from 'jsonwebtoken';
import { ErrorCode, ProtocolError } from '@vigil/protocol';
import type { RateLimitsConfig } from '../src/config/schema.ts';
import { AccessControl } from '../src/auth/access-control.ts';
import { DenyList } from '../src/auth/deny-list.ts';
import { TokenVerifier } from '../src/auth/tokens.ts';

const SECRET = 'unit-secret-0123456789-abcdefghijklmnopq';
const logger = pino({ level: 'silent' });
const LOOSE = { burst: 1000, perSec: 0.001 };
const TIGHT = { burst: 2, perSec: 0.001 };

/** AccessControl with every limit loose except `tight` (burst 2, no refill to speak of). */
async function access(tight?: keyof RateLimitsConfig): Promise<AccessControl> {
  const denyList = await DenyList.open(join(mkdtempSync(join(tmpdir(), 'vigil-acl-')), 'revocations.json'), logger);
  const rateLimits = { joinPerIp: LOOSE, joinPerSubject: LOOSE, consumePerIp: LOOSE, consumePerSubject: LOOSE, viewingsPerSubject: LOOSE };
  if (tight) rateLimits[tight] = TIGHT;
  return new AccessControl({
    verifier: new TokenVerifier({ algorithm: 'HS256', key: SECRET, issuer: 'vigil', audience: 'vigil-viewer', clockToleranceSec: 0 }),
    denyList,
    rateLimits,
  });
}

const token = (claims: Record<string, unknown>) =>
  jwt.sign({ sub: 'alice', cameras: ['cam-1'], ...claims }, SECRET, { algorithm: 'HS256', issuer: 'vigil', audience: 'vigil-viewer', expiresIn: 300 });

/** 'accepted', or the refusal as `code: message`. */
async function outcome(fn: () => unknown): Promise<string> {
  try {
    await fn();
    return 'accepted';
  } catch (err) {
    if (err instanceof ProtocolError) return `${err.code}: ${err.message}`;
    throw err;
  }
}

const RATE_LIMITED = `${ErrorCode.RateLimited}: too many requests, retry later`;

describe('access control limits, each on its own', () => {
  it('joinPerIp: the third join from one address is refused whatever the subject; another address still joins', async () => {
    const ac = await access('joinPerIp');
    expect(await outcome(() => ac.admitToken(token({ sub: 'a' }), '198.51.100.1'))).toBe('accepted');
    expect(await outcome(() => ac.admitToken(token({ sub: 'b' }), '198.51.100.1'))).toBe('accepted');
    expect(await outcome(() => ac.admitToken(token({ sub: 'c' }), '198.51.100.1'))).toBe(RATE_LIMITED);
    expect(await outcome(() => ac.admitToken(token({ sub: 'c' }), '198.51.100.2'))).toBe('accepted');
  });

  it('joinPerIp is taken before the signature check: forged tokens use up the address budget', async () => {
    const ac = await access('joinPerIp');
    const forged = jwt.sign({ sub: 'a', cameras: ['cam-1'] }, 'not-the-secret-0123456789-abcdefghijkl', { expiresIn: 300 });
    expect(await outcome(() => ac.admitToken(forged, '198.51.100.1'))).toBe(`${ErrorCode.Unauthorized}: token rejected`);
    expect(await outcome(() => ac.admitToken(forged, '198.51.100.1'))).toBe(`${ErrorCode.Unauthorized}: token rejected`);
    expect(await outcome(() => ac.admitToken(token({}), '198.51.100.1'))).toBe(RATE_LIMITED);
  });

  it('joinPerSubject: the third join of one subject is refused from any address; another subject still joins', async () => {
    const ac = await access('joinPerSubject');
    expect(await outcome(() => ac.admitToken(token({}), '198.51.100.1'))).toBe('accepted');
    expect(await outcome(() => ac.admitToken(token({}), '198.51.100.2'))).toBe('accepted');
    expect(await outcome(() => ac.admitToken(token({}), '198.51.100.3'))).toBe(RATE_LIMITED);
    expect(await outcome(() => ac.admitToken(token({ sub: 'bob' }), '198.51.100.3'))).toBe('accepted');
  });

  it('a revoked token is refused as unauthorized with "token revoked"', async () => {
    const ac = await access();
    await ac.denyList.add({ kind: 'jti', value: 'gone' });
    expect(await outcome(() => ac.admitToken(token({ jti: 'gone' }), '198.51.100.1'))).toBe(`${ErrorCode.Unauthorized}: token revoked`);
    expect(ac.isDenied('alice', ['other', 'gone'])).toBe(true);
    expect(ac.isDenied('alice', ['other'])).toBe(false);
  });

  it('consumePerIp: the third consume from one address is refused whatever the subject; another address still consumes', async () => {
    const ac = await access('consumePerIp');
    expect(await outcome(() => ac.admitConsume('198.51.100.1', 'a'))).toBe('accepted');
    expect(await outcome(() => ac.admitConsume('198.51.100.1', 'b'))).toBe('accepted');
    expect(await outcome(() => ac.admitConsume('198.51.100.1', 'c'))).toBe(RATE_LIMITED);
    expect(await outcome(() => ac.admitConsume('198.51.100.2', 'c'))).toBe('accepted');
  });

  it('consumePerSubject: the third consume of one subject is refused from any address; another subject still consumes', async () => {
    const ac = await access('consumePerSubject');
    expect(await outcome(() => ac.admitConsume('198.51.100.1', 'alice'))).toBe('accepted');
    expect(await outcome(() => ac.admitConsume('198.51.100.2', 'alice'))).toBe('accepted');
    expect(await outcome(() => ac.admitConsume('198.51.100.3', 'alice'))).toBe(RATE_LIMITED);
    expect(await outcome(() => ac.admitConsume('198.51.100.3', 'bob'))).toBe('accepted');
  });

  it('viewingsPerSubject: the third new viewing of one subject is refused; another subject still views', async () => {
    const ac = await access('viewingsPerSubject');
    expect(await outcome(() => ac.admitViewing('alice'))).toBe('accepted');
    expect(await outcome(() => ac.admitViewing('alice'))).toBe('accepted');
    expect(await outcome(() => ac.admitViewing('alice'))).toBe(RATE_LIMITED);
    expect(await outcome(() => ac.admitViewing('bob'))).toBe('accepted');
    // Consumes are a separate budget.
    expect(await outcome(() => ac.admitConsume('198.51.100.1', 'alice'))).toBe('accepted');
  });

  it('maxStreams: the stream past the claim is refused with limit_exceeded; a release frees a slot', async () => {
    const ac = await access();
    const grant = await ac.admitToken(token({ maxStreams: 1 }), '198.51.100.1');
    const release = await ac.acquireStream(grant);
    expect(await outcome(() => ac.acquireStream(grant))).toBe(`${ErrorCode.LimitExceeded}: too many concurrent streams for this token`);
    release();
    expect(await outcome(() => ac.acquireStream(grant))).toBe('accepted');
  });

  it('hands out no TURN servers when none are configured', async () => {
    const ac = await access();
    expect(ac.iceServers(await ac.admitToken(token({}), '198.51.100.1'))).toBeUndefined();
  });
});
