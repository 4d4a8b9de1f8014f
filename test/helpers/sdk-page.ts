/**
 * Drives the client SDK in a real Chromium page served by Vigil (the demo
 * page without a camera in its URL is a blank page with the SDK loaded).
 */
import type { Browser, Page } from 'playwright-core';
import { playwrightPage, type EngineBrowser, type EnginePage } from './engines.ts';

/** A Playwright page (Chromium-only tests) or a page of either engine. */
export type AnyPage = Page | EnginePage;

const asEngine = (page: AnyPage): EnginePage => ('engine' in page ? page : playwrightPage(page));

export interface FeedProbe {
  state: string;
  quality: string;
  videoWidth: number;
  videoHeight: number;
  framesDecoded: number;
  ttffMs: number | undefined;
  /** Longest gap between presented frames since the page started watching, ms. */
  maxFrameGapMs: number;
  error: string | undefined;
  /** Every state the feed went through, with ms since play(), e.g. `playing@950` (for failure messages). */
  states: string[];
}

/** Opens a page on Vigil's origin with `window.Vigil` loaded. */
export async function sdkPage(browser: Browser, baseUrl: string): Promise<Page>;
export async function sdkPage(browser: EngineBrowser, baseUrl: string): Promise<EnginePage>;
export async function sdkPage(browser: Browser | EngineBrowser, baseUrl: string): Promise<Page | EnginePage> {
  if ('engine' in browser) {
    const page = await browser.newPage();
    await page.goto(`${baseUrl}/`);
    // The demo page without a camera loads the SDK from a <script> before `load`.
    if (!(await page.evaluate(() => 'Vigil' in window))) throw new Error('the SDK did not load');
    return page;
  }
  const page = await browser.newPage();
  page.on('pageerror', (err) => console.error('page error:', err.message));
  await page.goto(`${baseUrl}/`);
  await page.waitForFunction(() => 'Vigil' in window);
  return page;
}

/**
 * Connects and plays `cameraId` into a new <video> in the page; the feed is
 * kept as `window.feeds[key]`, and a requestVideoFrameCallback loop records
 * the longest gap between frames.
 */
export async function play(page: AnyPage, key: string, cameraId: string, token: string, quality: 'high' | 'low' | 'auto' = 'high'): Promise<void> {
  await asEngine(page).evaluate(
    async ({ key, cameraId, token, quality }) => {
      const w = window as unknown as Record<string, any>;
      w.feeds ??= {};
      w.client ??= await w.Vigil.connect({ url: location.origin, token });
      const video = document.createElement('video');
      video.id = `v-${key}`;
      video.width = 320;
      document.body.append(video);
      const rec = { maxGap: 0, last: 0, error: undefined as string | undefined, states: [] as string[] };
      const t0 = performance.now();
      w.feeds[key] = { rec, video };
      const tick = (now: number) => {
        if (rec.last) rec.maxGap = Math.max(rec.maxGap, now - rec.last);
        rec.last = now;
        video.requestVideoFrameCallback(tick);
      };
      video.requestVideoFrameCallback(tick);
      try {
        const feed = await w.client.play(cameraId, video, { quality });
        w.feeds[key].feed = feed;
        rec.states.push(`${feed.state}@${Math.round(performance.now() - t0)}`);
        feed.on('state', (s: string) => rec.states.push(`${s}@${Math.round(performance.now() - t0)}`));
      } catch (err) {
        rec.error = (err as { code?: string }).code ?? String(err);
      }
    },
    { key, cameraId, token, quality },
  );
}

/** Current state of a feed played with {@link play}. */
export function probe(page: AnyPage, key: string): Promise<FeedProbe> {
  return asEngine(page).evaluate(async (key) => {
    const f = (window as unknown as Record<string, any>).feeds[key];
    const stats = f.feed ? await f.feed.getStats() : { framesDecoded: 0 };
    return {
      state: f.feed?.state ?? 'none',
      quality: f.feed?.quality ?? 'none',
      videoWidth: f.video.videoWidth,
      videoHeight: f.video.videoHeight,
      framesDecoded: stats.framesDecoded,
      ttffMs: f.feed?.ttffMs,
      maxFrameGapMs: Math.round(f.rec.maxGap),
      error: f.rec.error,
      states: f.rec.states,
    };
  }, key);
}

/** Resets the frame-gap record of a feed (start measuring now). */
export function resetGap(page: AnyPage, key: string): Promise<void> {
  return asEngine(page).evaluate((key) => {
    const rec = (window as unknown as Record<string, any>).feeds[key].rec;
    rec.maxGap = 0;
    rec.last = 0;
  }, key);
}
