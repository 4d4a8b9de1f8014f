/**
 * Camera assignment against a real redis-server: the Lua claim is a
 * compare-and-set (of racing nodes exactly one wins, a stale read loses) with
 * a fencing epoch that only grows; the plan spreads orphaned cameras by load
 * and is the same on every node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { claimOrigin, planOrphans, readOrigins, releaseOrigin, type NodeRecord } from '@vigil/gateway/internals';
import { startRedis, type TestRedis } from '../helpers/redis.ts';

const node = (id: string, ingestStreams: number, cpu = 0): NodeRecord => ({
  id,
  address: '10.0.0.1',
  at: 0,
  rpcSubscribed: true,
  load: { workerCpu: [cpu], consumers: 0, ingestStreams, egressBps: 0 },
  cameras: {},
});

describe('camera assignment (real Redis)', () => {
  let redis: TestRedis;
  let a: Redis;
  let b: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    a = new Redis(redis.url);
    b = new Redis(redis.url);
  });
  afterAll(async () => {
    a?.disconnect();
    b?.disconnect();
    await redis?.stop();
  });

  it('lets exactly one of many racing nodes claim an orphan, with a growing epoch', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => claimOrigin(i % 2 ? a : b, 'cam-1', `n${i}`, '')));
    const winners = results.filter((r) => r !== undefined);
    expect(winners).toHaveLength(1);
    const read = (await readOrigins(a, ['cam-1', 'cam-x'])).get('cam-1')!;
    expect(read.node).toBe(winners[0]!.node);
    expect(read.epoch).toBe(1);
    expect(read.raw).toBe(winners[0]!.raw);
    // A node that read the record before it changed cannot take it.
    expect(await claimOrigin(a, 'cam-1', 'late', '')).toBeUndefined();
    // Taking over from the (dead) owner it read: the epoch grows.
    const next = await claimOrigin(b, 'cam-1', 'n-new', read.raw);
    expect(next).toMatchObject({ node: 'n-new', epoch: 2 });
    expect(await claimOrigin(a, 'cam-1', 'other', read.raw)).toBeUndefined();
    // Release only by the current record.
    await releaseOrigin(a, 'cam-1', read.raw);
    expect((await readOrigins(a, ['cam-1'])).get('cam-1')?.node).toBe('n-new');
    await releaseOrigin(a, 'cam-1', next!.raw);
    expect((await readOrigins(a, ['cam-1'])).size).toBe(0);
    // A camera claimed again after release keeps counting epochs (fencing tokens never repeat).
    expect((await claimOrigin(a, 'cam-1', 'n0', ''))?.epoch).toBe(3);
  });

  it('plans orphans onto the least-loaded nodes, counting what it planned, the same on every node', () => {
    const nodes = [node('c', 0), node('a', 4), node('b', 0, 0.5)];
    const plan = planOrphans(['x3', 'x1', 'x2', 'x4'], nodes, () => 1);
    // c (0 streams, no CPU) first, then b (0 streams, busier), then c and b again before a (4).
    expect(Object.fromEntries(plan)).toEqual({ x1: 'c', x2: 'b', x3: 'c', x4: 'b' });
    expect(planOrphans(['x4', 'x2', 'x3', 'x1'], [...nodes].reverse(), () => 1)).toEqual(plan);
    expect(planOrphans(['x1'], [], () => 1).size).toBe(0);
  });
});
