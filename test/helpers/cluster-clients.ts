/**
 * The cluster's Redis connections (the server's own `connectClusterRedis`:
 * command + subscriber, no offline queue, `up`/`down` events) for tests and
 * benchmarks that run cluster nodes in one process, with a silent logger.
 */
import { pino } from 'pino';
import { connectClusterRedis, type ClusterRedis } from '../../server/src/cluster/redis.ts';

export type TestClusterClients = ClusterRedis;

/** Connects to `url` (reconnecting forever; see server/src/cluster/redis.ts). */
export function clusterClients(url: string): TestClusterClients {
  return connectClusterRedis(url, pino({ level: 'silent' }));
}
