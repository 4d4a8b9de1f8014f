/**
 * Phones: the demo page and the wall in headless Chromium with Playwright's
 * Pixel 7 emulation (412x839 portrait, touch, mobile viewport, DPR 2.625)
 * against a real Vigil.
 * - the demo page plays (`auto` quality, muted `playsinline`) and fits the width;
 * - the wall lays out two columns, a tap maximises a tile with the main stream;
 * - when the browser refuses autoplay, the page says so and a tap starts the video.
 *
 * Autoplay refusal is simulated: Chromium lets muted video-only MediaStreams
 * autoplay under every --autoplay-policy (verified: play() resolves without a
 * gesture even with `user-gesture-required`), so the refusal iOS gives in Low
 * Power Mode is reproduced by an init script: HTMLMediaElement.play() rejects
 * with NotAllowedError and `autoplay` is inert unless the page has a real user
 * gesture (a trusted touchend/click: Playwright's tap is dispatched as real input).
 * Screenshots go to test-results/phone.png and test-results/phone-wall.png.
 */
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devices, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.ts';
import { startTestVigil, waitFor, type TestVigil } from '../helpers/vigil.ts';

let vigil: TestVigil;
let browser: Browser;
const pattern = (width: number, height: number, bitrate: number) => ({ kind: 'test-pattern', width, height, fps: 25, gopFrames: 25, bitrate });

beforeAll(async () => {
  vigil = await startTestVigil({
    cameras: [{ id: 'lobby', codec: 'H264', source: pattern(640, 360, 500_000), subSource: pattern(320, 180, 150_000) }],
  });
  await waitFor(() => vigil.media.cameras().every((c) => c.state === 'live'), 15_000);
  browser = await launchChromium();
  mkdirSync('test-results', { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await vigil?.close();
});

function phone(): Promise<BrowserContext> {
  return browser.newContext({ ...devices['Pixel 7'] });
}

async function demoPage(ctx: BrowserContext): Promise<Page> {
  const page = await ctx.newPage();
  page.on('pageerror', (err) => console.error('page error:', err.message));
  await page.goto(`${vigil.url}/#camera=lobby&token=${vigil.token(['lobby'])}`);
  return page;
}

function demo(page: Page) {
  return page.evaluate(async () => {
    const d = (window as unknown as { vigilDemo: { state: string; feed?: { mode: string; getStats(): Promise<{ framesDecoded: number }> } } }).vigilDemo;
    const v = document.getElementById('video') as HTMLVideoElement;
    const r = v.getBoundingClientRect();
    return {
      state: d.state,
      mode: d.feed?.mode,
      framesDecoded: d.feed ? (await d.feed.getStats()).framesDecoded : 0,
      videoWidth: v.videoWidth,
      shownWidth: r.width,
      innerWidth,
      scrollWidth: document.documentElement.scrollWidth,
      notice: document.getElementById('notice')!.hidden ? '' : document.getElementById('notice')!.textContent!,
    };
  });
}

describe('phone-size viewport (Pixel 7 emulation)', () => {
  it('the demo page plays in portrait, fits the width, with auto quality', async () => {
    const ctx = await phone();
    const page = await demoPage(ctx);
    await waitFor(async () => (await demo(page)).state === 'playing', 20_000);
    const first = await demo(page);
    await waitFor(async () => (await demo(page)).framesDecoded > first.framesDecoded + 15, 10_000);
    const d = await demo(page);
    expect(d.mode).toBe('auto');
    expect(d.videoWidth).toBe(640);
    expect(d.innerWidth).toBe(412);
    expect(d.shownWidth).toBeLessThanOrEqual(412);
    expect(d.scrollWidth).toBeLessThanOrEqual(412);
    expect(d.notice).toBe('');
    expect(await page.evaluate(() => { const v = document.getElementById('video') as HTMLVideoElement; return v.muted && v.playsInline; })).toBe(true);
    await page.screenshot({ path: 'test-results/phone.png' });
    await ctx.close();
  });

  it('the wall shows two columns; a tap maximises a tile with the main stream', async () => {
    const ctx = await phone();
    const page = await ctx.newPage();
    page.on('pageerror', (err) => console.error('page error:', err.message));
    await page.goto(`${vigil.url}/wall.html#cameras=lobby&tiles=4&token=${vigil.token(['lobby'])}`);
    const feeds = () =>
      page.evaluate(() =>
        [...document.querySelectorAll('vigil-feed')].map((el) => {
          const f = el as HTMLElement & { state: string; video: HTMLVideoElement };
          return { state: f.state, width: Math.round(el.getBoundingClientRect().width), videoWidth: f.video.videoWidth };
        }),
      );
    await waitFor(async () => (await feeds()).every((f) => f.state === 'playing' && f.videoWidth === 320), 20_000);
    const grid = await feeds();
    expect(grid.every((f) => f.width < 412 / 2)).toBe(true);
    await page.screenshot({ path: 'test-results/phone-wall.png' });

    await page.locator('.tile').first().tap();
    await waitFor(async () => {
      const [f] = await feeds();
      return f!.videoWidth === 640 && f!.width === 412 && f!.state === 'playing';
    }, 20_000);
    await page.screenshot({ path: 'test-results/phone-wall-max.png' });
    await ctx.close();
  });

  it('says so when autoplay is refused, and a tap starts the video', async () => {
    const ctx = await phone();
    // A string, not a function: the test transform would wrap named functions in helpers the page lacks.
    await ctx.addInitScript(`{
      const proto = HTMLMediaElement.prototype;
      const realPlay = proto.play;
      Object.defineProperty(proto, 'autoplay', { configurable: true, get: () => false, set: () => {} });
      let gesture = false;
      for (const type of ['touchend', 'click']) addEventListener(type, (e) => { if (e.isTrusted) gesture = true; }, true);
      proto.play = function () {
        if (gesture) return realPlay.call(this);
        return Promise.reject(new DOMException('play() needs a user gesture', 'NotAllowedError'));
      };
    }`);
    const page = await demoPage(ctx);
    await waitFor(async () => (await demo(page)).notice !== '', 20_000).catch(async (err) => {
      throw new Error(`${err.message}: ${JSON.stringify(await demo(page))}`);
    });
    expect((await demo(page)).notice).toMatch(/blocked autoplay.*tap/i);
    await page.screenshot({ path: 'test-results/phone-autoplay-blocked.png' });
    await page.locator('#notice').tap();
    await waitFor(async () => {
      const d = await demo(page);
      return d.notice === '' && d.state === 'playing';
    }, 20_000).catch(async (err) => {
      throw new Error(`${err.message} after the tap: ${JSON.stringify(await demo(page))}`);
    });
    expect(await page.evaluate(() => (document.getElementById('video') as HTMLVideoElement).paused)).toBe(false);
    await ctx.close();
  });
});
