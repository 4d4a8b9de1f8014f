/**
 * An independent WebRTC stack through the SDK's own protocol: aiortc
 * (Python; libvpx and FFmpeg through PyAV) speaks Vigil's WebSocket protocol
 * (join, getRouterRtpCapabilities, createRecvTransport, consume,
 * connectTransport, resumeConsumer, leave) with no mediasoup-client and no
 * browser, writes the server's offer itself and DECODES the camera. If the
 * server only worked with what Chromium and Firefox happen to do, this fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGNALING_PATH } from '@vigil/protocol';
import { startTestVigil, testCamera, waitFor, type TestVigil } from '../helpers/vigil.ts';
import { runAiortc } from '../helpers/aiortc.ts';

let vigil: TestVigil;

beforeAll(async () => {
  vigil = await startTestVigil({ cameras: [testCamera('yard', 'VP8'), testCamera('dock', 'H264')] });
  await waitFor(() => vigil.media.cameras().every((c) => c.state === 'live'), 15_000);
});

afterAll(async () => {
  await vigil?.close();
});

describe('aiortc over the SDK protocol (WebSocket)', () => {
  it.each([
    ['yard', 'video/VP8'],
    ['dock', 'video/H264'],
  ])('plays %s: decoded frames at the size sent, then leaves (audit row ends left)', async (camera, codec) => {
    const ws = vigil.url.replace(/^http/, 'ws') + SIGNALING_PATH;
    const subject = `aiortc-${camera}`;
    const r = await runAiortc('ws_client.py', [ws, vigil.token([camera], { subject }), camera, '--frames', '15', '--timeout', '35'], 50_000);
    expect(r.error).toBeNull();
    expect(r.joined).toBe(true);
    expect(r.codec).toBe(codec);
    expect(r.frames).toBeGreaterThanOrEqual(15);
    expect({ width: r.width, height: r.height }).toEqual({ width: 640, height: 360 });
    expect(r.exitCode).toBe(0);
    await waitFor(async () => (await vigil.audit!.query({ subject, limit: 5 })).at(-1)?.endedAt != null, 5_000);
    expect((await vigil.audit!.query({ subject, limit: 5 })).at(-1)).toMatchObject({ camera, endReason: 'left' });
  });
});
