import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { ClusterUnavailableError, connectClusterRedis, describeRedisUrl, reconnectDelayMs, waitForRedis, type ClusterRedis } from '../src/cluster/redis.ts';
import { startRedis, type TestRedis } from '../../test/helpers/redis.ts';

const quiet = pino({ level: 'silent' });

describe('cluster redis connection (real redis-server)', () => {
  let redis: TestRedis;
  let conn: ClusterRedis;
  beforeAll(async () => {
    redis = await startRedis();
    conn = connectClusterRedis(redis.url, quiet);
    await waitForRedis(conn, 5000);
  });
  afterAll(async () => {
    await conn?.close();
    await redis?.stop();
  });

  it('commands and pub/sub run on separate connections', async () => {
    const got = new Promise<string>((resolve) => conn.subscriber.once('message', (_ch: string, m: string) => resolve(m)));
    await conn.subscriber.subscribe('vigil:test');
    await conn.command.set('vigil:k', 'v');
    expect(await conn.command.get('vigil:k')).toBe('v');
    await conn.command.publish('vigil:test', 'hello');
    expect(await got).toBe('hello');
  });

  it('while Redis is down a command fails at once (no offline queue) and assertUp throws; it comes back by itself, data kept (AOF)', async () => {
    const down = new Promise<void>((resolve) => conn.once('down', () => resolve()));
    await redis.pause();
    await down;
    expect(conn.up).toBe(false);
    expect(() => conn.assertUp()).toThrow(ClusterUnavailableError);
    const t0 = performance.now();
    await expect(conn.command.get('vigil:k')).rejects.toThrow();
    expect(performance.now() - t0).toBeLessThan(1000);
    const up = new Promise<void>((resolve) => conn.once('up', () => resolve()));
    await redis.start();
    await up;
    expect(await conn.command.get('vigil:k')).toBe('v');
    // the subscriber re-subscribed by itself
    const got = new Promise<string>((resolve) => conn.subscriber.once('message', (_ch: string, m: string) => resolve(m)));
    await conn.command.publish('vigil:test', 'again');
    expect(await got).toBe('again');
  });

  it('waitForRedis gives up with a typed error', async () => {
    const nowhere = connectClusterRedis('redis://127.0.0.1:1', quiet);
    try {
      await expect(waitForRedis(nowhere, 300)).rejects.toBeInstanceOf(ClusterUnavailableError);
    } finally {
      await nowhere.close();
    }
  });

  it('URLs: the password never reaches the log form; only redis:// and rediss://', () => {
    expect(describeRedisUrl('redis://user:s3cret@10.0.0.5:6380/2')).toBe('redis://10.0.0.5:6380/2');
    expect(describeRedisUrl('redis://:s3cret@r:6379')).toBe('redis://r:6379');
    expect(() => connectClusterRedis('http://r:6379', quiet)).toThrow(TypeError);
    expect([1, 2, 3, 6, 7, 50].map(reconnectDelayMs)).toEqual([100, 200, 400, 2000, 2000, 2000]);
  });
});
