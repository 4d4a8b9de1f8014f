/**
 * The real SDK in headless Debian Chromium reports its time to first frame
 * (reportTtff) into the server's histogram, and its viewing lands in the
 * audit trail with the browser's user agent; closing the page ends it as `left`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.ts';
import { startTestVigil, testCamera, waitFor, type TestVigil } from '../helpers/vigil.ts';
import { sample } from '../helpers/prometheus.ts';

let vigil: TestVigil;
let browser: Browser;

beforeAll(async () => {
  vigil = await startTestVigil({ cameras: [testCamera('lobby/1', 'H264')] });
  await waitFor(() => vigil.media.cameras().every((c) => c.state === 'live'), 15_000);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await vigil?.close();
});

async function metrics(): Promise<string> {
  return (await fetch(`${vigil.url}/metrics`)).text();
}

describe('SDK observability', () => {
  it('reports TTFF once at the first decoded frame; the viewing is audited with the browser user agent', async () => {
    expect(sample(await metrics(), 'vigil_viewer_ttff_seconds_count')).toBe(0);
    const page = await browser.newPage();
    await page.goto(`${vigil.url}/#camera=lobby%2F1&token=${vigil.token(['lobby/*'], { subject: 'guard-7' })}`);
    let ttffMs: number | undefined;
    await waitFor(async () => {
      const s = await page.evaluate(() => {
        const d = (window as unknown as { vigilDemo: { state: string; feed?: { ttffMs?: number } } }).vigilDemo;
        return { state: d.state, ttffMs: d.feed?.ttffMs };
      });
      ttffMs = s.ttffMs;
      return s.state === 'playing';
    }, 20_000, 100);
    expect(ttffMs).toBeGreaterThan(0);
    let text = '';
    await waitFor(async () => sample((text = await metrics()), 'vigil_viewer_ttff_seconds_count') === 1, 5000, 100);
    expect(sample(text, 'vigil_viewer_ttff_seconds_sum')).toBeCloseTo(ttffMs! / 1000, 6);
    console.log(`[ttff] SDK-reported play() -> first frame: ${ttffMs} ms`);

    const open = await vigil.admin('GET', '/audit/viewings?subject=guard-7');
    expect(open.body.viewings).toHaveLength(1);
    expect(open.body.viewings[0]).toMatchObject({ camera: 'lobby/1', end: null, endReason: null });
    expect(open.body.viewings[0].userAgent).toMatch(/Chrome\//);

    await page.close();
    await waitFor(async () => (await vigil.admin('GET', '/audit/viewings?subject=guard-7')).body.viewings[0].endReason !== null, 10_000, 100);
    const closed = await vigil.admin('GET', '/audit/viewings?subject=guard-7');
    expect(closed.body.viewings[0]).toMatchObject({ endReason: 'left' });
    expect(closed.body.viewings[0].durationSec).toBeGreaterThan(0);
    // Still exactly one TTFF sample: one report per consumer.
    expect(sample(await metrics(), 'vigil_viewer_ttff_seconds_count')).toBe(1);
  });
});
