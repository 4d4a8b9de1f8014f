/**
 * Token buckets shared by every node of a cluster: the same algorithm as
 * {@link RateLimiter} (burst, continuous refill at perSec), kept in Redis so a
 * client whose requests a load balancer spreads over N nodes gets one budget,
 * not N.
 *
 * One bucket = hash `vigil:rl:<limit>:<key>` `{ tokens, at }`, updated by one
 * Lua script (atomic: Redis runs a script with nothing interleaved, Redis docs
 * "Scripting with Lua") on Redis's clock (`TIME`, so node clocks do not
 * matter), expiring once it would be full again (PEXPIRE), so idle keys cost
 * no memory. One round trip per `take`.
 *
 * Redis down (or a call failing): the limit falls back to this node's own
 * bucket for the key (a {@link RateLimiter}), i.e. it fails open to the
 * per-node limit, never to no limit: at most N times the budget across N
 * nodes while Redis is away, and no viewer is locked out by a coordination
 * outage. Back to Redis as soon as it is up again.
 */
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import { RateLimiter, type BucketConfig, type TokenBuckets } from '../auth/rate-limiter.ts';
import type { ClusterRedis } from './redis.ts';

export const RATE_LIMIT_PREFIX = 'vigil:rl:';

/** KEYS[1] bucket; ARGV burst, perSec. Returns 1 (taken) or 0 (empty). */
const TAKE_LUA = `
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1])
local at = tonumber(b[2])
if tokens == nil or at == nil then tokens = burst; at = now end
tokens = math.min(burst, tokens + math.max(0, now - at) / 1000 * rate)
local ok = 0
if tokens >= 1 then tokens = tokens - 1; ok = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return ok
`;

interface TakeCommand {
  vigilTakeToken(key: string, burst: number, perSec: number): Promise<number>;
}

const defined = new WeakSet<Redis>();

/** The command client with the bucket script defined on it (EVALSHA, EVAL on NOSCRIPT: ioredis defineCommand). */
function withTake(client: Redis): Redis & TakeCommand {
  if (!defined.has(client)) {
    client.defineCommand('vigilTakeToken', { numberOfKeys: 1, lua: TAKE_LUA });
    defined.add(client);
  }
  return client as Redis & TakeCommand;
}

/** One rate limit's token buckets in Redis (see the file head), with this node's own buckets as the fallback while Redis is unreachable. */
export class RedisRateLimiter implements TokenBuckets {
  readonly #redis: ClusterRedis;
  readonly #name: string;
  readonly #cfg: BucketConfig;
  readonly #local: RateLimiter;
  readonly #log: Logger;
  #warned = false;

  /**
   * @param name the limit's name (config key, e.g. `joinPerIp`), part of the Redis key
   * @param cfg burst and refill rate (actions/s)
   */
  constructor(redis: ClusterRedis, name: string, cfg: BucketConfig, logger: Logger) {
    this.#redis = redis;
    this.#name = name;
    this.#cfg = cfg;
    this.#local = new RateLimiter(cfg);
    this.#log = logger.child({ component: 'cluster-rate-limit', limit: name });
  }

  /**
   * Takes one token for `key` from the cluster's bucket (this node's while Redis is unreachable).
   * @returns false when the bucket is empty
   */
  async take(key: string): Promise<boolean> {
    if (!this.#redis.up) return this.#fallback(key, undefined);
    try {
      const taken = (await withTake(this.#redis.command).vigilTakeToken(RATE_LIMIT_PREFIX + this.#name + ':' + key, this.#cfg.burst, this.#cfg.perSec)) === 1;
      // Logged once per outage: the next outage warns again.
      this.#warned = false;
      return taken;
    } catch (err) {
      return this.#fallback(key, err as Error);
    }
  }

  #fallback(key: string, err: Error | undefined): boolean {
    if (!this.#warned) {
      this.#warned = true;
      this.#log.warn({ err: err?.message }, 'redis unreachable: rate limit enforced per node until it returns');
    }
    return this.#local.take(key);
  }
}
