/**
 * The cluster's shared control state against a real redis-server: two
 * "nodes" in this process, each with its own Redis connections, deny list
 * file, rate limiters and stream quota. The multi-process version (Vigil
 * processes, admin API, viewers) is test/e2e/cluster-shared-state.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ClusterUnavailableError, connectClusterRedis, waitForRedis, type ClusterRedis } from '../src/cluster/redis.ts';
import { DenyList, type DenyEntry } from '../src/auth/deny-list.ts';
import { DENY_KEY, RedisDenyList } from '../src/cluster/redis-deny-list.ts';
import { RedisRateLimiter } from '../src/cluster/redis-rate-limiter.ts';
import { RedisStreamQuota } from '../src/cluster/redis-stream-quota.ts';
import { startRedis, type TestRedis } from '../../test/helpers/redis.ts';

const quiet = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'vigil-cluster-state-'));

let redis: TestRedis;
const conns: ClusterRedis[] = [];

async function connect(): Promise<ClusterRedis> {
  const c = connectClusterRedis(redis.url, quiet);
  conns.push(c);
  await waitForRedis(c, 5000);
  return c;
}

async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - t0;
}

async function restartRedis(): Promise<void> {
  const down = Promise.all(conns.filter((c) => c.up).map((c) => new Promise<void>((r) => c.once('down', () => r()))));
  await redis.pause();
  await down;
}

async function redisBack(): Promise<void> {
  await redis.start();
  await Promise.all(conns.map((c) => waitForRedis(c, 10_000)));
}

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await Promise.all(conns.map((c) => c.close()));
  await redis?.stop();
});

describe('deny list shared through redis', () => {
  let a: DenyList;
  let b: DenyList;
  let shareA: RedisDenyList;
  const addedOnB: DenyEntry[] = [];

  beforeAll(async () => {
    a = await DenyList.open(join(dir, 'a.json'), quiet);
    b = await DenyList.open(join(dir, 'b.json'), quiet);
    shareA = await RedisDenyList.start(await connect(), a, quiet);
    await RedisDenyList.start(await connect(), b, quiet);
    b.on('added', (e) => addedOnB.push(e));
  });

  it('a revocation on one node is enforced on the other within 1 s (pub/sub), and lifted likewise', async () => {
    await a.add({ kind: 'subject', value: 'mallory' });
    const ms = await until(() => b.match({ subject: 'mallory', tokenIds: [] }) !== undefined, 1000, 'revocation on b');
    expect(ms).toBeLessThan(1000);
    expect(addedOnB.map((e) => e.value)).toEqual(['mallory']);
    await a.add({ kind: 'jti', value: 'tok-1' });
    await until(() => b.match({ subject: 'x', tokenIds: ['tok-1'] }) !== undefined, 1000, 'jti on b');
    expect(await a.remove('jti', 'tok-1')).toBe(true);
    await until(() => b.match({ subject: 'x', tokenIds: ['tok-1'] }) === undefined, 1000, 'lift on b');
    expect(a.match({ subject: 'x', tokenIds: ['tok-1'] })).toBeUndefined();
  });

  it('a node that missed the announcement catches up when its connection returns', async () => {
    // Stored without being announced (as if published while b was cut off).
    const missed: DenyEntry = { kind: 'subject', value: 'eve', createdAt: Date.now() };
    const probe = await connect();
    await probe.command.hset(DENY_KEY, 'subject:eve', JSON.stringify(missed));
    expect(b.match({ subject: 'eve', tokenIds: [] })).toBeUndefined();
    // Drop every subscriber connection: each node reconnects and catches up.
    await probe.command.client('KILL', 'TYPE', 'pubsub');
    await until(() => b.match({ subject: 'eve', tokenIds: [] }) !== undefined, 5000, 'catch-up on b');
    expect(addedOnB.some((e) => e.value === 'eve')).toBe(true);
  });

  it('Redis down: known entries keep being refused, a new revocation is refused with cluster_unavailable (nothing changes); Redis restart keeps the list (AOF)', async () => {
    await restartRedis();
    expect(b.match({ subject: 'mallory', tokenIds: [] })).toBeDefined();
    const err = await a.add({ kind: 'subject', value: 'trudy' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterUnavailableError);
    expect((err as ClusterUnavailableError).code).toBe('cluster_unavailable');
    expect(a.match({ subject: 'trudy', tokenIds: [] })).toBeUndefined();
    await expect(a.remove('subject', 'mallory')).rejects.toBeInstanceOf(ClusterUnavailableError);
    expect(a.match({ subject: 'mallory', tokenIds: [] })).toBeDefined();
    await redisBack();
    // After the restart the stored list is intact and writes work again.
    await a.add({ kind: 'subject', value: 'trudy' });
    await until(() => b.match({ subject: 'trudy', tokenIds: [] }) !== undefined, 1000, 'trudy on b');
    expect(b.match({ subject: 'mallory', tokenIds: [] })).toBeDefined();
  });

  it('a restarted node starts from its file and catches up: entries added meanwhile are enforced, lifted ones dropped', async () => {
    shareA.close();
    await b.remove('subject', 'trudy');
    await b.add({ kind: 'subject', value: 'oscar' });
    await a.flush();
    const again = await DenyList.open(join(dir, 'a.json'), quiet);
    expect(again.match({ subject: 'trudy', tokenIds: [] })).toBeDefined();
    expect(again.match({ subject: 'oscar', tokenIds: [] })).toBeUndefined();
    await RedisDenyList.start(await connect(), again, quiet);
    expect(again.match({ subject: 'oscar', tokenIds: [] })).toBeDefined();
    expect(again.match({ subject: 'trudy', tokenIds: [] })).toBeUndefined();
    expect(again.match({ subject: 'mallory', tokenIds: [] })).toBeDefined();
  });

  it('a Redis that comes back empty (lost data, FLUSHALL, a new Redis) lifts nothing: the nodes write their copies back', async () => {
    expect(b.match({ subject: 'mallory', tokenIds: [] })).toBeDefined();
    const probe = await connect();
    await probe.command.flushall();
    // Every node reconnects its subscriber and catches up with the empty store.
    await probe.command.client('KILL', 'TYPE', 'pubsub');
    await until(async () => (await probe.command.hget(DENY_KEY, 'subject:mallory')) !== null, 5000, 'mallory written back');
    await new Promise((r) => setTimeout(r, 300));
    expect(b.match({ subject: 'mallory', tokenIds: [] })).toBeDefined();
    expect(b.match({ subject: 'oscar', tokenIds: [] })).toBeDefined();
    expect(await probe.command.hget(DENY_KEY, 'subject:oscar')).not.toBeNull();
    // A node that starts now, with no file of its own, learns them from the store.
    const fresh = await DenyList.open(join(dir, 'fresh.json'), quiet);
    await RedisDenyList.start(await connect(), fresh, quiet);
    expect(fresh.match({ subject: 'mallory', tokenIds: [] })).toBeDefined();
    // And a lift by an operator still lifts everywhere.
    expect(await fresh.remove('subject', 'oscar')).toBe(true);
    await until(() => b.match({ subject: 'oscar', tokenIds: [] }) === undefined, 1000, 'oscar lifted on b');
  });
});

describe('rate limits shared through redis', () => {
  it('two nodes draw from one bucket; Redis down: each node falls back to its own bucket (no throw)', async () => {
    const cfg = { burst: 3, perSec: 0.01 };
    const a = new RedisRateLimiter(await connect(), 'joinPerIp', cfg, quiet);
    const b = new RedisRateLimiter(await connect(), 'joinPerIp', cfg, quiet);
    expect([await a.take('198.51.100.7'), await b.take('198.51.100.7'), await a.take('198.51.100.7')]).toEqual([true, true, true]);
    expect(await b.take('198.51.100.7')).toBe(false);
    expect(await a.take('198.51.100.7')).toBe(false);
    expect(await b.take('198.51.100.8')).toBe(true);
    await restartRedis();
    // Per node: a fresh local bucket of 3 each.
    const local = [];
    for (let i = 0; i < 4; i++) local.push(await a.take('198.51.100.7'));
    expect(local).toEqual([true, true, true, false]);
    await redisBack();
    // The shared bucket is back (persisted through the restart): still empty.
    expect(await b.take('198.51.100.7')).toBe(false);
  });
});

describe('stream quota shared through redis', () => {
  const timing = { heartbeatMs: 200, nodeTimeoutMs: 600 };

  it('a subject at maxStreams on node A is refused on node B; a release frees the slot', async () => {
    const a = new RedisStreamQuota({ redis: await connect(), nodeId: 'a', ...timing, logger: quiet });
    const b = new RedisStreamQuota({ redis: await connect(), nodeId: 'b', ...timing, logger: quiet });
    const release = await a.acquire('alice', 1);
    expect(release).toBeTypeOf('function');
    expect(await b.acquire('alice', 1)).toBeUndefined();
    expect(await b.count('alice')).toBe(1);
    const other = await b.acquire('bob', 1);
    expect(other).toBeTypeOf('function');
    release!();
    release!();
    await until(async () => (await b.count('alice')) === 0, 1000, 'release seen on b');
    const onB = await b.acquire('alice', 1);
    expect(onB).toBeTypeOf('function');
    expect(await a.acquire('alice', 1)).toBeUndefined();
    onB!();
    other!();
    await a.close();
    await b.close();
  });

  it('a node that stops heartbeating (dead) loses its slots after nodeTimeoutMs', async () => {
    const deadConn = await connect();
    const dead = new RedisStreamQuota({ redis: deadConn, nodeId: 'dead', ...timing, logger: quiet });
    const b = new RedisStreamQuota({ redis: await connect(), nodeId: 'b2', ...timing, logger: quiet });
    expect(await dead.acquire('carol', 1)).toBeTypeOf('function');
    expect(await b.acquire('carol', 1)).toBeUndefined();
    // As kill -9: connections gone, no clean-up, no more heartbeats.
    deadConn.command.disconnect();
    deadConn.subscriber.disconnect();
    conns.splice(conns.indexOf(deadConn), 1);
    const t0 = performance.now();
    await until(async () => (await b.acquire('carol', 1)) !== undefined, 5000, "the dead node's slot");
    expect(performance.now() - t0).toBeGreaterThan(timing.nodeTimeoutMs - 300);
    await b.close();
  });

  it('Redis down: each node enforces maxStreams on its own count; when Redis returns the counts are written back', async () => {
    const a = new RedisStreamQuota({ redis: await connect(), nodeId: 'a3', ...timing, logger: quiet });
    const b = new RedisStreamQuota({ redis: await connect(), nodeId: 'b3', ...timing, logger: quiet });
    await restartRedis();
    const held = await a.acquire('dave', 1);
    expect(held).toBeTypeOf('function');
    expect(await a.acquire('dave', 1)).toBeUndefined();
    await redisBack();
    await until(async () => (await b.count('dave')) === 1, 3000, 'resync of a');
    expect(await b.acquire('dave', 1)).toBeUndefined();
    held!();
    await until(async () => (await b.count('dave')) === 0, 3000, 'release after resync');
    await a.close();
    await b.close();
  });
});
