/**
 * The signaling messages the SDK recovers with, against a real server (real
 * mediasoup worker, a camera fed by an outside ffmpeg RTP sender), from a bare
 * WebSocket client:
 * - `cameraState` notifications reach exactly the sessions that consume the
 *   camera, once per session, and stop when they no longer consume it;
 * - `restartIce` hands out new ICE credentials for the session's own transport only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, type Notification } from '@vigil/protocol';
import { startTestVigil, testCamera, waitFor, type TestVigil } from '../helpers/vigil.ts';
import { WsClient, errorCode } from '../helpers/ws-client.ts';
import { pushCamera } from '../helpers/rtp-pusher.ts';

let vigil: TestVigil;
const clients: WsClient[] = [];
const push = pushCamera('door', 515151);

beforeAll(async () => {
  vigil = await startTestVigil({
    ingest: { stallTimeoutMs: 1000, offlineTimeoutMs: 1000, retryMinMs: 200, retryMaxMs: 1000 },
    cameras: [push.config, testCamera('hall', 'VP8')],
  });
  await waitFor(() => vigil.gateway.camera('hall')!.state === 'live', 15_000);
});

afterAll(async () => {
  push.killAll();
  for (const c of clients) c.close();
  await vigil?.close();
});

async function joined(cameras: string[]): Promise<WsClient> {
  const c = await WsClient.open(vigil.url);
  clients.push(c);
  const r = await c.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token: vigil.token(cameras) });
  expect(r.ok).toBe(true);
  return c;
}

async function transport(c: WsClient): Promise<{ id: string; iceParameters: { usernameFragment: string; password: string } }> {
  const t = await c.request({ type: 'createRecvTransport' });
  if (!t.ok) throw new Error('createRecvTransport refused');
  return t.data as never;
}

async function consume(c: WsClient, transportId: string, cameraId: string): Promise<{ consumerId: string; cameraState?: string }> {
  const r = await c.request({ type: 'consume', transportId, cameraId, rtpCapabilities: vigil.gateway.rtpCapabilities as never });
  if (!r.ok) throw new Error(`consume refused: ${r.error.code}`);
  return r.data as never;
}

function states(c: WsClient, cameraId: string): string[] {
  return c.notifications
    .filter((n): n is Extract<Notification, { notification: 'cameraState' }> => n.notification === 'cameraState' && n.cameraId === cameraId)
    .map((n) => n.state);
}

describe('cameraState notifications', () => {
  it('tells the consuming session (once, however many consumers) stalled -> offline -> live; others hear nothing', async () => {
    const cam = vigil.gateway.camera('door')!;
    await push.start(vigil.gateway);
    await waitFor(() => cam.state === 'live', 10_000);

    const viewer = await joined(['door', 'hall']);
    const t = await transport(viewer);
    const first = await consume(viewer, t.id, 'door');
    expect(first.cameraState).toBe('live');
    await consume(viewer, t.id, 'door'); // a second tile of the same camera
    await consume(viewer, t.id, 'hall');
    const bystander = await joined(['door', 'hall']);
    const bt = await transport(bystander);
    await consume(bystander, bt.id, 'hall');

    push.killAll();
    const closed = () => viewer.notifications.filter((n) => n.notification === 'consumerClosed').map((n) => 'reason' in n && n.reason);
    await waitFor(() => states(viewer, 'door').includes('offline'), 8000);
    expect(states(viewer, 'door')).toEqual(['stalled', 'offline']);
    // The camera's push gate keeps its port and producer while it is offline: consumers stay,
    // nobody has to re-subscribe, and a consume meanwhile carries the camera's state.
    expect(closed()).toEqual([]);
    expect((await consume(viewer, t.id, 'door')).cameraState).toBe('offline');
    await push.start(vigil.gateway);
    await waitFor(() => states(viewer, 'door').includes('live'), 10_000);

    expect(states(viewer, 'door')).toEqual(['stalled', 'offline', 'live']);
    expect(states(viewer, 'hall')).toEqual([]);
    expect(bystander.notifications.filter((n) => n.notification === 'cameraState')).toEqual([]);
  });

  it('reports the state at consume time, and stops notifying once the session no longer consumes the camera', async () => {
    const cam = vigil.gateway.camera('door')!;
    await waitFor(() => cam.state === 'live', 10_000);
    const viewer = await joined(['door']);
    const t = await transport(viewer);
    const { consumerId } = await consume(viewer, t.id, 'door');
    expect((await viewer.request({ type: 'closeConsumer', consumerId })).ok).toBe(true);
    push.killAll();
    await waitFor(() => cam.state === 'stalled', 5000);
    const late = await consume(viewer, t.id, 'door');
    expect(late.cameraState).toBe('stalled');
    await viewer.request({ type: 'closeConsumer', consumerId: late.consumerId });
    await waitFor(() => cam.state === 'offline', 5000);
    await push.start(vigil.gateway);
    await waitFor(() => cam.state === 'live', 10_000);
    expect(states(viewer, 'door')).toEqual([]);
  });
});

describe('restartIce', () => {
  it('returns new ICE credentials for the session own transport; refuses others', async () => {
    const a = await joined(['hall']);
    const t = await transport(a);
    const r = await a.request({ type: 'restartIce', transportId: t.id });
    if (!r.ok) throw new Error(`restartIce refused: ${r.error.code}`);
    const ice = (r.data as { iceParameters: { usernameFragment: string; password: string; iceLite?: boolean } }).iceParameters;
    expect(ice.usernameFragment).toMatch(/^\S{4,}$/);
    expect(ice.usernameFragment).not.toBe(t.iceParameters.usernameFragment);
    expect(ice.password).not.toBe(t.iceParameters.password);

    const b = await joined(['hall']);
    expect(errorCode(await b.request({ type: 'restartIce', transportId: t.id }))).toBe('not_found');
    expect(errorCode(await b.request({ type: 'restartIce' }))).toBe('bad_request');
    const stranger = await WsClient.open(vigil.url);
    clients.push(stranger);
    expect(errorCode(await stranger.request({ type: 'restartIce', transportId: t.id }))).toBe('not_joined');
  });
});
