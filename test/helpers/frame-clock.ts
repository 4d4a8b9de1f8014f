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
    const states: [number, string, string | undefined][] = [];
    w.feedStates ??= {};
    w.feedStates[key] = states;
    const feed = w.feeds[key].feed;
    feed.on('state', (s: string) => states.push([Date.now(), s, feed.consumer?.id]));
    const tick = (): void => {
      times.push(Date.now());
      video.requestVideoFrameCallback(tick);
    };
    video.requestVideoFrameCallback(tick);
  }, key);
}

/** The id of the consumer feed `key` plays now (mark it before breaking something). */
export function consumerOf(page: Page, key = 'gate'): Promise<string | undefined> {
  return page.evaluate((key) => (window as unknown as Record<string, any>).feeds[key].feed.consumer?.id as string | undefined, key);
}

/**
 * When video came back on a new consumer after an outage that began at
 * `afterMs`: the feed returned to `playing` on a consumer other than
 * `oldConsumerId` (re-subscribed, or reconnected), and this is the
 * wall-clock ms of the first frame presented from then on; undefined while
 * that has not happened. (A stall of buffered frames under load, or frames
 * still arriving on the old consumer, does not count.)
 */
export async function framesBackAt(page: Page, afterMs: number, oldConsumerId: string | undefined, key = 'gate'): Promise<number | undefined> {
  return page.evaluate(
    ({ afterMs, oldConsumerId, key }) => {
      const w = window as unknown as Record<string, any>;
      const states = w.feedStates[key] as [number, string, string | undefined][];
      const times = w.frameTimes[key] as number[];
      const back = states.find(([t, s, c]) => t >= afterMs && s === 'playing' && c !== undefined && c !== oldConsumerId);
      if (!back) return undefined;
      return times.find((t) => t >= back[0]) ?? undefined;
    },
    { afterMs, oldConsumerId, key },
  );
}
