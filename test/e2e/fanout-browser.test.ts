/**
 * Fan-out across workers and streams, in headless Chromium with real parts:
 * two mediasoup workers, ffmpeg test patterns with main and sub streams.
 * - a viewer placed on the other worker (consumer budget reached) receives
 *   frames through pipeToRouter;
 * - main/sub switching without reconnecting and without a black gap, in
 *   Chromium and Firefox ESR (the two-stream camera is VP8: offline Firefox
 *   has no H.264);
 * - a worker that dies is replaced, its camera re-ingested, and the viewer
 *   resumes by itself;
 * - a viewer's consumers (the live one and the instant-start primer)
 *   negotiate no bandwidth estimation (no transport-cc, abs-send-time, REMB):
 *   its transport runs no congestion-control client and sends no probation
 *   padding; NACK and PLI stay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.ts';
import { trackConsumers, type ConsumerTracker } from '../helpers/consumers.ts';
import { ENGINES, useEngine } from '../helpers/engines.ts';
import { play, probe, resetGap, sdkPage, type AnyPage } from '../helpers/sdk-page.ts';
import { startTestVigil, waitFor, type TestVigil } from '../helpers/vigil.ts';

let vigil: TestVigil;
let browser: Browser;
let tracker: ConsumerTracker;
const pattern = (width: number, height: number) => ({ kind: 'test-pattern', width, height, fps: 30, gopFrames: 30, bitrate: 500_000 });

beforeAll(async () => {
  vigil = await startTestVigil({
    workers: { count: 2 },
    fanout: { maxConsumersPerRouter: 1 },
    cameras: [
      { id: 'dual', codec: 'VP8', source: pattern(640, 360), subSource: pattern(320, 180) },
      { id: 'single', codec: 'H264', source: pattern(480, 270) },
    ],
  });
  await waitFor(() => vigil.media.cameras().every((c) => c.state === 'live'), 15_000);
  tracker = trackConsumers(vigil.gateway);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await vigil?.close();
});

async function playing(page: AnyPage, key: string, width: number): Promise<void> {
  await waitFor(async () => {
    const p = await probe(page, key);
    if (p.error) throw new Error(`play failed: ${p.error}`);
    return p.state === 'playing' && p.videoWidth === width;
  }, 20_000);
}

async function framesGrow(page: AnyPage, key: string, by = 10): Promise<void> {
  const start = (await probe(page, key)).framesDecoded;
  await waitFor(async () => (await probe(page, key)).framesDecoded > start + by, 10_000);
}

describe('fan-out across workers', () => {
  it('serves a viewer from the other worker through pipeToRouter once the camera router is over budget', async () => {
    const home = vigil.gateway.camera('single')!.router.id;
    const a = await sdkPage(browser, vigil.url);
    await play(a, 'a', 'single', vigil.token(['single']));
    await playing(a, 'a', 480);
    const b = await sdkPage(browser, vigil.url);
    await play(b, 'b', 'single', vigil.token(['single']));
    await playing(b, 'b', 480);
    await framesGrow(b, 'b');
    const slots = vigil.gateway.workers.slots;
    const homeSlot = slots.find((s) => s.router.id === home)!;
    const other = slots.find((s) => s.router.id !== home)!;
    // One viewer per router: the second one's consumer (and the pipe) live on the other worker.
    expect(homeSlot.webRtcTransports).toBe(1);
    expect(other.webRtcTransports).toBe(1);
    expect(other.consumers).toBeGreaterThanOrEqual(1);
    await a.close();
    await b.close();
  });
});

describe('viewer transports', () => {
  it('play without bandwidth estimation: no transport-cc, abs-send-time or REMB, no congestion-control client, no probation padding; NACK and PLI stay', async () => {
    const before = new Set(tracker.transports());
    const page = await sdkPage(browser, vigil.url);
    await play(page, 'bwe', 'single', vigil.token(['single']));
    await playing(page, 'bwe', 480);
    await framesGrow(page, 'bwe', 30);
    const transport = tracker.transports().find((t) => !before.has(t))!;
    const consumers = tracker.consumersOf(transport);
    expect(consumers.map((c) => c.kind)).toContain('video');
    expect(consumers.filter((c) => c.appData['primer'] === true)).toHaveLength(1);
    const [stats] = await transport.getStats();
    // mediasoup reports availableOutgoingBitrate only when the transport runs a congestion-control client.
    expect(stats!.availableOutgoingBitrate).toBeUndefined();
    expect(stats!.probationBytesSent).toBe(0);
    for (const c of consumers) {
      const uris = (c.rtpParameters.headerExtensions ?? []).map((h) => h.uri);
      expect(uris.filter((u) => /transport-wide-cc|abs-send-time/.test(u))).toEqual([]);
      const feedback = c.rtpParameters.codecs.flatMap((k) => (k.rtcpFeedback ?? []).map((fb) => `${fb.type} ${fb.parameter ?? ''}`.trim()));
      expect(feedback).not.toContain('transport-cc');
      expect(feedback).not.toContain('goog-remb');
      if (c.kind === 'video') expect(feedback).toEqual(expect.arrayContaining(['nack', 'nack pli', 'ccm fir']));
    }
    await page.close();
  });
});

describe.each(ENGINES)('main and sub streams (%s)', (engine) => {
  const engineBrowser = useEngine(engine, async () => (await vigil.admin('GET', '/sessions')).body.sessions.length === 0);

  it('plays the sub stream, switches to main and back without reconnecting and without a gap longer than one GOP', async () => {
    const page = await sdkPage(engineBrowser(), vigil.url);
    await play(page, 'w', 'dual', vigil.token(['dual']), 'low');
    await playing(page, 'w', 320);
    expect((await probe(page, 'w')).quality).toBe('low');

    for (const [quality, width] of [['high', 640], ['low', 320]] as const) {
      await resetGap(page, 'w');
      const t0 = Date.now();
      await page.evaluate((q) => (window as any).feeds.w.feed.setQuality(q), quality);
      await waitFor(async () => (await probe(page, 'w')).videoWidth === width, 10_000);
      await framesGrow(page, 'w', 15);
      const p = await probe(page, 'w');
      console.log(`[quality] ${engine} switch to ${quality}: ${Date.now() - t0} ms, longest frame gap ${p.maxFrameGapMs} ms (GOP 1000 ms)`);
      expect(p.quality).toBe(quality);
      expect(p.maxFrameGapMs).toBeLessThan(1000);
    }
    // Still one WebSocket session and one transport for this page.
    expect((await vigil.admin('GET', '/sessions')).body.sessions).toHaveLength(1);
    await page.close();
  });
});

describe('worker death', () => {
  it('replaces a dead worker, re-ingests its camera, and the viewer resumes by itself', async () => {
    const page = await sdkPage(browser, vigil.url);
    await play(page, 'd', 'dual', vigil.token(['dual']));
    await playing(page, 'd', 640);
    const camera = vigil.gateway.camera('dual')!;
    const slot = vigil.gateway.workers.slots.find((s) => s.router.id === camera.router.id)!;
    const deadPid = slot.worker.pid;
    const oldProducer = camera.producer.id;
    const killedAt = Date.now();
    process.kill(deadPid, 'SIGKILL');

    await waitFor(() => slot.worker.pid !== deadPid && !slot.worker.closed, 10_000);
    await waitFor(() => camera.producer.id !== oldProducer && camera.state === 'live', 10_000);
    const before = (await probe(page, 'd')).framesDecoded;
    await waitFor(async () => {
      const p = await probe(page, 'd');
      return p.state === 'playing' && p.framesDecoded > 10 && p.framesDecoded !== before;
    }, 20_000);
    await framesGrow(page, 'd', 15);
    console.log(`[worker] killed worker ${deadPid}; viewer playing again after ${Date.now() - killedAt} ms`);
    expect(slot.replacements).toBe(1);
    await page.close();
  });
});
