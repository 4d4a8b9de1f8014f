/**
 * Rate limits and the stream quota of a cluster, kept in Redis (the
 * {@link SharedLimits} access control takes): one {@link RedisRateLimiter}
 * per limit, one {@link RedisStreamQuota}. What each does while Redis is
 * unreachable is documented in its file (both fall back to this node's own
 * limit, never to none).
 */
import type { Logger } from 'pino';
import type { SharedLimits } from '../auth/access-control.ts';
import type { BucketConfig, TokenBuckets } from '../auth/rate-limiter.ts';
import type { RateLimitsConfig } from '../config/schema.ts';
import type { ClusterRedis } from './redis.ts';
import { RedisRateLimiter } from './redis-rate-limiter.ts';
import { RedisStreamQuota } from './redis-stream-quota.ts';

/** The shared limits of one node, as the composition root owns them. */
export interface ClusterLimits extends SharedLimits {
  streams: RedisStreamQuota;
  /** Stops the quota heartbeat and removes this node's stream counts from Redis. */
  close(): Promise<void>;
}

/**
 * Builds this node's shared limits: one Redis bucket set per rate limit (made
 * when access control asks for it) and the stream quota (its heartbeat starts now).
 * @param cluster this node's id and the registry timings (config `cluster`): heartbeatMs, nodeTimeoutMs (ms)
 */
export function clusterLimits(
  redis: ClusterRedis,
  cluster: { nodeId: string; heartbeatMs: number; nodeTimeoutMs: number },
  logger: Logger,
): ClusterLimits {
  const streams = new RedisStreamQuota({ redis, nodeId: cluster.nodeId, heartbeatMs: cluster.heartbeatMs, nodeTimeoutMs: cluster.nodeTimeoutMs, logger });
  return {
    streams,
    buckets: (name: keyof RateLimitsConfig, cfg: BucketConfig): TokenBuckets => new RedisRateLimiter(redis, name, cfg, logger),
    close: () => streams.close(),
  };
}
