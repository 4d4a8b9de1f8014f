/**
 * A WHEP player nobody here wrote, in both browser engines: Eyevinn's
 * `@eyevinn/webrtc-player` (npm, MIT; its WHEP adapter makes a recvonly
 * offer, waits for ICE gathering, POSTs it with our `Authorization` value,
 * applies the answer and DELETEs the resource on `unload()`), bundled as it
 * is by esbuild into a page of ANOTHER origin (a small HTTP server of the
 * test on another port of 127.0.0.1), so the CORS path is the real one.
 *
 * Chromium plays the H.264 camera; Firefox the VP8 one (offline Firefox has
 * no H.264: OpenH264 is downloaded at first use). Frames are asserted from
 * the player's own `stats:inbound-rtp` events (framesDecoded growth) and
 * the video element (frame size).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, useEngine, type EnginePage } from '../helpers/engines.ts';
import { startTestVigil, testCamera, waitFor, type TestVigil } from '../helpers/vigil.ts';

let vigil: TestVigil;
const app = { origin: '', server: undefined as Server | undefined };

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>whep player</title></head><body>
<video id="v" muted autoplay playsinline width="640" height="360"></video>
<script src="/player.js"></script>
<script>
  window.probe = { framesDecoded: 0, frameWidth: 0, samples: 0, errors: [] };
  window.start = async (url, authorization) => {
    const video = document.getElementById('v');
    const player = new WebRTCPlayerLib.WebRTCPlayer({ video, type: 'whep', statsTypeFilter: '^inbound-rtp$', timeoutThreshold: 60000 });
    player.on('stats:inbound-rtp', (r) => {
      if (r.kind !== 'video') return;
      window.probe.framesDecoded = r.framesDecoded ?? 0;
      window.probe.frameWidth = r.frameWidth ?? 0;
      window.probe.samples++;
    });
    for (const e of ['initial-connection-failed', 'connect-error', 'peer-connection-failed']) player.on(e, () => window.probe.errors.push(e));
    window.player = player;
    await player.load(new URL(url), authorization);
  };
</script>
</body></html>`;

beforeAll(async () => {
  // The player as published on npm, bundled for the page (its `events` dependency included).
  const entry = createRequire(import.meta.url).resolve('@eyevinn/webrtc-player');
  const bundle = await build({ entryPoints: [entry], bundle: true, format: 'iife', globalName: 'WebRTCPlayerLib', platform: 'browser', write: false, logLevel: 'silent' });
  const playerJs = bundle.outputFiles[0]!.text;
  app.server = createServer((req, res) => {
    if (req.url === '/player.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(playerJs);
    else res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
  });
  await new Promise<void>((r) => app.server!.listen(0, '127.0.0.1', r));
  app.origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  vigil = await startTestVigil({
    http: { host: '127.0.0.1', port: 0, allowedOrigins: [app.origin] },
    cameras: [testCamera('gate-h264', 'H264'), testCamera('gate-vp8', 'VP8')],
  });
  await waitFor(() => vigil.media.cameras().every((c) => c.state === 'live'), 15_000);
});

afterAll(async () => {
  await vigil?.close();
  app.server?.close();
});

async function probe(page: EnginePage) {
  return page.evaluate(() => {
    const w = window as unknown as { probe: { framesDecoded: number; frameWidth: number; samples: number; errors: string[] } };
    const v = document.getElementById('v') as HTMLVideoElement;
    return { ...w.probe, videoWidth: v.videoWidth, videoHeight: v.videoHeight };
  });
}

describe.each(ENGINES)('@eyevinn/webrtc-player over WHEP in %s', (engine) => {
  const browser = useEngine(engine, async () => vigil.whep.size === 0);
  const camera = engine === 'firefox' ? 'gate-vp8' : 'gate-h264';

  it(`plays ${camera}: decoded frames grow at the camera's size; unload() DELETEs the session`, async () => {
    const page = await browser().newPage({ width: 800, height: 500 });
    try {
      await page.goto(app.origin + '/');
      const token = vigil.token([camera], { subject: `player-${engine}` });
      await page.evaluate(([url, auth]) => (window as unknown as { start: (u: string, a: string) => Promise<void> }).start(url, auth), [
        `${vigil.url}/whep/${camera}`,
        `Bearer ${token}`,
      ] as [string, string]);
      await waitFor(async () => (await probe(page)).framesDecoded > 0, 40_000, 250);
      const first = await probe(page);
      await waitFor(async () => (await probe(page)).framesDecoded > first.framesDecoded + 10, 20_000, 250);
      const later = await probe(page);
      console.log(`${engine}: ${later.framesDecoded} frames decoded, ${later.videoWidth}x${later.videoHeight}`);
      expect(later.errors).toEqual([]);
      expect({ width: later.videoWidth, height: later.videoHeight }).toEqual({ width: 640, height: 360 });
      expect(vigil.whep.size).toBe(1);
      const row = (await vigil.audit!.query({ subject: `player-${engine}`, limit: 5 })).at(-1);
      expect(row).toMatchObject({ camera, endedAt: null });
      expect(row?.userAgent).toMatch(engine === 'firefox' ? /Firefox/ : /Chrome/);
      await page.evaluate(() => (window as unknown as { player: { unload(): Promise<void> } }).player.unload());
      await waitFor(() => vigil.whep.size === 0, 5_000);
      expect((await vigil.audit!.query({ subject: `player-${engine}`, limit: 5 })).at(-1)).toMatchObject({ camera, endReason: 'left' });
    } finally {
      await page.close();
    }
  });
});
