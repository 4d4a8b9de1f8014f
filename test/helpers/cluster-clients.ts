/**
 * The two Redis connections a ClusterMedia takes, for tests and benchmarks
 * that run cluster nodes in one process: ioredis without an offline queue
 * (a command while Redis is down rejects at once), reconnecting every 100 ms,
 * with the `up`/`down` events of the server's ClusterRedis.
 */
import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import type { ClusterRedisClients } from '@vigil/gateway';

export type TestClusterClients = ClusterRedisClients & { close(): void };

/** Two ioredis connections with the up/down events ClusterMedia listens to (the server's ClusterRedis does the same). */
export function clusterClients(url: string): TestClusterClients {
  const o = { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 100, lazyConnect: false };
  const command = new Redis(url, o);
  const subscriber = new Redis(url, o);
  const ev = new EventEmitter();
  let up = false;
  const check = (): void => {
    const now = command.status === 'ready' && subscriber.status === 'ready';
    if (now !== up) {
      up = now;
      ev.emit(now ? 'up' : 'down', new Error('redis connection lost'));
    }
  };
  for (const c of [command, subscriber]) {
    c.on('ready', check);
    c.on('close', check);
    c.on('error', () => undefined);
  }
  Object.defineProperty(ev, 'up', { get: () => up });
  return Object.assign(ev, {
    command,
    subscriber,
    close() {
      command.disconnect();
      subscriber.disconnect();
    },
  }) as unknown as TestClusterClients;
}

