/**
 * A token's life in a session, with real parts: refresh keeps a session
 * (and its consumers) alive past the first token's expiry; the browser SDK
 * refreshes by itself through the app's token callback; revocations survive
 * a restart; JWKS keys rotate without a restart.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import jwt from 'jsonwebtoken';
import type { Browser } from 'playwright-core';
import { PROTOCOL_VERSION } from '@vigil/protocol';
import { launchChromium } from '../helpers/browser.ts';
import { play, probe, sdkPage } from '../helpers/sdk-page.ts';
import { TEST_SECRET, startTestVigil, testCamera, waitFor, type TestVigil } from '../helpers/vigil.ts';
import { WsClient, errorCode } from '../helpers/ws-client.ts';

let vigil: TestVigil;
let browser: Browser | undefined;

beforeAll(async () => {
  vigil = await startTestVigil({
    auth: { secret: TEST_SECRET, clockToleranceSec: 0 },
    cameras: [testCamera('life/1', 'VP8')],
  });
  await waitFor(() => vigil.media.camera('life/1')?.state === 'live', 15_000);
});

afterAll(async () => {
  await browser?.close();
  await vigil?.close();
});

const caps = () => vigil.gateway.rtpCapabilities as unknown as Record<string, unknown>;

describe('token lifecycle', () => {
  it('a refresh before expiry keeps the session and its consumer past the first token', async () => {
    const c = await WsClient.open(vigil.url);
    const first = vigil.token(['life/*'], { ttlSec: 2, subject: 'refresher' });
    const j = await c.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token: first });
    if (!j.ok) throw new Error('join refused');
    const firstExpiry = (j.data as { expiresAt: number }).expiresAt;
    const t = await c.request({ type: 'createRecvTransport' });
    const transportId = (t.ok && (t.data as { id: string }).id) as string;
    const r = await c.request({ type: 'consume', transportId, cameraId: 'life/1', rtpCapabilities: caps() });
    const consumerId = (r.ok && (r.data as { consumerId: string }).consumerId) as string;
    const closed: string[] = [];
    const onClose = (e: { consumerId: string; reason: string }) => e.consumerId === consumerId && closed.push(e.reason);
    vigil.signaling.observer.on('consumerclose', onClose);

    const refreshed = await c.request({ type: 'refresh', token: vigil.token(['life/*'], { ttlSec: 60, subject: 'refresher' }) });
    expect(refreshed.ok).toBe(true);
    expect((refreshed.ok && (refreshed.data as { expiresAt: number }).expiresAt)!).toBeGreaterThan(firstExpiry);
    await new Promise((res) => setTimeout(res, Math.max(0, firstExpiry - Date.now()) + 1500));
    expect(closed).toEqual([]);
    expect(c.ws.readyState).toBe(c.ws.OPEN);
    expect((await c.request({ type: 'resumeConsumer', consumerId })).ok).toBe(true);
    vigil.signaling.observer.off('consumerclose', onClose);
    c.close();
  }, 10_000);

  it('the browser SDK refreshes through the token callback: the feed plays on past expiry on the same session', async () => {
    browser = await launchChromium();
    const page = await browser.newPage();
    let issued = 0;
    await page.exposeFunction('issueToken', () => {
      issued++;
      return vigil.token(['life/*'], { ttlSec: 3, subject: 'sdk-viewer' });
    });
    await page.goto(`${vigil.url}/`);
    await page.evaluate(async (url) => {
      const w = window as unknown as { Vigil: any; issueToken: () => Promise<string>; t: { states: string[]; feed?: any } };
      w.t = { states: [] };
      const video = document.createElement('video');
      document.body.append(video);
      const client = await w.Vigil.connect({ url, token: () => w.issueToken() });
      client.on('state', (s: string) => w.t.states.push(`client:${s}`));
      const feed = await client.play('life/1', video);
      feed.on('state', (s: string) => w.t.states.push(`feed:${s}`));
      w.t.feed = feed;
    }, vigil.url);
    const frames = () => page.evaluate(async () => (await (window as any).t.feed.getStats()).framesDecoded as number);
    await waitFor(async () => (await frames()) > 0, 20_000);
    const session = [...vigil.signaling.sessions].find((s) => s.grant?.subject === 'sdk-viewer');
    expect(session).toBeDefined();
    // Three token lifetimes.
    await new Promise((res) => setTimeout(res, 7000));
    const before = await frames();
    await waitFor(async () => (await frames()) > before + 10, 5000);
    expect(issued).toBeGreaterThanOrEqual(3);
    expect([...vigil.signaling.sessions].filter((s) => s.grant?.subject === 'sdk-viewer').map((s) => s.id)).toEqual([session!.id]);
    const states = await page.evaluate(() => (window as any).t.states as string[]);
    expect(states.filter((s) => /reconnecting|offline|forbidden/.test(s))).toEqual([]);
    await page.close();
  }, 60_000);

  it('the browser SDK, revoked mid-session: its feed shows forbidden and it stops re-joining', async () => {
    browser ??= await launchChromium();
    const page = await sdkPage(browser, vigil.url);
    await play(page, 'r', 'life/1', vigil.token(['life/*'], { subject: 'revoked-viewer' }));
    await waitFor(async () => (await probe(page, 'r')).framesDecoded > 0, 20_000);
    const joins = () => vigil.signaling.sessions.size;
    expect((await vigil.admin('POST', '/revocations', { subject: 'revoked-viewer' })).status).toBe(201);
    await waitFor(async () => (await probe(page, 'r')).state === 'forbidden', 15_000).catch(async (err) => {
      throw new Error(`${(err as Error).message}: ${JSON.stringify(await probe(page, 'r'))}`);
    });
    // No retry loop: over the next backoff steps no session of this viewer comes back.
    const openBefore = joins();
    await new Promise((r) => setTimeout(r, 3000));
    expect([...vigil.signaling.sessions].filter((s) => s.grant?.subject === 'revoked-viewer')).toEqual([]);
    expect(joins()).toBeLessThanOrEqual(openBefore);
    expect(await page.evaluate(() => (window as unknown as { client: { state: string } }).client.state)).toBe('closed');
    expect((await probe(page, 'r')).states.join(' ')).toMatch(/forbidden/);
    await page.close();
    await vigil.admin('DELETE', '/revocations/subject/revoked-viewer');
  }, 60_000);

  it('revocations survive a restart (same deny list file)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vigil-restart-')), 'revocations.json');
    const overrides = { revocations: { file }, cameras: [] };
    const a = await startTestVigil(overrides);
    const token = a.token(['**'], { subject: 'keeper' });
    const { jti } = jwt.decode(token) as { jti: string };
    expect((await a.admin('POST', '/revocations', { jti })).status).toBe(201);
    expect((await a.admin('POST', '/revocations', { subject: 'fired' })).status).toBe(201);
    await a.close();

    const b = await startTestVigil(overrides);
    try {
      expect((await b.admin('GET', '/revocations')).body.revocations.map((e: { kind: string; value: string }) => `${e.kind}:${e.value}`).sort()).toEqual([
        `jti:${jti}`,
        'subject:fired',
      ]);
      const c = await WsClient.open(b.url);
      expect(errorCode(await c.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token }))).toBe('unauthorized');
      expect(errorCode(await c.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token: b.token(['**'], { subject: 'fired' }) }))).toBe('unauthorized');
      expect((await c.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token: b.token(['**'], { subject: 'keeper' }) })).ok).toBe(true);
      c.close();
    } finally {
      await b.close();
    }
  }, 30_000);

  it('RS256 keys from a JWKS URL rotate without a restart', async () => {
    const a = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const b = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = (k: typeof a, kid: string) => ({ ...k.publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' });
    let keys = [jwk(a, 'k1')];
    const idp: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/.well-known/jwks.json`;
    const v = await startTestVigil({
      // The floor: an unknown kid refetches at most every 5 s.
      auth: { algorithm: 'RS256', jwks: { url, minRefetchIntervalSec: 5 }, issuer: 'idp', audience: 'vigil-viewer' },
      cameras: [],
    });
    const sign = (k: typeof a, kid: string) =>
      jwt.sign({ cameras: ['**'], jti: randomUUID() }, k.privateKey, { algorithm: 'RS256', keyid: kid, subject: 'u', issuer: 'idp', audience: 'vigil-viewer', expiresIn: 60 });
    const join_ = async (token: string) => {
      const c = await WsClient.open(v.url);
      const r = await c.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token });
      c.close();
      return r;
    };
    try {
      const pastFloor = () => new Promise((r) => setTimeout(r, 5100));
      expect((await join_(sign(a, 'k1'))).ok).toBe(true);
      expect(errorCode(await join_(sign(b, 'k2')))).toBe('unauthorized');
      keys = [jwk(a, 'k1'), jwk(b, 'k2')];
      // Within the floor an unknown kid does not refetch; past it, it does.
      expect(errorCode(await join_(sign(b, 'k2')))).toBe('unauthorized');
      await pastFloor();
      expect((await join_(sign(b, 'k2'))).ok).toBe(true);
      // k1 retired: dropped at the next refetch (an unknown kid, or maxAgeSec).
      keys = [jwk(b, 'k2')];
      await pastFloor();
      expect(errorCode(await join_(sign(a, 'k3')))).toBe('unauthorized');
      expect(errorCode(await join_(sign(a, 'k1')))).toBe('unauthorized');
      expect((await join_(sign(b, 'k2'))).ok).toBe(true);
    } finally {
      await v.close();
      await new Promise<void>((r) => idp.close(() => r()));
    }
  }, 45_000);
});
