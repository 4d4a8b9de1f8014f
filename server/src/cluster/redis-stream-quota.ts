/**
 * The per-subject stream quota (`maxStreams`) shared by every node of a
 * cluster: a subject watching on node A and node B holds one budget.
 *
 * Keys (one Lua script per call, atomic; Redis docs "Scripting with Lua"):
 * - `vigil:streams:<subject>` hash, field = a node incarnation
 *   (`<nodeId>/<random per process start>`) → streams it holds for the subject.
 * - `vigil:streams-alive` hash, field = incarnation → until when (ms, Redis's
 *   clock) it counts. Each node refreshes its own every `heartbeatMs` to
 *   now + `nodeTimeoutMs`.
 *
 * A node that dies (kill -9, cut off) stops refreshing: once its deadline
 * passes, its fields no longer count and the next acquire for that subject
 * deletes them, so its slots come back after at most `nodeTimeoutMs`. A node
 * restarted under the same node id has a new incarnation, so it never
 * resurrects its predecessor's counts.
 *
 * The node always knows its own holdings (this process's count per subject).
 * Redis down (or a call failing): acquire falls back to that local count
 * (at most `maxStreams` on this node: fail open to the per-node limit, never
 * to no limit, so watching keeps working through a coordination outage), and
 * when Redis is back (or this node's deadline had lapsed) the node writes its
 * holdings again (resync), so the shared counts converge to the truth.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { StreamSlots } from '../auth/stream-quota.ts';
import type { ClusterRedis } from './redis.ts';

export const STREAMS_PREFIX = 'vigil:streams:';
export const STREAMS_ALIVE_KEY = 'vigil:streams-alive';

/** Redis's clock in ms. */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * KEYS[1] subject hash, KEYS[2] alive hash; ARGV incarnation, max (-1: none),
 * ttl ms, take (1: reserve one, 0: count only). Returns the live total after
 * (-1 when refused). Drops the fields of lapsed incarnations it meets.
 */
const ACQUIRE_LUA = `${NOW}
redis.call('HSET', KEYS[2], ARGV[1], now + tonumber(ARGV[3]))
local fields = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #fields, 2 do
  local until_ = tonumber(redis.call('HGET', KEYS[2], fields[i]) or '0')
  if until_ < now then redis.call('HDEL', KEYS[1], fields[i]) else total = total + tonumber(fields[i + 1]) end
end
if ARGV[4] == '0' then return total end
local max = tonumber(ARGV[2])
if max >= 0 and total >= max then return -1 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
return total + 1
`;

/** KEYS[1] subject hash; ARGV incarnation. */
const RELEASE_LUA = `
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return n
`;

/**
 * KEYS[1] alive hash; ARGV incarnation, ttl ms. Refreshes this node's
 * deadline, drops lapsed incarnations. Returns 1 when this node's previous
 * deadline had lapsed or was missing (others may have dropped its counts: resync).
 */
const HEARTBEAT_LUA = `${NOW}
local prev = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if tonumber(all[i + 1]) < now then redis.call('HDEL', KEYS[1], all[i]) end
end
redis.call('HSET', KEYS[1], ARGV[1], now + tonumber(ARGV[2]))
if prev < now then return 1 end
return 0
`;

interface QuotaCommands {
  vigilStreamAcquire(subjectKey: string, aliveKey: string, inc: string, max: number, ttlMs: number, take: 0 | 1): Promise<number>;
  vigilStreamRelease(subjectKey: string, inc: string): Promise<number>;
  vigilStreamHeartbeat(aliveKey: string, inc: string, ttlMs: number): Promise<number>;
}

const defined = new WeakSet<Redis>();

function commands(client: Redis): Redis & QuotaCommands {
  if (!defined.has(client)) {
    client.defineCommand('vigilStreamAcquire', { numberOfKeys: 2, lua: ACQUIRE_LUA });
    client.defineCommand('vigilStreamRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
    client.defineCommand('vigilStreamHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT_LUA });
    defined.add(client);
  }
  return client as Redis & QuotaCommands;
}

export interface RedisStreamQuotaOptions {
  redis: ClusterRedis;
  /** This node's id (config `cluster.nodeId`). */
  nodeId: string;
  /** How often this node refreshes its deadline, ms (config `cluster.heartbeatMs`). */
  heartbeatMs: number;
  /** How long a silent node's slots still count, ms (config `cluster.nodeTimeoutMs`). */
  nodeTimeoutMs: number;
  logger: Logger;
}

/**
 * The `maxStreams` quota in Redis (see the file head). Starts its heartbeat at
 * construction (every `heartbeatMs`, timer unref'd); close() stops it and
 * removes this node's counts.
 */
export class RedisStreamQuota implements StreamSlots {
  /** `<nodeId>/<random>`: this process's field in the shared hashes. */
  readonly incarnation: string;
  readonly #o: RedisStreamQuotaOptions;
  readonly #log: Logger;
  /** Streams this process holds, per subject (the truth a resync writes back). */
  readonly #held = new Map<string, number>();
  /** Subjects whose shared count may differ from #held (a write failed or Redis was down). */
  readonly #dirty = new Set<string>();
  readonly #timer: NodeJS.Timeout;
  #resyncing: Promise<void> | undefined;
  #closed = false;

  constructor(opts: RedisStreamQuotaOptions) {
    this.#o = opts;
    this.incarnation = `${opts.nodeId}/${randomBytes(6).toString('hex')}`;
    this.#log = opts.logger.child({ component: 'cluster-stream-quota' });
    this.#timer = setInterval(() => void this.#heartbeat(), opts.heartbeatMs);
    this.#timer.unref();
    opts.redis.on('up', this.#onUp);
    if (opts.redis.up) void this.#heartbeat();
  }

  /**
   * Reserves one stream for `subject` across the cluster (on this node only,
   * against this node's count, while Redis is unreachable).
   * @param max the subject's limit; undefined = no limit (still counted)
   * @returns a release function (idempotent), or undefined when the limit is reached
   */
  async acquire(subject: string, max: number | undefined): Promise<(() => void) | undefined> {
    let granted: boolean;
    if (this.#o.redis.up) {
      try {
        const total = await commands(this.#o.redis.command).vigilStreamAcquire(
          STREAMS_PREFIX + subject,
          STREAMS_ALIVE_KEY,
          this.incarnation,
          max ?? -1,
          this.#o.nodeTimeoutMs,
          1,
        );
        granted = total >= 0;
      } catch (err) {
        granted = this.#fallback(subject, max, err as Error);
      }
    } else {
      granted = this.#fallback(subject, max, undefined);
    }
    if (!granted) return undefined;
    this.#held.set(subject, (this.#held.get(subject) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#release(subject);
    };
  }

  /** Streams `subject` holds on every live node (this node's own count while Redis is unreachable). */
  async count(subject: string): Promise<number> {
    if (this.#o.redis.up) {
      try {
        return await commands(this.#o.redis.command).vigilStreamAcquire(STREAMS_PREFIX + subject, STREAMS_ALIVE_KEY, this.incarnation, -1, this.#o.nodeTimeoutMs, 0);
      } catch {
        // fall through to this node's count
      }
    }
    return this.#held.get(subject) ?? 0;
  }

  /** Stops the heartbeat and removes this node's counts and deadline (its viewers are gone). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#o.redis.off('up', this.#onUp);
    if (!this.#o.redis.up) return;
    const m = this.#o.redis.command.multi();
    for (const subject of new Set([...this.#held.keys(), ...this.#dirty])) m.hdel(STREAMS_PREFIX + subject, this.incarnation);
    m.hdel(STREAMS_ALIVE_KEY, this.incarnation);
    await m.exec().catch(() => {});
  }

  #fallback(subject: string, max: number | undefined, err: Error | undefined): boolean {
    if (this.#dirty.size === 0) this.#log.warn({ err: err?.message }, 'redis unreachable: stream quota enforced per node until it returns');
    this.#dirty.add(subject);
    return max === undefined || (this.#held.get(subject) ?? 0) < max;
  }

  #release(subject: string): void {
    const left = (this.#held.get(subject) ?? 1) - 1;
    if (left <= 0) this.#held.delete(subject);
    else this.#held.set(subject, left);
    if (!this.#o.redis.up || this.#dirty.has(subject)) {
      this.#dirty.add(subject);
      return;
    }
    commands(this.#o.redis.command)
      .vigilStreamRelease(STREAMS_PREFIX + subject, this.incarnation)
      .catch(() => this.#dirty.add(subject));
  }

  readonly #onUp = (): void => {
    void this.#resync();
  };

  async #heartbeat(): Promise<void> {
    if (this.#closed || !this.#o.redis.up) return;
    try {
      const lapsed = await commands(this.#o.redis.command).vigilStreamHeartbeat(STREAMS_ALIVE_KEY, this.incarnation, this.#o.nodeTimeoutMs);
      if ((lapsed === 1 && this.#held.size > 0) || this.#dirty.size > 0) await this.#resync();
    } catch {
      // Redis away: the 'up' event resyncs.
    }
  }

  /** Writes this node's holdings for every subject it holds or may be wrong about. */
  #resync(): Promise<void> {
    this.#resyncing ??= (async () => {
      try {
        const subjects = new Set([...this.#held.keys(), ...this.#dirty]);
        if (this.#closed || subjects.size === 0 || !this.#o.redis.up) return;
        await commands(this.#o.redis.command).vigilStreamHeartbeat(STREAMS_ALIVE_KEY, this.incarnation, this.#o.nodeTimeoutMs);
        const m = this.#o.redis.command.multi();
        for (const subject of subjects) {
          const n = this.#held.get(subject) ?? 0;
          if (n > 0) m.hset(STREAMS_PREFIX + subject, this.incarnation, String(n));
          else m.hdel(STREAMS_PREFIX + subject, this.incarnation);
        }
        const res = await m.exec();
        if (res && !res.some(([e]) => e)) {
          for (const s of subjects) this.#dirty.delete(s);
          this.#log.info({ subjects: subjects.size }, 'stream quota resynced with redis');
        }
      } catch (err) {
        this.#log.warn({ err: (err as Error).message }, 'stream quota resync failed; retried when redis returns');
      } finally {
        this.#resyncing = undefined;
      }
    })();
    return this.#resyncing;
  }
}
