/**
 * End to end with real parts: mediasoup worker, ffmpeg RTP test patterns,
 * fastify + ws signaling, and the demo page (which uses the SDK's one-file
 * <script> build) in headless Debian Chromium and, for playback, Firefox ESR
 * (test/helpers/engines.ts). Offline Firefox has no H.264 (it comes from the
 * OpenH264 plugin Firefox downloads at first use), so Firefox plays the VP8
 * camera and is told, in words, that it cannot receive the H.264 one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import jwt from 'jsonwebtoken';
import { ENGINES, launchEngine, type Engine, type EngineBrowser, type EnginePage } from '../helpers/engines.ts';
import { startTestVigil, testCamera, waitFor, type TestVigil } from '../helpers/vigil.ts';

let vigil: TestVigil;
const browsers = new Map<Engine, EngineBrowser>();

beforeAll(async () => {
  vigil = await startTestVigil({
    cameras: [testCamera('lobby/h264', 'H264'), testCamera('lobby/vp8', 'VP8'), testCamera('vault/secret', 'H264')],
  });
  await waitFor(() => vigil.media.cameras().every((c) => c.state === 'live'), 15_000);
  for (const engine of ENGINES) browsers.set(engine, await launchEngine(engine));
});

afterAll(async () => {
  for (const b of browsers.values()) await b.close();
  await vigil?.close();
});

interface DemoState {
  state: string;
  error?: string;
  ttffMs?: number;
  videoWidth: number;
  videoHeight: number;
  framesDecoded: number;
}

async function openDemo(cameraId: string, token: string, engine: Engine = 'chromium'): Promise<EnginePage> {
  const page = await browsers.get(engine)!.newPage();
  await page.goto(`${vigil.url}/#camera=${encodeURIComponent(cameraId)}&token=${token}`);
  return page;
}

function demoState(page: EnginePage): Promise<DemoState> {
  return page.evaluate(async () => {
    const d = (window as unknown as { vigilDemo: { state: string; error?: string; feed?: { ttffMs?: number; getStats(): Promise<{ framesDecoded: number }> } } }).vigilDemo;
    const v = document.getElementById('video') as HTMLVideoElement;
    const stats = d.feed ? await d.feed.getStats() : { framesDecoded: 0 };
    return { state: d.state, error: d.error, ttffMs: d.feed?.ttffMs, videoWidth: v.videoWidth, videoHeight: v.videoHeight, framesDecoded: stats.framesDecoded };
  });
}

async function settled(page: EnginePage): Promise<DemoState> {
  let s!: DemoState;
  await waitFor(async () => {
    s = await demoState(page);
    return s.state === 'playing' || s.state === 'error';
  }, 20_000, 100);
  return s;
}

/** The cameras each engine can decode here: offline Firefox has no H.264. */
const PLAYABLE: Record<Engine, string[]> = { chromium: ['lobby/h264', 'lobby/vp8'], firefox: ['lobby/vp8'] };

describe.each(ENGINES)('a camera reaches an authorized browser (%s)', (engine) => {
  for (const cameraId of PLAYABLE[engine]) {
    it(`decodes ${cameraId} at the camera's frame size, frames keep coming`, async () => {
      const page = await openDemo(cameraId, vigil.token(['lobby/*']), engine);
      const first = await settled(page);
      expect(first.error).toBeUndefined();
      expect(first.state).toBe('playing');
      expect(first.ttffMs).toBeGreaterThan(0);
      await waitFor(async () => (await demoState(page)).videoWidth > 0, 5000);
      const a = await demoState(page);
      await new Promise((r) => setTimeout(r, 1500));
      const b = await demoState(page);
      expect([b.videoWidth, b.videoHeight]).toEqual([640, 360]);
      // ~30 fps for 1.5 s: demand at least a third of that to tolerate a busy 2-core box.
      expect(b.framesDecoded - a.framesDecoded).toBeGreaterThan(15);
      console.log(`[ttff] ${engine} ${cameraId}: play() -> first decoded frame ${first.ttffMs} ms (GOP 1 s)`);
      await page.close();
    });
  }
});

describe('a browser without the camera\'s codec', () => {
  it('Firefox without OpenH264 is told it cannot receive H.264, in words, and nothing is consumed', async () => {
    const page = await openDemo('lobby/h264', vigil.token(['lobby/*']), 'firefox');
    const s = await settled(page);
    expect(s.state).toBe('error');
    expect(s.error).toBe('unsupported_codec');
    const text = await page.evaluate(() => document.getElementById('status')!.textContent);
    expect(text).toMatch(/cannot receive H264/);
    expect(s.framesDecoded).toBe(0);
    await page.close();
  });
});

describe('refusals', () => {

  it('refuses an out-of-scope camera and an unknown camera with the same error', async () => {
    const token = vigil.token(['lobby/*']);
    const outOfScope = await settled(await openDemo('vault/secret', token));
    const unknown = await settled(await openDemo('lobby/ghost', token));
    expect(outOfScope.state).toBe('error');
    expect(outOfScope.error).toBe('forbidden');
    expect(unknown.error).toBe('forbidden');
    expect(outOfScope.framesDecoded).toBe(0);
  });

  it('refuses an expired token', async () => {
    const expired = jwt.sign({ cameras: ['lobby/*'], sub: 'tester', exp: Math.floor(Date.now() / 1000) - 60 }, 'test-secret-0123456789-abcdefghijklmnop', {
      issuer: vigil.config.auth.issuer,
      audience: vigil.config.auth.audience,
    });
    const s = await settled(await openDemo('lobby/h264', expired));
    expect(s.state).toBe('error');
    expect(s.error).toBe('token_expired');
  });

  it('refuses a tampered token (scope widened, signature kept)', async () => {
    const [h, p, sig] = vigil.token(['lobby/h264']).split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    claims.cameras = ['**'];
    const tampered = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}`;
    const s = await settled(await openDemo('vault/secret', tampered));
    expect(s.state).toBe('error');
    expect(s.error).toBe('unauthorized');
  });
});
