/**
 * A frame clock in a page played with sdk-page.ts: the wall-clock time
 * (Date.now(), the same clock as the test's on this machine) of every frame
 * the feed's <video> presents (requestVideoFrameCallback), to measure how
 * long video stopped, e.g. from a kill to frames again.
 */
import type { Page } from 'playwright-core';

/** Starts recording presented frames of feed `key` (window.frameTimes[key]). */
export async function recordFrames(page: Page, key: string): Promise<void> {
  await page.evaluate((key) => {
    const w = window as unknown as Record<string, any>;
    const video = w.feeds[key].video as HTMLVideoElement;
    const times: number[] = [];
    w.frameTimes ??= {};
    w.frameTimes[key] = times;
    const tick = (): void => {
      times.push(Date.now());
      video.requestVideoFrameCallback(tick);
    };
    video.requestVideoFrameCallback(tick);
  }, key);
}

/**
 * The wall-clock ms of the first frame presented after `afterMs` that ends a
 * gap of at least `gapMs` (video stopped, then came back), or undefined.
 */
export async function firstFrameAfterGap(page: Page, afterMs: number, gapMs: number, key = 'gate'): Promise<number | undefined> {
  return page.evaluate(
    ({ afterMs, gapMs, key }) => {
      const times = (window as unknown as Record<string, any>).frameTimes[key] as number[];
      for (let i = 1; i < times.length; i++) {
        if (times[i]! > afterMs && times[i]! - times[i - 1]! >= gapMs) return times[i];
      }
      return undefined;
    },
    { afterMs, gapMs, key },
  );
}
