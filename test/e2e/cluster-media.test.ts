/**
 * ClusterMedia with real parts, in one process: two nodes (each its own
 * mediasoup worker) on 127.0.0.1, a real redis-server, a real ffmpeg test
 * pattern. A viewer on the node that does not ingest the camera gets it
 * through an SRTP pipe from the origin, once per camera per node; the pipe
 * closes with its last viewer; the origin leaving moves the camera and the
 * edge's viewers are told to re-subscribe; Redis down refuses only what needs
 * it. The three-process cluster behind haproxy with browsers is
 * cluster-nodes.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { ClusterMedia, type MediaJson, type ViewerConsumerCloseReason } from '@vigil/gateway';
import { parseConfig } from '@vigil/server';
import { clusterClients, type TestClusterClients } from '../helpers/cluster-clients.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { testConfig } from '../helpers/vigil.ts';

const CAMERA = {
  id: 'cl/a',
  codec: 'VP8',
  source: { kind: 'test-pattern', width: 320, height: 180, fps: 15, gopFrames: 15, bitrate: 200_000 },
};

async function until<T>(what: string, f: () => T | undefined | false | Promise<T | undefined | false>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('cluster media (two nodes in one process, real Redis)', () => {
  let redis: TestRedis;
  const conns: TestClusterClients[] = [];
  const nodes: ClusterMedia[] = [];
  /** The node ingesting the camera after its first origin left. */
  let survivor: ClusterMedia;
  const logger = pino({ level: process.env['VIGIL_TEST_LOG'] ?? 'silent' });

  async function node(id: string): Promise<ClusterMedia> {
    const c = clusterClients(redis.url);
    conns.push(c);
    await until('redis connection', () => c.up);
    const config = parseConfig(testConfig({ cameras: [CAMERA] }));
    const media = await ClusterMedia.start({
      config,
      logger,
      redis: c,
      cluster: {
        nodeId: id,
        announcedAddress: '127.0.0.1',
        heartbeatMs: 300,
        nodeTimeoutMs: 1000,
        pipe: { listenIp: '127.0.0.1', portMin: 52000, portMax: 52999, requestTimeoutMs: 2000 },
      },
    });
    nodes.push(media);
    return media;
  }

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const n of nodes) await n.close().catch(() => undefined);
    for (const c of conns) await c.close();
    await redis?.stop();
  });

  it('pipes a camera from its origin to the node of its viewer, once, and closes the pipe with the last viewer', async () => {
    const a = await node('node-a');
    const b = await node('node-b');
    const origin = await until('an origin', () => a.originOf(CAMERA.id)?.node === b.originOf(CAMERA.id)?.node && a.originOf(CAMERA.id)?.node);
    const [originNode, edgeNode] = origin === 'node-a' ? [a, b] : [b, a];
    await until('the origin ingesting', () => originNode.camera(CAMERA.id)?.state === 'live');
    await until('the edge seeing it live', () => edgeNode.camera(CAMERA.id)?.state === 'live');

    const caps = (await edgeNode.routerRtpCapabilities()) as MediaJson;
    const t1 = await edgeNode.createViewerTransport({ owner: 's1', nearCameraId: CAMERA.id });
    const t2 = await edgeNode.createViewerTransport({ owner: 's2' });
    const c1 = await t1.consume({ cameraId: CAMERA.id, quality: 'high', rtpCapabilities: caps });
    const c2 = await t2.consume({ cameraId: CAMERA.id, quality: 'low', rtpCapabilities: caps });
    expect(c1.epoch).toBe(edgeNode.camera(CAMERA.id)!.epoch);
    expect(edgeNode.pipes).toEqual({ pulled: 1, served: 0 });
    expect(originNode.pipes).toEqual({ pulled: 0, served: 1 });
    // Media really crosses the pipe (SRTP over UDP between the two workers).
    const received = await until('bytes over the pipe', async () => {
      const s = await edgeNode.pipeStats();
      return (s.pulled[0]?.bytesReceived ?? 0) > 20_000 && s.pulled[0]!.bytesReceived;
    });
    expect(received).toBeGreaterThan(20_000);

    c1.close();
    expect(edgeNode.pipes.pulled).toBe(1);
    c2.close();
    expect(edgeNode.pipes.pulled).toBe(0);
    await until('the origin closing its end', () => originNode.pipes.served === 0);
    t1.close();
    t2.close();
  });

  it('moves the camera when its origin leaves, and tells the edge viewer to re-subscribe', async () => {
    const [a, b] = nodes as [ClusterMedia, ClusterMedia];
    const originId = a.originOf(CAMERA.id)!.node;
    const [originNode, edgeNode] = originId === 'node-a' ? [a, b] : [b, a];
    const caps = (await edgeNode.routerRtpCapabilities()) as MediaJson;
    const t = await edgeNode.createViewerTransport({ owner: 's3' });
    const c = await t.consume({ cameraId: CAMERA.id, quality: 'high', rtpCapabilities: caps });
    const closed = new Promise<ViewerConsumerCloseReason>((r) => c.once('close', r));
    const epoch = edgeNode.originOf(CAMERA.id)!.epoch;
    await originNode.close();
    expect(await closed).toBe('resubscribe');
    await until('the edge claiming the camera', () => edgeNode.originOf(CAMERA.id)?.node === edgeNode.nodeId);
    expect(edgeNode.originOf(CAMERA.id)!.epoch).toBeGreaterThan(epoch);
    await until('the camera live on its new origin', () => edgeNode.camera(CAMERA.id)?.state === 'live');
    survivor = edgeNode;
    const again = await t.consume({ cameraId: CAMERA.id, quality: 'high', rtpCapabilities: caps });
    expect(again.closed).toBe(false);
    again.close();
    t.close();
  });

  it('with Redis down keeps serving what it serves, refuses a camera it would need the registry for, and catches up', async () => {
    const other = await node('node-c');
    await until('node-c knowing the origin', () => other.originOf(CAMERA.id)?.node === survivor.nodeId);
    await until('node-c seeing it live', () => other.camera(CAMERA.id)?.state === 'live');
    const caps = (await other.routerRtpCapabilities()) as MediaJson;
    const t = await other.createViewerTransport({ owner: 's4' });
    const piped = await t.consume({ cameraId: CAMERA.id, quality: 'high', rtpCapabilities: caps });

    redis.kill();
    await until('every node seeing Redis down', () => conns.every((c) => !c.up));
    // Already pulled: served without the registry, on the same pipe.
    const second = await t.consume({ cameraId: CAMERA.id, quality: 'low', rtpCapabilities: caps });
    expect(other.pipes.pulled).toBe(1);
    const before = (await other.pipeStats()).pulled[0]!.bytesReceived;
    await until('media still flowing over the pipe', async () => (await other.pipeStats()).pulled[0]!.bytesReceived > before + 10_000);
    piped.close();
    second.close();
    // The pipe is gone with its viewers; a new one needs the registry.
    await expect(t.consume({ cameraId: CAMERA.id, quality: 'high', rtpCapabilities: caps })).rejects.toMatchObject({ code: 'cluster_unavailable' });
    expect(survivor.camera(CAMERA.id)!.state).toBe('live');

    await redis.start();
    await until('node-c piping again after Redis returned', async () => {
      try {
        const c = await t.consume({ cameraId: CAMERA.id, quality: 'high', rtpCapabilities: caps });
        c.close();
        return true;
      } catch {
        return false;
      }
    }, 15_000);
    expect(survivor.originOf(CAMERA.id)?.node).toBe(survivor.nodeId);
    t.close();
  });

  it('Redis losing its data: the node ingesting a camera claims it again, and piped viewers keep their consumers', async () => {
    const other = nodes.find((n) => n.nodeId === 'node-c')!;
    const caps = (await other.routerRtpCapabilities()) as MediaJson;
    const t = await other.createViewerTransport({ owner: 's5' });
    const c = await t.consume({ cameraId: CAMERA.id, quality: 'high', rtpCapabilities: caps });
    let closedWhy: string | undefined;
    c.once('close', (why) => (closedWhy = why));
    const raw = new Redis(redis.url);
    raw.on('error', () => undefined);
    await raw.flushall();
    await until('the camera claimed again', async () => {
      const rec = await raw.get(`vigil:origin:${CAMERA.id}`);
      return rec && (JSON.parse(rec) as { node: string }).node === survivor.nodeId;
    });
    await until('node-c knowing the new record', () => other.originOf(CAMERA.id)?.epoch === 1);
    expect(closedWhy).toBeUndefined();
    const before = (await other.pipeStats()).pulled[0]!.bytesReceived;
    await until('media still flowing over the same pipe', async () => (await other.pipeStats()).pulled[0]!.bytesReceived > before + 3_000, 20_000);
    raw.disconnect();
    expect(closedWhy).toBeUndefined();
    expect(c.closed).toBe(false);
    c.close();
    t.close();
  });
});
