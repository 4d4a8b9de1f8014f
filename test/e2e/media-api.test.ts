/**
 * The media API (@vigil/gateway) against a real mediasoup worker and ffmpeg
 * test patterns, driven the way the server drives it (no mediasoup objects
 * in sight): handles say why they closed, a camera's incarnation is an
 * epoch; and the one meaning of "viewers" (sessions; their viewings are
 * consumers) in the admin API, with oversight running while metrics are off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '@vigil/protocol';
import type { ViewerConsumerCloseReason, ViewerTransport } from '@vigil/gateway';
import { startTestVigil, testCamera, waitFor, type TestVigil } from '../helpers/vigil.ts';
import { WsClient } from '../helpers/ws-client.ts';

let vigil: TestVigil;

beforeAll(async () => {
  vigil = await startTestVigil({ metrics: { enabled: false }, cameras: [testCamera('api/a', 'VP8'), testCamera('api/b', 'VP8')] });
  await waitFor(() => vigil.media.cameras().every((c) => c.state === 'live'), 15_000);
});

afterAll(async () => {
  await vigil?.close();
});

/** Resolves with the reason the handle reports when it closes. */
function closeReason(h: { once(event: 'close', fn: (reason: ViewerConsumerCloseReason) => void): unknown }): Promise<string> {
  return new Promise((resolve) => h.once('close', resolve));
}

describe('media API', () => {
  let transport: ViewerTransport;

  it('opens a viewer transport and consumes at a quality, with ids and JSON parameters only', async () => {
    transport = await vigil.media.createViewerTransport({ owner: 'media-test', nearCameraId: 'api/a' });
    expect(transport.owner).toBe('media-test');
    expect(Object.keys(transport.params).sort()).toEqual(['dtlsParameters', 'iceCandidates', 'iceParameters']);
    const rtpCapabilities = await vigil.media.routerRtpCapabilities();
    const consumer = await transport.consume({ cameraId: 'api/a', quality: 'low', rtpCapabilities });
    expect(consumer).toMatchObject({ cameraId: 'api/a', transportId: transport.id, quality: 'high', kind: 'video', paused: true, closed: false });
    expect(consumer.epoch).toBe(vigil.media.camera('api/a')!.epoch);
    await consumer.resume();
    expect(consumer.paused).toBe(false);
    await consumer.pause();
    expect(consumer.paused).toBe(true);
    const why = closeReason(consumer);
    consumer.close();
    expect(await why).toBe('closed');
  });

  it('a config update is a new epoch: consumers of the old one close with `resubscribe`; a removal with `camera_gone`', async () => {
    const rtpCapabilities = await vigil.media.routerRtpCapabilities();
    const before = vigil.media.camera('api/b')!;
    const consumer = await transport.consume({ cameraId: 'api/b', quality: 'high', rtpCapabilities });
    const replaced = closeReason(consumer);
    const after = await vigil.media.updateCamera({ ...before.config, site: 'moved' });
    expect(await replaced).toBe('resubscribe');
    expect(after.epoch).toBeGreaterThan(before.epoch);
    expect(before.state).toBe('closed');
    expect(vigil.media.camera('api/b')!.epoch).toBe(after.epoch);

    const again = await transport.consume({ cameraId: 'api/b', quality: 'high', rtpCapabilities });
    expect(again.epoch).toBe(after.epoch);
    const removed = closeReason(again);
    expect(await vigil.media.removeCamera('api/b')).toBe(true);
    expect(await removed).toBe('camera_gone');
    expect(vigil.media.camera('api/b')).toBeUndefined();
  });

  it('closing a transport closes its consumers with `transport_closed`, and the transport with `closed`', async () => {
    const rtpCapabilities = await vigil.media.routerRtpCapabilities();
    const consumer = await transport.consume({ cameraId: 'api/a', quality: 'high', rtpCapabilities });
    const consumerWhy = closeReason(consumer);
    const transportWhy = new Promise<string>((resolve) => transport.once('close', resolve));
    transport.close();
    expect(await consumerWhy).toBe('transport_closed');
    expect(await transportWhy).toBe('closed');
    expect(transport.closed).toBe(true);
  });
});

describe('viewers are sessions; oversight runs without metrics', () => {
  it('counts a session with two consumers as one viewer with two consumers, in the camera list and in /oversight', async () => {
    expect(vigil.metrics).toBeUndefined();
    const caps = await vigil.media.routerRtpCapabilities();
    const sessions: WsClient[] = [];
    for (const tiles of [2, 1]) {
      const c = await WsClient.open(vigil.url);
      sessions.push(c);
      await c.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token: vigil.token(['api/a']) });
      const t = await c.request({ type: 'createRecvTransport' });
      const transportId = (t.ok && (t.data as { id: string }).id) as string;
      for (let i = 0; i < tiles; i++) {
        expect((await c.request({ type: 'consume', transportId, cameraId: 'api/a', rtpCapabilities: caps })).ok).toBe(true);
      }
    }
    const list = await vigil.admin('GET', '/cameras');
    expect(list.body.cameras).toEqual([expect.objectContaining({ id: 'api/a', viewers: 2, consumers: 3 })]);
    const oversight = await vigil.admin('GET', '/oversight');
    expect(oversight.status).toBe(200);
    expect(oversight.body.cameras).toEqual([expect.objectContaining({ camera: 'api/a', viewers: 2, consumers: 3 })]);
    sessions[0]!.close();
    await waitFor(async () => (await vigil.admin('GET', '/cameras/api/a')).body.viewers === 1, 5000);
    expect((await vigil.admin('GET', '/cameras/api/a')).body.consumers).toBe(1);
    sessions[1]!.close();
  });
});
