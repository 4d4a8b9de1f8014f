/**
 * TURN credentials against a real TURN server: Debian's coturn with
 * `use-auth-secret` (the TURN REST API convention), on 127.0.0.1.
 *
 * - The credentials Vigil hands a joined viewer allocate a relay
 *   (coturn's own client, turnutils_uclient); tampered ones do not.
 * - The SDK passes them to the browser's receive transport: Chromium plays a
 *   feed, and coturn logs a successful ALLOCATE for `<expiry>:<subject>`.
 * - They expire with the token; at each token refresh the SDK applies the new
 *   ones to the live connection and restarts ICE (relay only), so coturn
 *   allocates again with the new credentials while the feed keeps playing.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { PROTOCOL_VERSION } from '@vigil/protocol';
import { launchChromium } from '../helpers/browser.ts';
import { startTestVigil, testCamera, waitFor, type TestVigil } from '../helpers/vigil.ts';
import { WsClient } from '../helpers/ws-client.ts';

const SECRET = 'turn-test-static-auth-secret-0123';
let turnPort = 0;
let turnserver: ChildProcess;
let turnLog = '';
let vigil: TestVigil;
let browser: Browser | undefined;

/** A UDP port free right now on 127.0.0.1. */
function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  turnPort = await freeUdpPort();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-turn-'));
  turnserver = spawn(
    'turnserver',
    [
      '-n', '-v', '--no-cli', '--no-tls', '--no-dtls',
      '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${turnPort}`,
      '--realm=vigil.test', '--use-auth-secret', `--static-auth-secret=${SECRET}`,
      '--allow-loopback-peers', '--log-file=stdout', '--simple-log', `--pidfile=${join(dir, 'turnserver.pid')}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  turnserver.stdout!.on('data', (d: Buffer) => (turnLog += d.toString()));
  turnserver.stderr!.on('data', (d: Buffer) => (turnLog += d.toString()));
  await waitFor(() => /Total (UDP|General) servers|listener opened on|IPv4. UDP listener/i.test(turnLog), 10_000, 50);
  vigil = await startTestVigil({
    cameras: [testCamera('relay/1', 'VP8')],
    turn: { urls: [`turn:127.0.0.1:${turnPort}?transport=udp`], secret: SECRET, ttlSec: 600 },
  });
  await waitFor(() => vigil.gateway.camera('relay/1')?.state === 'live', 15_000);
});

afterAll(async () => {
  await browser?.close();
  await vigil?.close();
  turnserver?.kill('SIGTERM');
});

/** Runs coturn's client: allocate a relay with these credentials; resolves with its exit code. */
function allocate(username: string, credential: string): Promise<number> {
  return new Promise((resolve) => {
    execFile(
      'turnutils_uclient',
      ['-y', '-n', '1', '-m', '1', '-l', '100', '-p', String(turnPort), '-u', username, '-w', credential, '127.0.0.1'],
      { timeout: 10_000 },
      (err) => resolve(err ? ((err as { code?: number }).code ?? 1) : 0),
    );
  });
}

async function iceServersFor(subject: string): Promise<{ urls: string[]; username: string; credential: string }> {
  const c = await WsClient.open(vigil.url);
  expect((await c.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token: vigil.token(['relay/*'], { subject }) })).ok).toBe(true);
  const t = await c.request({ type: 'createRecvTransport' });
  c.close();
  if (!t.ok) throw new Error('createRecvTransport refused');
  const servers = (t.data as unknown as { iceServers: { urls: string[]; username: string; credential: string }[] }).iceServers;
  expect(servers).toHaveLength(1);
  return servers[0]!;
}

describe('TURN credentials (coturn, use-auth-secret)', () => {
  it('coturn accepts the credentials Vigil hands a joined viewer, and refuses tampered ones', async () => {
    const s = await iceServersFor('guard-7');
    expect(s.urls).toEqual([`turn:127.0.0.1:${turnPort}?transport=udp`]);
    expect(s.username).toMatch(/^\d+:guard-7$/);
    expect(await allocate(s.username, s.credential)).toBe(0);
    const [expiry] = s.username.split(':');
    // Longer lifetime or another user with the same credential: the HMAC no longer matches.
    expect(await allocate(`${Number(expiry) + 86_400}:guard-7`, s.credential)).not.toBe(0);
    expect(await allocate(`${expiry}:chief`, s.credential)).not.toBe(0);
    // A credential that lapsed (made by the same convention, expiry in the past).
    const { turnCredentials } = await import('../../signaling/src/turn/credentials.ts');
    const old = turnCredentials({ urls: s.urls, secret: SECRET, ttlSec: 60 }, 'guard-7', Date.now() - 120_000).iceServer;
    expect(await allocate(old.username, old.credential)).not.toBe(0);
  }, 60_000);

  it('the SDK gives them to the browser transport: Chromium plays a feed relayed through coturn', async () => {
    browser = await launchChromium();
    const page = await browser.newPage();
    // The demo page's origin (same-origin WebSocket); its own script finds no #camera and stops.
    await page.goto(`${vigil.url}/`);
    const token = vigil.token(['relay/*'], { subject: 'browser-viewer' });
    await page.evaluate(async ({ url, token }) => {
      const w = window as unknown as { Vigil: any; relayed: { state: string; feed?: any; error?: string } };
      w.relayed = { state: 'connecting' };
      const video = document.createElement('video');
      document.body.append(video);
      try {
        // relay only: media can reach the browser through the TURN server and no other way.
        const client = await w.Vigil.connect({ url, token, iceTransportPolicy: 'relay' });
        const feed = await client.play('relay/1', video);
        w.relayed.feed = feed;
        feed.on('state', (s: string) => (w.relayed.state = s));
      } catch (err) {
        w.relayed.state = 'error';
        w.relayed.error = String((err as Error).message);
      }
    }, { url: vigil.url, token });
    const state = () => page.evaluate(() => (window as unknown as { relayed: { state: string } }).relayed.state);
    await waitFor(async () => ['playing', 'error'].includes(await state()), 20_000);
    expect(await state()).toBe('playing');
    const frames = () =>
      page.evaluate(async () => (await (window as unknown as { relayed: { feed: { getStats(): Promise<{ framesDecoded: number }> } } }).relayed.feed.getStats()).framesDecoded);
    const a = await frames();
    await waitFor(async () => (await frames()) > a + 10, 10_000);
    // coturn authenticated the browser with Vigil's credentials for this subject.
    expect(turnLog).toMatch(/user <\d+:browser-viewer>: incoming packet ALLOCATE processed, success/);
    await page.close();
  }, 60_000);

  it('relay only with short tokens: each refresh brings new TURN credentials, the SDK re-allocates with them and keeps playing', async () => {
    browser ??= await launchChromium();
    const page = await browser.newPage();
    const issued: number[] = [];
    await page.exposeFunction('issueToken', () => {
      issued.push(Date.now());
      return vigil.token(['relay/*'], { ttlSec: 6, subject: 'relay-refresher' });
    });
    await page.goto(`${vigil.url}/`);
    await page.evaluate(async (url) => {
      const w = window as unknown as { Vigil: any; issueToken: () => Promise<string>; r: { state: string; feed?: any; error?: string } };
      w.r = { state: 'connecting' };
      const video = document.createElement('video');
      document.body.append(video);
      try {
        const client = await w.Vigil.connect({ url, token: () => w.issueToken(), iceTransportPolicy: 'relay' });
        const feed = await client.play('relay/1', video);
        w.r.feed = feed;
        feed.on('state', (s: string) => (w.r.state = s));
      } catch (err) {
        w.r.state = 'error';
        w.r.error = String((err as Error).message);
      }
    }, vigil.url);
    const state = () => page.evaluate(() => (window as unknown as { r: { state: string } }).r.state);
    await waitFor(async () => ['playing', 'error'].includes(await state()), 20_000);
    expect(await state()).toBe('playing');
    const [sessionId] = [...vigil.signaling.sessions].filter((x) => x.grant?.subject === 'relay-refresher').map((x) => x.id);
    const allocated = (): string[] => [
      ...new Set([...turnLog.matchAll(/user <(\d+:relay-refresher)>: incoming packet ALLOCATE processed, success/g)].map((m) => m[1]!)),
    ];
    // The first credential ends with the first token (6 s), not with turn.ttlSec (600 s).
    const [first] = allocated();
    expect(Number(first!.split(':')[0]) * 1000).toBeLessThanOrEqual(issued[0]! + 7000);
    // After the first refresh (~1.2 s before expiry) coturn sees an allocation with the next credential.
    await waitFor(() => allocated().length >= 2, 20_000, 100);
    const [, second] = allocated();
    expect(Number(second!.split(':')[0])).toBeGreaterThan(Number(first!.split(':')[0]));
    // Past the first credential's expiry the feed still plays, on the same session.
    await new Promise((r) => setTimeout(r, Math.max(0, Number(first!.split(':')[0]) * 1000 - Date.now()) + 1000));
    const frames = () => page.evaluate(async () => (await (window as unknown as { r: { feed: { getStats(): Promise<{ framesDecoded: number }> } } }).r.feed.getStats()).framesDecoded);
    const a = await frames();
    await waitFor(async () => (await frames()) > a + 10, 10_000);
    expect(await state()).toBe('playing');
    const mine = () => [...vigil.signaling.sessions].filter((x) => x.grant?.subject === 'relay-refresher').map((x) => x.id);
    expect(mine()).toEqual([sessionId]);
    await page.close();
  }, 60_000);
});

