/**
 * Time-to-first-frame benchmark against the GOP length.
 *
 * Three H.264 640x360 30 fps test-pattern cameras with keyframe intervals of
 * 1 s, 2 s and 4 s; for each, `--runs` fresh headless Chromium pages play it
 * through the SDK and report `feed.ttffMs` (play() to the first decoded frame,
 * requestVideoFrameCallback). On resume the server asks the source for a
 * keyframe (PLI/FIR, RFC 4585 / RFC 5104); an ffmpeg source ignores it, so a
 * new viewer waits for the next natural keyframe: expect TTFF up to one GOP.
 *
 * Usage: npm run bench:ttff [-- --runs 8]   (bounded: at most 50 runs per GOP)
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { parseConfig, signViewerToken, startVigil } from '@vigil/server';
import { launchChromium } from '../../test/helpers/browser.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '8' } } });
const runs = Math.min(50, Math.max(1, Number(values.runs)));
const secret = 'bench-secret-0123456789-abcdefghijklmnopq';
const gops = [1, 2, 4];

const config = parseConfig({
  http: { port: 0 },
  webrtc: { port: 0 },
  auth: { secret },
  demo: { enabled: false },
  log: { level: 'warn' },
  cameras: gops.map((g) => ({
    id: `gop-${g}s`,
    codec: 'H264',
    source: { kind: 'test-pattern', width: 640, height: 360, fps: 30, gopFrames: 30 * g, bitrate: 600_000 },
  })),
});
const vigil = await startVigil(config, pino({ level: 'warn' }));
for (let i = 0; i < 150 && vigil.media.cameras().some((c) => c.state !== 'live'); i++) await new Promise((r) => setTimeout(r, 100));
const token = signViewerToken(secret, { subject: 'bench', cameras: ['**'], ttlSec: 600 }, { issuer: 'vigil', audience: 'vigil-viewer' });
const browser = await launchChromium();

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
console.log(`TTFF benchmark: H.264 640x360 30 fps, ${runs} runs per GOP, headless Chromium, loopback`);
for (const g of gops) {
  const samples: number[] = [];
  for (let r = 0; r < runs; r++) {
    const page = await browser.newPage();
    await page.goto(`${vigil.url}/`);
    await page.waitForFunction(() => 'Vigil' in window);
    // Stagger starts so they land at different points of the GOP.
    await page.waitForTimeout(137 * r);
    const ttff = await page.evaluate(
      async ({ cameraId, token }) => {
        const w = window as unknown as Record<string, any>;
        const client = await w.Vigil.connect({ url: location.origin, token });
        const video = document.createElement('video');
        document.body.append(video);
        const feed = await client.play(cameraId, video);
        const deadline = Date.now() + 15_000;
        while (feed.ttffMs === undefined && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
        client.close();
        return feed.ttffMs as number | undefined;
      },
      { cameraId: `gop-${g}s`, token },
    );
    await page.close();
    if (ttff !== undefined) samples.push(ttff);
  }
  samples.sort((a, b) => a - b);
  console.log(
    `GOP ${g} s: n=${samples.length} min ${samples[0]} ms | median ${pct(samples, 50)} ms | p90 ${pct(samples, 90)} ms | max ${samples[samples.length - 1]} ms`,
  );
}
await browser.close();
await vigil.close();
process.exit(0);
