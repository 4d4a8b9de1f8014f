/**
 * A frame clock in a page played with sdk-page.ts: the wall-clock time
 * (Date.now(), the same clock as the test's on this machine) of every frame
 * the feed's <video> presents (requestVideoFrameCallback), to measure how
 * long video stopped, e.g. from a kill to frames again.
 */
import type { Page } from 'playwright-core';

/** Starts recording presented frames (window.frameTimes[key]) and state changes (window.feedStates[key]) of feed `key`. */
export async function recordFrames(page: Page, key: string): Promise<void> {
  await page.evaluate((key) => {
    const w = window as unknown as Record<string, any>;
    const video = w.feeds[key].video as HTMLVideoElement;
    const times: number[] = [];
    w.frameTimes ??= {};
    w.frameTimes[key] = times;
    const states: [number, string][] = [];
    w.feedStates ??= {};
    w.feedStates[key] = states;
    w.feeds[key].feed.on('state', (s: string) => states.push([Date.now(), s]));
    const tick = (): void => {
      times.push(Date.now());
      video.requestVideoFrameCallback(tick);
    };
    video.requestVideoFrameCallback(tick);
  }, key);
}

/**
 * When video came back after an outage that began after `afterMs`: the feed
 * left `playing` (its consumer was closed, or it stalled), came back to
 * `playing`, and this is the wall-clock ms of the first frame presented from
 * then on; undefined while that has not happened.
 */
export async function framesBackAt(page: Page, afterMs: number, key = 'gate'): Promise<number | undefined> {
  return page.evaluate(
    ({ afterMs, key }) => {
      const w = window as unknown as Record<string, any>;
      const states = w.feedStates[key] as [number, string][];
      const times = w.frameTimes[key] as number[];
      const left = states.find(([t, s]) => t >= afterMs && s !== 'playing');
      if (!left) return undefined;
      const back = states.find(([t, s]) => t >= left[0] && s === 'playing');
      if (!back) return undefined;
      return times.find((t) => t >= back[0]) ?? undefined;
    },
    { afterMs, key },
  );
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
