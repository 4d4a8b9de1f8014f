/**
 * The SDK recovering by itself, in headless Chromium (and, for a server
 * restart, Firefox ESR too) against real parts:
 * - ICE broken under a playing feed -> ICE restart on the same transport and consumer;
 * - camera RTP gone -> `stalled`, `offline`, and playing again when the camera returns;
 * - the whole server restarted on the same HTTP port -> the feed plays again.
 *
 * Breaking ICE without touching the network: the test restarts ICE on the
 * server side twice behind the browser's back. mediasoup keeps accepting the
 * previous credentials once (IceServer::RestartIce keeps an "old" ufrag until
 * the new one is used), so after two restarts the browser's STUN consent
 * checks go unanswered, exactly as when the path breaks: Chromium reports the
 * transport `disconnected` after a few seconds (measured: ~7 s), and only a
 * real ICE restart (new credentials from the server) brings it back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.ts';
import { ENGINES, useEngine } from '../helpers/engines.ts';
import { play, probe, sdkPage } from '../helpers/sdk-page.ts';
import { startTestVigil, testCamera, waitFor, type TestVigil } from '../helpers/vigil.ts';
import { trackConsumers, type ConsumerTracker } from '../helpers/consumers.ts';
import { pushCamera } from '../helpers/rtp-pusher.ts';

let vigil: TestVigil;
let browser: Browser;
let tracker: ConsumerTracker;
const push = pushCamera('gate', 626262);
const config = {
  ingest: { stallTimeoutMs: 1000, offlineTimeoutMs: 1500, retryMinMs: 200, retryMaxMs: 1000 },
  cameras: [testCamera('hall', 'VP8'), push.config],
};

beforeAll(async () => {
  vigil = await startTestVigil(config);
  tracker = trackConsumers(vigil.gateway);
  await waitFor(() => vigil.media.camera('hall')!.state === 'live', 15_000);
  browser = await launchChromium();
});

afterAll(async () => {
  push.killAll();
  await browser?.close();
  await vigil?.close();
});

describe('SDK recovery', () => {
  it('restarts ICE when the connection breaks; the same transport and consumer play on', async () => {
    const page = await sdkPage(browser, vigil.url);
    await play(page, 'ice', 'hall', vigil.token(['hall']));
    await waitFor(async () => (await probe(page, 'ice')).state === 'playing', 20_000);
    const [transport] = tracker.transports();
    const [consumer] = tracker.live();
    if (!transport || !consumer) throw new Error('no server transport/consumer');

    const brokenAt = Date.now();
    await transport.restartIce();
    const broken = await transport.restartIce();
    await waitFor(async () => (await probe(page, 'ice')).states.some((s) => s.startsWith('reconnecting')), 30_000);
    await waitFor(() => transport.iceParameters.usernameFragment !== broken.usernameFragment, 15_000);
    const before = (await probe(page, 'ice')).framesDecoded;
    await waitFor(async () => {
      const p = await probe(page, 'ice');
      return p.state === 'playing' && p.framesDecoded > before + 15;
    }, 15_000);
    const p = await probe(page, 'ice');
    console.log(`[ice] broken -> ICE restarted and playing after ${Date.now() - brokenAt} ms; states ${p.states.join(' ')}`);
    expect(transport.closed).toBe(false);
    expect(consumer.closed).toBe(false);
    expect(tracker.transports()).toEqual([transport]);
    expect(await page.evaluate(() => (window as any).feeds.ice.feed.consumer.id)).toBe(consumer.id);
    await page.close();
  });

  it('shows stalled, then offline, while the camera is silent, and plays again by itself when it returns', async () => {
    const cam = vigil.gateway.camera('gate')!;
    await push.start(vigil.gateway);
    await waitFor(() => cam.state === 'live', 10_000);
    const page = await sdkPage(browser, vigil.url);
    await play(page, 'cam', 'gate', vigil.token(['gate']));
    await waitFor(async () => (await probe(page, 'cam')).state === 'playing', 20_000);

    push.killAll();
    await waitFor(async () => (await probe(page, 'cam')).state === 'offline', 10_000);
    const returnedAt = Date.now();
    await push.start(vigil.gateway);
    await waitFor(async () => (await probe(page, 'cam')).state === 'playing', 20_000);
    const before = (await probe(page, 'cam')).framesDecoded;
    await waitFor(async () => (await probe(page, 'cam')).framesDecoded > before + 10, 10_000);
    const p = await probe(page, 'cam');
    console.log(`[camera] playing again ${Date.now() - returnedAt} ms after the camera returned; states ${p.states.join(' ')}`);
    const seq = p.states.map((s) => s.split('@')[0]);
    const killed = seq.lastIndexOf('playing', seq.indexOf('stalled'));
    expect(seq.slice(killed)).toEqual(expect.arrayContaining(['stalled', 'offline', 'playing']));
    expect(seq.indexOf('stalled')).toBeLessThan(seq.indexOf('offline'));
    expect(seq.at(-1)).toBe('playing');
    await page.close();
  });

});

describe.each(ENGINES)('SDK recovery after a server restart (%s)', (engine) => {
  const engineBrowser = useEngine(engine, async () => (await vigil.admin('GET', '/sessions')).body.sessions.length === 0);

  it('plays again by itself after the server restarts on the same port', async () => {
    const page = await sdkPage(engineBrowser(), vigil.url);
    await play(page, 'srv', 'hall', vigil.token(['hall']));
    await waitFor(async () => (await probe(page, 'srv')).state === 'playing', 20_000);

    const port = Number(new URL(vigil.url).port);
    const stoppedAt = Date.now();
    await vigil.close();
    await waitFor(async () => (await probe(page, 'srv')).state === 'reconnecting', 10_000);
    // Down long enough for the SDK's first reconnect attempts (0.5 s, 1 s) to be refused.
    await new Promise((r) => setTimeout(r, 2000));
    vigil = await startTestVigil({ ...config, http: { host: '127.0.0.1', port } });
    const restartedIn = Date.now() - stoppedAt;
    await waitFor(async () => {
      const p = await probe(page, 'srv');
      return p.state === 'playing' && p.framesDecoded > 15;
    }, 30_000);
    const p = await probe(page, 'srv');
    console.log(`[server] ${engine}: restarted in ${restartedIn} ms; feed playing again ${Date.now() - stoppedAt} ms after the stop; states ${p.states.join(' ')}`);
    expect(p.videoWidth).toBe(640);
    expect((await vigil.admin('GET', '/sessions')).body.sessions).toHaveLength(1);
    await page.close();
  });
});
