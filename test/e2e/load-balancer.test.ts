/**
 * Vigil behind a real load balancer (Debian's haproxy, `option forwardfor`):
 * per-address limits and the audit trail use the client address haproxy
 * passes in X-Forwarded-For, because haproxy's address is in
 * `http.trustedProxies`; a forged X-Forwarded-For is ignored when it comes
 * straight from an untrusted address, and only its trusted part is believed
 * when it comes through haproxy. Clients use distinct loopback source
 * addresses (127.0.0.x, all on `lo`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { PROTOCOL_VERSION } from '@vigil/protocol';
import { startTestVigil, type TestVigil } from '../helpers/vigil.ts';
import { WsClient } from '../helpers/ws-client.ts';
import { startHaproxy, type TestHaproxy } from '../helpers/haproxy.ts';

let vigil: TestVigil;
let lb: TestHaproxy;
const open: WebSocket[] = [];

/** HTTP status of a WebSocket upgrade to `base` from `localAddress` (101 when accepted; the socket is kept open). */
function upgrade(base: string, localAddress: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws`, { localAddress, headers });
    // Resets when the balancer or the test tears sockets down are expected.
    ws.on('error', () => {});
    ws.once('open', () => {
      open.push(ws);
      resolve(101);
    });
    ws.once('unexpected-response', (req, res) => {
      // haproxy resets the client side after a refused upgrade: expected.
      req.on('error', () => {});
      res.on('error', () => {});
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

beforeAll(async () => {
  vigil = await startTestVigil({
    http: { host: '127.0.0.1', port: 0, trustedProxies: ['127.0.0.1/32'] },
    limits: { maxConnectionsPerIp: 1 },
    cameras: [{ id: 'gate', codec: 'H264', source: { kind: 'rtp-push', port: 0, ssrc: 77, payloadType: 96 } }],
  });
  lb = await startHaproxy([{ host: '127.0.0.1', port: Number(new URL(vigil.url).port) }]);
});

afterAll(async () => {
  for (const ws of open) ws.terminate();
  await lb?.stop();
  await vigil?.close();
});

describe('behind haproxy (X-Forwarded-For from a trusted proxy)', () => {
  it("two clients through haproxy are limited by their own addresses, not haproxy's", async () => {
    expect(await upgrade(lb.url, '127.0.0.2')).toBe(101);
    // maxConnectionsPerIp 1: the second socket from 127.0.0.2 is refused ...
    expect(await upgrade(lb.url, '127.0.0.2')).toBe(429);
    // ... while 127.0.0.3, arriving from the same haproxy, has its own budget.
    expect(await upgrade(lb.url, '127.0.0.3')).toBe(101);
  });

  it('a forged X-Forwarded-For is ignored from an untrusted address, and only its trusted part counts through haproxy', async () => {
    // Straight to Vigil from 127.0.0.4 (not a trusted proxy), claiming to be fresh addresses: keyed by 127.0.0.4.
    expect(await upgrade(vigil.url, '127.0.0.4', { 'x-forwarded-for': '198.51.100.1' })).toBe(101);
    expect(await upgrade(vigil.url, '127.0.0.4', { 'x-forwarded-for': '198.51.100.2' })).toBe(429);
    // Through haproxy from 127.0.0.5, claiming to be 127.0.0.2 (at its limit): haproxy appends the real
    // peer, and the chain is believed only up to the first untrusted hop (127.0.0.5).
    expect(await upgrade(lb.url, '127.0.0.5', { 'x-forwarded-for': '127.0.0.2' })).toBe(101);
    expect(await upgrade(lb.url, '127.0.0.5', { 'x-forwarded-for': '127.0.0.9' })).toBe(429);
  });

  it('the audit trail records the address haproxy passed', async () => {
    const c = await WsClient.open(lb.url, undefined, { localAddress: '127.0.0.6' });
    c.ws.on('error', () => {});
    const join = await c.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token: vigil.token(['gate'], { subject: 'lb-viewer' }) });
    expect(join.ok).toBe(true);
    const caps = await c.request({ type: 'getRouterRtpCapabilities' });
    const t = await c.request({ type: 'createRecvTransport' });
    if (!caps.ok || !t.ok) throw new Error('no transport');
    const r = await c.request({
      type: 'consume',
      transportId: (t.data as { id: string }).id,
      cameraId: 'gate',
      rtpCapabilities: (caps.data as { rtpCapabilities: unknown }).rtpCapabilities,
    });
    expect(r.ok).toBe(true);
    const rows = await vigil.audit!.query({ subject: 'lb-viewer', limit: 10 });
    expect(rows.map((v) => v.clientAddress)).toEqual(['127.0.0.6']);
    c.ws.terminate();
  });
});
