/**
 * The cluster's shared control state with real parts: three Vigil processes
 * (A, B, C) on loopback with their own ports, sharing one real redis-server
 * (AOF on). Revocation through C's admin API ends a live session on A;
 * `maxStreams` holds across A and B, and a slot comes back when its consumer
 * closes and when its node is killed -9 (after `cluster.nodeTimeoutMs`);
 * Redis restarting loses no revocation and stops no node.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import jwt from 'jsonwebtoken';
import { Redis } from 'ioredis';
import { PROTOCOL_VERSION, type Response } from '@vigil/protocol';
import { TEST_ADMIN_KEY, TEST_SECRET, waitFor } from '../helpers/vigil.ts';
import { spawnVigil, tempDir, writeConfig, type VigilProcess } from '../helpers/vigil-process.ts';
import { WsClient, errorCode } from '../helpers/ws-client.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';

const NODE_TIMEOUT_MS = 1000;

let redis: TestRedis;
const nodes: Record<'a' | 'b' | 'c', VigilProcess> = {} as never;
const clients: WsClient[] = [];

function token(subject: string, extra: Record<string, unknown> = {}): string {
  return jwt.sign({ cameras: ['**'], ...extra }, TEST_SECRET, {
    algorithm: 'HS256',
    subject,
    expiresIn: 300,
    issuer: 'vigil',
    audience: 'vigil-viewer',
    jwtid: randomUUID(),
  });
}

async function joined(node: VigilProcess, subject: string, extra: Record<string, unknown> = {}): Promise<WsClient> {
  const c = await WsClient.open(node.url);
  clients.push(c);
  const r = await c.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token: token(subject, extra) });
  if (!r.ok) throw new Error(`join refused: ${r.error.code}`);
  return c;
}

/** A joined viewer with a receive transport and the router's RTP capabilities (a bare client: no WebRTC). */
async function viewer(node: VigilProcess, subject: string, extra: Record<string, unknown> = {}) {
  const c = await joined(node, subject, extra);
  const caps = await c.request({ type: 'getRouterRtpCapabilities' });
  const t = await c.request({ type: 'createRecvTransport' });
  if (!caps.ok || !t.ok) throw new Error('no transport');
  const rtpCapabilities = (caps.data as { rtpCapabilities: unknown }).rtpCapabilities;
  const transportId = (t.data as { id: string }).id;
  return {
    c,
    consume: (): Promise<Response> => c.request({ type: 'consume', transportId, cameraId: 'door', rtpCapabilities }),
  };
}

function consumerId(r: Response): string {
  if (!r.ok) throw new Error(`consume refused: ${r.error.code}`);
  return (r.data as { consumerId: string }).consumerId;
}

function admin(node: VigilProcess, method: string, path: string, body?: unknown): Promise<globalThis.Response> {
  return fetch(`${node.url}/admin/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
}

beforeAll(async () => {
  redis = await startRedis();
  const dir = tempDir('vigil-cluster-state-');
  const start = async (id: 'a' | 'b' | 'c'): Promise<void> => {
    const path = writeConfig(
      dir,
      {
        log: { level: 'info' },
        cluster: { redisUrl: redis.url, nodeId: `node-${id}`, announcedAddress: '127.0.0.1', heartbeatMs: 200, nodeTimeoutMs: NODE_TIMEOUT_MS },
        cameras: [{ id: 'door', codec: 'H264', source: { kind: 'rtp-push', port: 0, ssrc: 4242, payloadType: 96 } }],
        shutdown: { drainDelayMs: 0 },
      },
      `${id}.json`,
    );
    nodes[id] = await spawnVigil(path);
  };
  // One at a time: three starts at once on two busy cores only slow each other down.
  for (const id of ['a', 'b', 'c'] as const) await start(id);
}, 90_000);

afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  for (const n of Object.values(nodes)) n?.child.kill('SIGKILL');
  await Promise.all(Object.values(nodes).map((n) => n?.exited));
  await redis?.stop();
});

describe('cluster shared state (3 Vigil processes, one Redis)', () => {
  it('a revocation through the admin API on node C ends a live session on node A within 1 s', async () => {
    const onA = await joined(nodes.a, 'alice');
    const t0 = performance.now();
    const res = await admin(nodes.c, 'POST', '/revocations', { subject: 'alice', reason: 'badge lost' });
    expect(res.status).toBe(201);
    await waitFor(() => onA.notifications.some((n) => n.notification === 'sessionClosed' && n.reason === 'revoked'), 1000, 5);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(await onA.closed()).toBe(1000);
    // Refused on every node from now on.
    const again = await WsClient.open(nodes.b.url);
    clients.push(again);
    expect(errorCode(await again.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token: token('alice') }))).toBe('unauthorized');
  });

  it('maxStreams 1 across nodes: consuming on A refuses B; freed when A closes its consumer, and when A is killed -9 (after the node timeout)', async () => {
    const a = await viewer(nodes.a, 'bob', { maxStreams: 1 });
    const b = await viewer(nodes.b, 'bob', { maxStreams: 1 });
    const onA = consumerId(await a.consume());
    expect(errorCode(await b.consume())).toBe('limit_exceeded');
    expect((await a.c.request({ type: 'closeConsumer', consumerId: onA })).ok).toBe(true);
    const onB = consumerId(await b.consume());
    expect(errorCode(await a.consume())).toBe('limit_exceeded');
    expect((await b.c.request({ type: 'closeConsumer', consumerId: onB })).ok).toBe(true);
    consumerId(await a.consume());
    expect(errorCode(await b.consume())).toBe('limit_exceeded');
    // A dies without a word: its slot lapses once its quota heartbeat is older than nodeTimeoutMs.
    const killedAt = performance.now();
    nodes.a.child.kill('SIGKILL');
    await nodes.a.exited;
    let r: Response;
    do {
      r = await b.consume();
      if (!r.ok) await new Promise((res) => setTimeout(res, 100));
    } while (!r.ok && performance.now() - killedAt < NODE_TIMEOUT_MS + 4000);
    consumerId(r);
    expect(performance.now() - killedAt).toBeGreaterThan(NODE_TIMEOUT_MS - 400);
  });

  it('Redis restart: nodes keep serving; a revocation meanwhile is refused with 503 cluster_unavailable; the deny list survives', async () => {
    const live = await joined(nodes.b, 'carol');
    // AOF is fsynced every second: let the revocations above reach the disk before the kill.
    await new Promise((r) => setTimeout(r, 1200));
    await redis.kill();
    await waitFor(async () => (await admin(nodes.c, 'POST', '/revocations', { subject: 'carol' })).status === 503, 5000, 100);
    const refused = await admin(nodes.c, 'POST', '/revocations', { subject: 'carol' });
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { code: string }).code).toBe('cluster_unavailable');
    // Still serving: the live session stays, new viewers join (limits per node meanwhile), alice is still refused.
    expect((await live.request({ type: 'getRouterRtpCapabilities' })).ok).toBe(true);
    const during = await viewer(nodes.b, 'dave', { maxStreams: 1 });
    consumerId(await during.consume());
    const alice = await WsClient.open(nodes.c.url);
    clients.push(alice);
    expect(errorCode(await alice.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token: token('alice') }))).toBe('unauthorized');
    expect((await fetch(`${nodes.b.url}/healthz`)).status).toBe(200);

    await redis.start();
    // Back: the stored list survived the restart (AOF), and revocations work again, cluster-wide.
    await waitFor(async () => (await admin(nodes.c, 'POST', '/revocations', { subject: 'carol' })).status === 201, 10_000, 100);
    await waitFor(() => live.notifications.some((n) => n.notification === 'sessionClosed' && n.reason === 'revoked'), 1000, 5);
    const list = (await (await admin(nodes.b, 'GET', '/revocations')).json()) as { revocations: { value: string }[] };
    expect(list.revocations.map((e) => e.value).sort()).toEqual(['alice', 'carol']);
    // dave's stream, taken while Redis was down, was written back: a second one on C is refused.
    const probe = new Redis(redis.url);
    try {
      await waitFor(async () => Object.values(await probe.hgetall('vigil:streams:dave')).includes('1'), 3000, 50);
    } finally {
      probe.disconnect();
    }
    const onC = await viewer(nodes.c, 'dave', { maxStreams: 1 });
    expect(errorCode(await onC.consume())).toBe('limit_exceeded');
  });
});
