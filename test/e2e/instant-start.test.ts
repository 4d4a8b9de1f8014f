/**
 * Instant start in headless Chromium against a real Vigil: a test-pattern
 * camera with a 10 s GOP (ffmpeg ignores keyframe requests, as RTSP cameras
 * do), a viewer arriving 2-4 s after a keyframe (6-8 s before the next).
 * - the first frame is decoded well inside one GOP (the GOP cache replayed);
 * - the replay catches up quickly (the fast-forward is short);
 * - the viewer is live afterwards: glass-to-glass, read off the clock the
 *   camera burns into each frame, is as low while the primer relays the live
 *   stream as once the live consumer has taken over, and the SDK does switch
 *   to the live consumer at the camera's next keyframe (the primer closes).
 * And the cache's bounds per stream (bytes, media age), on a real worker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.ts';
import { readClock, type ClockReading } from '../helpers/clock-ocr.ts';
import { trackConsumers, type ConsumerTracker } from '../helpers/consumers.ts';
import { play, probe, sdkPage } from '../helpers/sdk-page.ts';
import { startTestVigil, waitFor, type TestVigil } from '../helpers/vigil.ts';

const GOP_S = 10;
let vigil: TestVigil;
let browser: Browser;
let consumers: ConsumerTracker;

beforeAll(async () => {
  vigil = await startTestVigil({
    cameras: [{ id: 'cam', codec: 'H264', source: { kind: 'test-pattern', width: 640, height: 360, fps: 30, gopFrames: 30 * GOP_S, bitrate: 600_000 } }],
  });
  consumers = trackConsumers(vigil.gateway);
  browser = await launchChromium();
  await waitFor(() => vigil.media.camera('cam')?.state === 'live', 15_000);
});

afterAll(async () => {
  await browser?.close();
  await vigil?.close();
});

/** Reads the clock until Tesseract gets it (a frame mid-update can blur a digit). */
async function latency(page: Page): Promise<ClockReading> {
  let last: ClockReading | undefined;
  for (let i = 0; i < 5; i++) {
    last = await readClock(page, '#v-main');
    if (last.latencyMs !== undefined && Math.abs(last.latencyMs) < 60_000) return last;
    await page.waitForTimeout(100);
  }
  throw new Error(`the burnt-in clock was unreadable: ${JSON.stringify(last?.text)}`);
}

/** True while the element shows the primer's track (not the live consumer's). */
function showsPrimer(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const f = (window as unknown as Record<string, any>).feeds['main'];
    const shown = (f.video.srcObject as MediaStream).getVideoTracks()[0];
    return shown?.id !== f.feed.consumer.track.id;
  });
}

describe('instant start at a 10 s GOP', () => {
  it('shows the first frame well inside one GOP, then plays live', async () => {
    const camera = vigil.gateway.camera('cam')!;
    // Arrive 2-4 s after a keyframe: without the cache the next one is 6-8 s away.
    await waitFor(() => {
      const age = vigil.gateway.fanout.cacheStats(camera, 'high')?.ageMs ?? 0;
      return age >= 2000 && age <= 4000;
    }, 2 * GOP_S * 1000, 20);
    const ageAtStart = vigil.gateway.fanout.cacheStats(camera, 'high')!.ageMs;

    const page = await sdkPage(browser, vigil.url);
    await play(page, 'main', 'cam', vigil.token(['cam']));
    await waitFor(async () => (await probe(page, 'main')).ttffMs !== undefined, 15_000, 20);
    const first = await probe(page, 'main');
    // Well inside one GOP (10 s) and before the camera's next keyframe ((GOP - age) s away).
    expect(first.ttffMs!, first.states.join(' ')).toBeLessThan(2500);
    expect(first.ttffMs!).toBeLessThan(GOP_S * 1000 - ageAtStart - 2000);
    expect(first.videoWidth).toBe(640);

    // The replay of ~2-4 s of cached video (~150-300 KB at 40 Mbps) caught up fast.
    await waitFor(() => vigil.gateway.fanout.lastPrimerStats('cam')?.catchUpMs !== undefined, 5000, 20);
    const primer = vigil.gateway.fanout.lastPrimerStats('cam')!;
    expect(primer.replayedPackets).toBeGreaterThan(50);
    expect(primer.catchUpMs!).toBeLessThan(1000);

    // A second after the first frame the primer still carries the picture (the next keyframe is
    // seconds away): it relays the live stream, so the frame shown is live.
    await page.waitForTimeout(1000);
    expect(await showsPrimer(page)).toBe(true);
    const primed = await latency(page);
    const relayed = vigil.gateway.fanout.lastPrimerStats('cam')!.relayedPackets;

    // At the camera's next keyframe the live consumer takes over, and the primer closes.
    await waitFor(async () => !(await showsPrimer(page)), (GOP_S + 5) * 1000, 100);
    await waitFor(() => consumers.primers().length === 0, 10_000);
    await page.waitForTimeout(1000);
    const live = await latency(page);
    // Glass-to-glass through the primer is no worse than through the live consumer (a few frames of slack
    // for OCR timing and a loaded machine), and both are live (well under a second).
    expect(primed.latencyMs!, `primed ${primed.text} / live ${live.text}`).toBeLessThan(live.latencyMs! + 300);
    expect(live.latencyMs!).toBeLessThan(1500);
    expect(relayed).toBeGreaterThan(0);
    console.log(`instant start: age ${Math.round(ageAtStart)} ms, ttff ${first.ttffMs} ms, catch-up ${primer.catchUpMs} ms, glass-to-glass primed ${primed.latencyMs} ms / live ${live.latencyMs} ms`);
    const after = await probe(page, 'main');
    expect(after.state).toBe('playing');
    expect(after.framesDecoded).toBeGreaterThan(0);
    await page.close();
  }, 60_000);
});

describe('GOP cache bounds', () => {
  it('holds at most maxBytes and maxAgeMs per stream, and nothing for a GOP past either', async () => {
    const pattern = (width: number, height: number, bitrate: number) => ({ kind: 'test-pattern', width, height, fps: 30, gopFrames: 60, bitrate });
    const bounded = await startTestVigil({
      fanout: { instantStart: { maxBytes: 65_536, maxAgeMs: 1000 } },
      cameras: [
        // ~150 KB per 2 s GOP: over the byte bound after ~0.5 s.
        { id: 'big', codec: 'H264', source: pattern(640, 360, 600_000) },
        // ~25 KB per GOP: only the age bound cuts it.
        { id: 'small', codec: 'H264', source: pattern(160, 90, 100_000) },
      ],
    });
    try {
      await waitFor(() => bounded.media.cameras().every((c) => c.state === 'live'), 15_000);
      const seen = { big: { maxBytes: 0, ready: 0, notReady: 0 }, small: { maxAgeMs: 0, maxBytes: 0, ready: 0, notReady: 0 } };
      for (let i = 0; i < 200; i++) {
        const big = bounded.gateway.fanout.cacheStats(bounded.gateway.camera('big')!, 'high');
        const small = bounded.gateway.fanout.cacheStats(bounded.gateway.camera('small')!, 'high');
        if (big) {
          seen.big.maxBytes = Math.max(seen.big.maxBytes, big.bytes);
          seen.big[big.ready ? 'ready' : 'notReady']++;
        }
        if (small) {
          seen.small.maxBytes = Math.max(seen.small.maxBytes, small.bytes);
          seen.small.maxAgeMs = Math.max(seen.small.maxAgeMs, small.ageMs);
          seen.small[small.ready ? 'ready' : 'notReady']++;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      // Bytes: never above the bound; a GOP that outgrows it is dropped until the next keyframe.
      expect(seen.big.maxBytes).toBeLessThanOrEqual(65_536);
      expect(seen.big.ready).toBeGreaterThan(0);
      expect(seen.big.notReady).toBeGreaterThan(0);
      // Age: never above the bound though far under the byte bound.
      expect(seen.small.maxAgeMs).toBeLessThanOrEqual(1000);
      expect(seen.small.maxBytes).toBeLessThan(65_536);
      expect(seen.small.ready).toBeGreaterThan(0);
      expect(seen.small.notReady).toBeGreaterThan(0);
    } finally {
      await bounded.close();
    }
  }, 40_000);
});
