/**
 * The signaling protocol against a real server (fastify + ws + a real
 * mediasoup worker), from a bare WebSocket client: typed refusals, ordering,
 * scope on every consume, origin check, token expiry during a session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '@vigil/protocol';
import { startTestVigil, testCamera, waitFor, type TestVigil } from '../helpers/vigil.ts';
import { WsClient, errorCode } from '../helpers/ws-client.ts';

let vigil: TestVigil;
const clients: WsClient[] = [];

beforeAll(async () => {
  vigil = await startTestVigil({
    cameras: [testCamera('lobby/1', 'H264', { site: 'hq' }), testCamera('yard/1', 'VP8')],
    limits: { maxTransportsPerConnection: 1, maxConsumersPerConnection: 2 },
  });
  await waitFor(() => vigil.media.cameras().every((c) => c.state === 'live'), 15_000);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await vigil?.close();
});

async function client(origin?: string): Promise<WsClient> {
  const c = await WsClient.open(vigil.url, origin);
  clients.push(c);
  return c;
}

async function joined(cameras: string[], ttlSec = 300): Promise<WsClient> {
  const c = await client();
  const r = await c.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token: vigil.token(cameras, { ttlSec }) });
  expect(r.ok).toBe(true);
  return c;
}

/** RTP capabilities of a receiver that can take every router codec. */
function allCaps(): Record<string, unknown> {
  return vigil.gateway.rtpCapabilities as unknown as Record<string, unknown>;
}

describe('signaling protocol', () => {
  it('answers leave, then ends the connection normally (README: "answered, then the server ends the connection")', async () => {
    const c = await joined(['lobby/*']);
    const closed = c.closed();
    const r = await c.request({ type: 'leave' });
    expect(r).toEqual({ id: expect.any(Number), ok: true, data: {} });
    expect(await closed).toBe(1000);
  });

  it('requires join first', async () => {
    const c = await client();
    expect(errorCode(await c.request({ type: 'createRecvTransport' }))).toBe('not_joined');
    expect(errorCode(await c.request({ type: 'getRouterRtpCapabilities' }))).toBe('not_joined');
  });

  it('refuses a second join and a wrong protocol version', async () => {
    const c = await client();
    expect(errorCode(await c.request({ type: 'join', protocolVersion: 99, token: vigil.token(['*']) }))).toBe('unsupported_version');
    expect((await c.request({ type: 'join', protocolVersion: 1, token: vigil.token(['*']) })).ok).toBe(true);
    expect(errorCode(await c.request({ type: 'join', protocolVersion: 1, token: vigil.token(['*']) }))).toBe('already_joined');
  });

  it('refuses messages out of order: consume before a transport exists, resume of an unknown consumer', async () => {
    const c = await joined(['lobby/*']);
    const consume = await c.request({ type: 'consume', transportId: 'no-such-transport', cameraId: 'lobby/1', rtpCapabilities: allCaps() });
    expect(errorCode(consume)).toBe('not_found');
    expect(errorCode(await c.request({ type: 'resumeConsumer', consumerId: 'nope' }))).toBe('not_found');
  });

  it('negotiates a transport and a paused consumer; checks scope on every consume', async () => {
    const c = await joined(['site:hq']);
    const caps = await c.request({ type: 'getRouterRtpCapabilities' });
    expect(caps.ok && (caps.data as { rtpCapabilities: { codecs: unknown[] } }).rtpCapabilities.codecs.length).toBeGreaterThan(0);
    const t = await c.request({ type: 'createRecvTransport' });
    if (!t.ok) throw new Error('createRecvTransport refused');
    const transport = t.data as unknown as { id: string; iceCandidates: { protocol: string }[] };
    expect(transport.iceCandidates.map((x) => x.protocol).sort()).toEqual(['tcp', 'udp']);
    const ok = await c.request({ type: 'consume', transportId: transport.id, cameraId: 'lobby/1', rtpCapabilities: allCaps() });
    expect(ok.ok).toBe(true);
    expect(ok.ok && ok.data).toMatchObject({ kind: 'video', width: 640, height: 360 });
    // A camera outside the site and an unknown one: the same refusal, word for word.
    const out = await c.request({ type: 'consume', transportId: transport.id, cameraId: 'yard/1', rtpCapabilities: allCaps() });
    const ghost = await c.request({ type: 'consume', transportId: transport.id, cameraId: 'ghost/9', rtpCapabilities: allCaps() });
    expect(out).toEqual({ ...ghost, id: out.id });
    expect(errorCode(out)).toBe('forbidden');
    expect(errorCode(await c.request({ type: 'createRecvTransport' }))).toBe('limit_exceeded');
  });

  it('refuses a browser that cannot decode the camera codec', async () => {
    const c = await joined(['**']);
    const t = await c.request({ type: 'createRecvTransport' });
    if (!t.ok) throw new Error('refused');
    const vp8Only = {
      codecs: [{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000, preferredPayloadType: 96, rtcpFeedback: [] }],
      headerExtensions: [],
    };
    const r = await c.request({ type: 'consume', transportId: (t.data as { id: string }).id, cameraId: 'lobby/1', rtpCapabilities: vp8Only });
    expect(errorCode(r)).toBe('unsupported_codec');
  });

  it('answers malformed frames with bad_request and keeps the connection usable', async () => {
    const c = await joined(['**']);
    expect(errorCode(await c.raw('{garbage', -1))).toBe('bad_request');
    expect(errorCode(await c.raw(JSON.stringify({ id: 77, type: 'explode' }), 77))).toBe('bad_request');
    expect((await c.request({ type: 'getRouterRtpCapabilities' })).ok).toBe(true);
  });

  it('refuses a WebSocket from a foreign Origin, accepts same-origin', async () => {
    await expect(WsClient.open(vigil.url, 'https://evil.example')).rejects.toThrow(/403/);
    const same = await client(vigil.url);
    expect((await same.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token: vigil.token(['*']) })).ok).toBe(true);
  });

  it('ends the session when the token expires mid-session', async () => {
    // ttl 1 s + the configured 5 s clock tolerance.
    const c = await joined(['**'], 1);
    const t0 = Date.now();
    const code = await c.closed();
    const elapsed = Date.now() - t0;
    expect(code).toBe(1000);
    expect(c.notifications).toContainEqual({ notification: 'sessionClosed', reason: 'token_expired' });
    expect(elapsed).toBeLessThan(8000);
  }, 15_000);

  it('a viewer that vanishes does not disturb another', async () => {
    const a = await joined(['**']);
    a.ws.terminate();
    const b = await joined(['**']);
    expect((await b.request({ type: 'createRecvTransport' })).ok).toBe(true);
  });

  it('publishes session facts to the observer (for metrics and audit), with end reasons', async () => {
    const events: { name: string; e: Record<string, unknown> }[] = [];
    for (const name of ['join', 'consume', 'consumerclose', 'sessionclose', 'refused'] as const) {
      vigil.signaling.observer.on(name, (e: object) => events.push({ name, e: e as Record<string, unknown> }));
    }
    const c = await joined(['lobby/*']);
    const t = await c.request({ type: 'createRecvTransport' });
    const transportId = (t.ok && (t.data as { id: string }).id) as string;
    const a = await c.request({ type: 'consume', transportId, cameraId: 'lobby/1', rtpCapabilities: allCaps() });
    const consumerId = (a.ok && (a.data as { consumerId: string }).consumerId) as string;
    await c.request({ type: 'closeConsumer', consumerId });
    await c.request({ type: 'consume', transportId, cameraId: 'yard/1', rtpCapabilities: allCaps() });
    const b = await c.request({ type: 'consume', transportId, cameraId: 'lobby/1', rtpCapabilities: allCaps() });
    c.ws.terminate();
    await waitFor(() => events.some((x) => x.name === 'sessionclose'), 5000);
    const sessionId = events.find((x) => x.name === 'join')!.e['sessionId'];
    const mine = events.filter((x) => x.e['sessionId'] === sessionId).map((x) => [x.name, x.e['cameraId'] ?? x.e['code'] ?? x.e['subject'], x.e['reason']]);
    expect(mine).toEqual([
      ['join', 'tester', undefined],
      ['consume', 'lobby/1', undefined],
      ['consumerclose', 'lobby/1', 'left'],
      ['refused', 'forbidden', undefined],
      ['consume', 'lobby/1', undefined],
      ['consumerclose', 'lobby/1', 'disconnected'],
      ['sessionclose', 'tester', 'disconnected'],
    ]);
    expect(b.ok).toBe(true);
    expect(JSON.stringify(events)).not.toContain('eyJ');
  });

  it('admin API: refuses without its own credential (a viewer token is not one), lists sessions with it', async () => {
    const viewer = vigil.token(['**']);
    for (const authorization of [undefined, `Bearer ${viewer}`, 'Bearer wrong', 'Basic abc']) {
      const res = await vigil.app.inject({ method: 'GET', url: '/admin/v1/sessions', headers: authorization ? { authorization } : {} });
      expect(res.statusCode).toBe(401);
      expect(res.body).not.toContain(viewer.slice(0, 20));
    }
    const c = await joined(['lobby/*'], 300);
    const res = await vigil.admin('GET', '/sessions');
    expect(res.status).toBe(200);
    expect(res.body.sessions).toContainEqual({ id: expect.any(String), subject: 'tester', consumers: 0 });
    c.close();
  });
});
