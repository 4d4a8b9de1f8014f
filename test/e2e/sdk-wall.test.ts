/**
 * The operator wall (client-sdk/demo/wall.html) in headless Chromium and
 * Firefox ESR (test/helpers/engines.ts) against a real Vigil: 16 `<vigil-feed>` tiles of a camera with main and sub
 * streams, over one connection.
 * - tiles use the sub stream; every tile plays;
 * - tiles outside the viewport are paused ON THE SERVER (mediasoup
 *   consumer.paused) and resume when scrolled back into view;
 * - a hidden tab pauses every tile and resumes the visible ones on return;
 * - a maximised tile switches to the main stream while the others pause.
 *
 * Hidden tab: headless Chromium 156 never reports a hidden page (tried: CDP
 * Browser.setWindowBounds minimized, Target.activateTarget / bringToFront of
 * another tab, with and without Playwright's --disable-backgrounding flags),
 * so the test overrides document.visibilityState and dispatches the
 * `visibilitychange` event the browser would fire; everything after it is real.
 */
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, useEngine, type EnginePage } from '../helpers/engines.ts';
import { startTestVigil, waitFor, type TestVigil } from '../helpers/vigil.ts';
import { trackConsumers, type ConsumerTracker } from '../helpers/consumers.ts';

let vigil: TestVigil;
let consumers: ConsumerTracker;
const pattern = (width: number, height: number, fps: number, bitrate: number) => ({ kind: 'test-pattern', width, height, fps, gopFrames: fps, bitrate });

beforeAll(async () => {
  vigil = await startTestVigil({
    cameras: [{ id: 'yard', codec: 'VP8', source: pattern(640, 360, 25, 500_000), subSource: pattern(160, 90, 15, 100_000) }],
  });
  consumers = trackConsumers(vigil.gateway);
  await waitFor(() => vigil.media.cameras().every((c) => c.state === 'live'), 15_000);
  mkdirSync('test-results', { recursive: true });
});

afterAll(async () => {
  await vigil?.close();
});

interface Tile {
  state: string;
  quality: string;
  inView: boolean;
  videoWidth: number;
}

/** Every tile's element state, stream and whether it intersects the viewport. */
function tiles(page: EnginePage): Promise<Tile[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('vigil-feed')].map((el) => {
      const r = el.getBoundingClientRect();
      const f = el as HTMLElement & { state: string; feed?: { quality: string }; video: HTMLVideoElement };
      return { state: f.state, quality: f.feed?.quality ?? 'none', inView: r.bottom > 0 && r.top < innerHeight, videoWidth: f.video.videoWidth };
    }),
  );
}

/** Server-side consumers: [paused, flowing]. */
function serverSide(): [number, number] {
  const all = consumers.live();
  const paused = all.filter((c) => c.paused).length;
  return [paused, all.length - paused];
}

/** Waits until tiles in view play and tiles out of view are paused, and the server agrees. */
async function settled(page: EnginePage, timeoutMs = 20_000): Promise<Tile[]> {
  let t: Tile[] = [];
  try {
    await waitFor(async () => {
      t = await tiles(page);
      const inView = t.filter((x) => x.inView).length;
      const [paused, flowing] = serverSide();
      return t.every((x) => x.state === (x.inView ? 'playing' : 'paused')) && flowing === inView && paused === t.length - inView;
    }, timeoutMs, 200);
  } catch (err) {
    throw new Error(`wall did not settle: ${JSON.stringify(t.map((x) => `${x.state}/${x.inView ? 'in' : 'out'}`))}, server [paused, flowing] ${serverSide()}`);
  }
  return t;
}

describe.each(ENGINES)('operator wall (%s)', (engine) => {
  // The previous engine's pages are gone from the server before this one starts.
  const browser = useEngine(engine, async () => consumers.live().length === 0 && (await vigil.admin('GET', '/sessions')).body.sessions.length === 0);

  it('plays 16 low tiles over one connection; tiles out of view and in a hidden tab pause on the server and resume', async () => {
    const page = await browser().newPage({ width: 1280, height: 820 });
    const token = vigil.token(['yard']);
    await page.goto(`${vigil.url}/wall.html#cameras=yard&tiles=16&token=${token}`);

    // All 16 in view: all play the sub stream.
    let t = await settled(page, 30_000);
    expect(t).toHaveLength(16);
    expect(t.every((x) => x.inView && x.quality === 'low')).toBe(true);
    await waitFor(async () => (await tiles(page)).every((x) => x.videoWidth === 160), 10_000);
    await page.screenshot(`test-results/wall-16-${engine}.png`);
    const sessions = (await vigil.admin('GET', '/sessions')).body.sessions;
    expect(sessions).toEqual([expect.objectContaining({ consumers: 16 })]);
    expect(consumers.transports()).toHaveLength(1);

    // A shorter window: the lower rows leave the viewport and pause server-side.
    await page.setViewport(1280, 400);
    t = await settled(page);
    const outAtTop = t.filter((x) => !x.inView).length;
    expect(outAtTop).toBeGreaterThanOrEqual(4);
    console.log(`[wall] ${engine} 1280x400 at the top: ${16 - outAtTop} tiles in view play, ${outAtTop} paused on the server`);

    // Scroll down: the bottom rows resume (new frames), the top rows pause.
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    t = await settled(page);
    expect(t[0]!.inView).toBe(false);
    expect(t[15]!.inView).toBe(true);

    // Hidden tab: everything pauses; back: the tiles in view play again.
    await page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await waitFor(() => serverSide()[1] === 0 && serverSide()[0] === 16, 10_000);
    expect((await tiles(page)).every((x) => x.state === 'paused')).toBe(true);
    await page.evaluate(() => {
      delete (document as unknown as Record<string, unknown>)['visibilityState'];
      delete (document as unknown as Record<string, unknown>)['hidden'];
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await settled(page);
    await page.close();
  });

  it('maximises a tile with the main stream while the others pause; back to the grid', async () => {
    const page = await browser().newPage({ width: 1280, height: 820 });
    await page.goto(`${vigil.url}/wall.html#cameras=yard&tiles=4&token=${vigil.token(['yard'])}`);
    await settled(page, 30_000);
    const before = consumers.live().length;
    expect(before).toBe(4);

    await page.click('.tile:nth-child(2)');
    await waitFor(async () => {
      const t = await tiles(page);
      return t[1]!.quality === 'high' && t[1]!.videoWidth === 640 && t[1]!.state === 'playing';
    }, 20_000);
    await waitFor(() => serverSide()[0] === 3 && serverSide()[1] === 1, 10_000);

    await page.press('Escape');
    await waitFor(async () => (await tiles(page)).every((x) => x.state === 'playing' && x.quality === 'low'), 20_000);
    await settled(page);
    await page.close();
  });
});
