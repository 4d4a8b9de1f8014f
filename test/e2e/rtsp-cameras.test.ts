/**
 * RTSP cameras end to end with real parts: GStreamer's RTSP server (Digest
 * auth), ffprobe + ffmpeg relays, a mediasoup worker, and headless Chromium:
 * right and wrong passwords, an H.265 camera refused or transcoded as
 * configured, and a camera that dies and comes back while a viewer watches.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.ts';
import { startRtspServer, type TestRtspServer } from '../helpers/rtsp-server.ts';
import { play, probe, sdkPage } from '../helpers/sdk-page.ts';
import { startTestVigil, waitFor, type TestVigil } from '../helpers/vigil.ts';
import { WsClient } from '../helpers/ws-client.ts';
import { PROTOCOL_VERSION } from '@vigil/protocol';

const USER = 'operator';
const PASSWORD = 'S3cret-pass!word';
let server: TestRtspServer;
let vigil: TestVigil;
let browser: Browser;

beforeAll(async () => {
  server = await startRtspServer({
    auth: 'digest',
    user: USER,
    password: PASSWORD,
    mounts: { '/main': { video: 'h264' }, '/hevc': { video: 'h265' }, '/av': { video: 'h264', audio: 'aac' }, '/g711': { video: 'h264', audio: 'pcmu' } },
  });
  const rtsp = (mount: string, extra: Record<string, unknown> = {}) => ({
    kind: 'rtsp',
    url: server.url(mount),
    username: USER,
    password: PASSWORD,
    ...extra,
  });
  vigil = await startTestVigil({
    ingest: { stallTimeoutMs: 1000, offlineTimeoutMs: 1500, retryMinMs: 200, retryMaxMs: 1000 },
    cameras: [
      { id: 'gate', codec: 'H264', source: rtsp('/main') },
      { id: 'wrong-password', codec: 'H264', source: rtsp('/main', { password: 'not-it' }) },
      { id: 'hevc-refused', codec: 'H264', source: rtsp('/hevc') },
      { id: 'hevc-transcoded', codec: 'H264', source: rtsp('/hevc', { transcode: 'h264' }) },
      { id: 'with-aac', codec: 'H264', source: rtsp('/av', { audio: 'opus' }) },
      { id: 'with-pcmu', codec: 'H264', source: rtsp('/g711', { audio: 'passthrough' }) },
    ],
  });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await vigil?.close();
  await server?.stop();
});

describe('RTSP cameras', () => {
  it('right credentials: live; wrong password: offline with a clear reason that holds no secret', async () => {
    await waitFor(() => vigil.media.camera('gate')!.state === 'live', 20_000);
    const bad = vigil.gateway.camera('wrong-password')!;
    await waitFor(() => bad.state === 'offline', 20_000);
    expect(bad.reason).toMatch(/unauthorized/i);
    const detail = await vigil.admin('GET', '/cameras/wrong-password');
    const text = JSON.stringify(detail.body) + JSON.stringify((await vigil.admin('GET', '/cameras')).body);
    expect(text).not.toContain('not-it');
    expect(text).not.toContain(PASSWORD);
    expect(detail.body.reason).toMatch(/unauthorized/i);
  });

  it('an H.265 camera is refused with a clear reason, or transcoded to H.264 when configured', async () => {
    const refused = vigil.gateway.camera('hevc-refused')!;
    await waitFor(() => refused.state === 'offline' && /refused/.test(refused.reason ?? ''), 20_000);
    expect(refused.reason).toMatch(/H\.265|HEVC/i);
    await waitFor(() => vigil.media.camera('hevc-transcoded')!.state === 'live', 30_000);
    const stats = await vigil.gateway.camera('hevc-transcoded')!.producer.getStats();
    expect(stats[0]?.mimeType).toBe('video/H264');
    // A transcode costs a good part of a core: free it for the tests that follow.
    expect((await vigil.admin('DELETE', '/cameras/hevc-transcoded')).status).toBe(204);
  });

  it('a camera that dies and comes back is live again within 2 s, and its viewer resumes without reloading', async () => {
    const page = await sdkPage(browser, vigil.url);
    await play(page, 'g', 'gate', vigil.token(['gate']));
    await waitFor(async () => (await probe(page, 'g')).state === 'playing', 20_000);
    const cam = vigil.gateway.camera('gate')!;
    const producerId = cam.producer.id;

    await server.kill();
    await waitFor(() => cam.state === 'stalled' || cam.state === 'offline', 10_000);
    const stalledFrames = (await probe(page, 'g')).framesDecoded;

    const returnedAt = Date.now();
    await server.restart();
    await waitFor(() => cam.state === 'live', 10_000);
    const backIn = cam.stateSince - returnedAt;
    await waitFor(async () => (await probe(page, 'g')).framesDecoded > stalledFrames + 20, 20_000);
    const viewerIn = Date.now() - returnedAt;
    console.log(`[rtsp] camera restarted: live ${backIn} ms after the server was back, viewer decoding again after ${viewerIn} ms`);
    expect(backIn).toBeLessThanOrEqual(2000);
    // The relay sends from the same local ports: same producer, the viewer's consumer never changed.
    expect(cam.producer.id).toBe(producerId);
    expect((await probe(page, 'g')).state).toBe('playing');
    await page.close();
  });

  it('camera audio: AAC transcoded to Opus and PCMU passed through, consumed next to the video', async () => {
    const c = await WsClient.open(vigil.url);
    expect((await c.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token: vigil.token(['**']) })).ok).toBe(true);
    const t = await c.request({ type: 'createRecvTransport' });
    const transportId = (t.ok && (t.data as { id: string }).id) as string;
    const caps = vigil.gateway.rtpCapabilities as unknown as Record<string, unknown>;
    for (const [cameraId, mime] of [['with-aac', 'audio/opus'], ['with-pcmu', 'audio/PCMU']] as const) {
      const cam = vigil.gateway.camera(cameraId)!;
      await waitFor(() => cam.state === 'live' && cam.stream('high').audioProducer !== undefined, 30_000);
      const producer = cam.stream('high').audioProducer!;
      await waitFor(async () => ((await producer.getStats())[0]?.packetCount ?? 0) > 20, 10_000);
      const r = await c.request({ type: 'consume', transportId, cameraId, rtpCapabilities: caps });
      if (!r.ok) throw new Error(`consume refused: ${r.error.code}`);
      const audio = (r.data as { audio?: { rtpParameters: { codecs: { mimeType: string }[] } } }).audio;
      expect(audio?.rtpParameters.codecs[0]?.mimeType).toBe(mime);
    }
    c.close();
  });

  it('a browser receives the camera audio with the video (AAC camera, Opus to the browser)', async () => {
    const page = await sdkPage(browser, vigil.url);
    await play(page, 'av', 'with-aac', vigil.token(['with-aac']));
    await waitFor(async () => (await probe(page, 'av')).state === 'playing', 20_000);
    const audioPackets = () =>
      page.evaluate(async () => {
        const f = (window as any).feeds.av;
        const audio = f.feed.consumer?.appData?.audio;
        let packets = 0;
        if (audio) (await audio.getStats()).forEach((s: any) => { if (s.type === 'inbound-rtp') packets = s.packetsReceived; });
        return { tracks: (f.video.srcObject as MediaStream).getAudioTracks().length, packets, codec: audio?.rtpParameters.codecs[0].mimeType };
      });
    await waitFor(async () => (await audioPackets()).packets > 50, 10_000);
    expect(await audioPackets()).toMatchObject({ tracks: 1, codec: 'audio/opus' });
    await page.close();
  });
});
