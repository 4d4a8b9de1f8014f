/**
 * Ingest with real parts: a real mediasoup worker and RTP from real ffmpeg
 * processes, both pushed by an outside process (rtp-push) and from the
 * built-in test-pattern relay, for VP8 and H.264 baseline/main/high.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Gateway, testPatternArgs } from '@vigil/gateway/internals';
import { parseConfig } from '@vigil/server';
import { testCamera, waitFor } from '../helpers/vigil.ts';

let gateway: Gateway;
let pusher: ChildProcess | undefined;
const PUSH_SSRC = 1234567;

beforeAll(async () => {
  const config = parseConfig({
    webrtc: { port: 0 },
    cameras: [
      { id: 'push-1', codec: 'H264', source: { kind: 'rtp-push', port: 0, ssrc: PUSH_SSRC, payloadType: 100 } },
      testCamera('tp-main', 'H264', { h264Profile: 'main' }),
      testCamera('tp-high', 'H264', { h264Profile: 'high' }),
      testCamera('tp-vp8', 'VP8'),
    ],
  });
  gateway = await Gateway.start({ config, logger: pino({ level: 'silent' }) });
});

afterAll(async () => {
  pusher?.kill('SIGKILL');
  await gateway?.close();
});

async function packets(id: string): Promise<number> {
  const stats = await gateway.camera(id)!.producer.getStats();
  return stats.reduce((n, s) => n + s.packetCount, 0);
}

describe('RTP ingest', () => {
  it('an RTP-push camera stays connecting until RTP arrives, then goes live and its producer counts packets', async () => {
    const cam = gateway.camera('push-1')!;
    expect(cam.state).toBe('connecting');
    const { rtpPort, rtcpPort } = cam.ports;
    const args = testPatternArgs(
      { id: 'push-1', codec: 'H264', h264Profile: 'baseline' },
      { kind: 'test-pattern', width: 320, height: 240, fps: 25, gopFrames: 25, bitrate: 300_000 },
      { host: '127.0.0.1', rtpPort, rtcpPort, ssrc: PUSH_SSRC, payloadType: 100 },
    );
    pusher = spawn('ffmpeg', args, { stdio: 'ignore' });
    await waitFor(() => cam.state === 'live', 10_000);
    await waitFor(async () => (await packets('push-1')) > 50, 10_000);
    const [stat] = await cam.producer.getStats();
    expect(stat?.mimeType).toBe('video/H264');
    expect(stat?.ssrc).toBe(PUSH_SSRC);
  });

  it('test patterns in H.264 main and high profiles and VP8 go live', async () => {
    await waitFor(() => ['tp-main', 'tp-high', 'tp-vp8'].every((id) => gateway.camera(id)!.state === 'live'), 15_000);
    for (const id of ['tp-main', 'tp-high', 'tp-vp8']) {
      await waitFor(async () => (await packets(id)) > 30, 10_000);
    }
    expect((await gateway.camera('tp-vp8')!.producer.getStats())[0]?.mimeType).toBe('video/VP8');
  });

  it('a camera that cannot open (port taken) is refused alone; the others keep running', async () => {
    const taken = gateway.camera('push-1')!.ports.rtpPort;
    const cfg = parseConfig({ cameras: [{ id: 'clash', source: { kind: 'rtp-push', port: taken, ssrc: 1 } }] }).cameras[0]!;
    await expect(gateway.addCamera(cfg)).rejects.toThrow();
    expect(gateway.camera('clash')).toBeUndefined();
    const before = await packets('push-1');
    await waitFor(async () => (await packets('push-1')) > before, 5000);
  });

  it('removing a camera stops its relay and closes its producer', async () => {
    const cam = gateway.camera('tp-vp8')!;
    await gateway.removeCamera('tp-vp8');
    expect(cam.state).toBe('closed');
    expect(cam.producer.closed).toBe(true);
    expect(gateway.camera('tp-vp8')).toBeUndefined();
  });
});
