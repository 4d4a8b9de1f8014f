/**
 * The cluster's connection to Redis, the coordination engine every node
 * shares (node registry, camera assignment, deny list, shared limits).
 *
 * Two ioredis connections to one server: `command` runs commands (MULTI,
 * EVALSHA), `subscriber` only (P)SUBSCRIBEs, because a connection in
 * subscribed mode may issue nothing but (P)(UN)SUBSCRIBE, PING and QUIT
 * (Redis docs, "Pub/Sub": "a client subscribed to one or more channels
 * shouldn't issue commands"). Both reconnect forever with capped backoff.
 * The offline queue is off, so a command sent while Redis is unreachable
 * rejects at once instead of hanging a viewer's request until Redis returns:
 * callers turn that into {@link ClusterUnavailableError} (or check
 * {@link ClusterRedis.assertUp} first). ioredis re-subscribes the subscriber
 * connection's channels after a reconnect (`autoResubscribe`, default on).
 *
 * The URL's password is never logged: only host, port and db are.
 */
import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** Something needs Redis (the registry, a shared limit) while it is unreachable. */
export class ClusterUnavailableError extends Error {
  readonly code = 'cluster_unavailable' as const;
  constructor(message = 'the cluster registry (Redis) is unreachable') {
    super(message);
    this.name = 'ClusterUnavailableError';
  }
}

export interface ClusterRedisEvents {
  /** Both connections are ready (again). */
  up: [];
  /** A connection was lost; emitted once per outage. */
  down: [error: Error];
}

export interface ClusterRedis extends EventEmitter<ClusterRedisEvents> {
  /** For commands (and MULTI / Lua scripts). */
  readonly command: Redis;
  /** For SUBSCRIBE / PSUBSCRIBE only. */
  readonly subscriber: Redis;
  /** True while both connections are ready. */
  readonly up: boolean;
  /** @throws ClusterUnavailableError while {@link up} is false */
  assertUp(): void;
  /** Closes both connections (QUIT, then disconnect). Idempotent. */
  close(): Promise<void>;
}

/** Reconnect backoff: 100 ms doubling, capped at 2 s (ms). */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(2000, 100 * 2 ** Math.max(0, Math.min(attempt - 1, 5)));
}

/** `redis://host:port/db` without userinfo, for logs. */
export function describeRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '(invalid redis url)';
  }
}

class Connection extends EventEmitter<ClusterRedisEvents> implements ClusterRedis {
  readonly command: Redis;
  readonly subscriber: Redis;
  readonly #log: Logger;
  #wasUp = false;
  #closed: Promise<void> | undefined;

  constructor(url: string, logger: Logger) {
    super();
    this.#log = logger.child({ component: 'cluster-redis', redis: describeRedisUrl(url) });
    const options = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: reconnectDelayMs,
      connectTimeout: 2000,
      lazyConnect: false,
    };
    this.command = new Redis(url, { ...options, connectionName: 'vigil-command' });
    this.subscriber = new Redis(url, { ...options, connectionName: 'vigil-subscriber' });
    for (const conn of [this.command, this.subscriber]) {
      conn.on('ready', () => this.#update());
      conn.on('end', () => this.#update());
      conn.on('close', () => this.#update());
      // ioredis emits 'error' for every failed reconnect attempt; without a
      // listener it would be an uncaught exception. State changes are logged by #update.
      conn.on('error', (err: Error) => this.#update(err));
    }
  }

  get up(): boolean {
    return this.command.status === 'ready' && this.subscriber.status === 'ready';
  }

  assertUp(): void {
    if (!this.up) throw new ClusterUnavailableError();
  }

  #update(err?: Error): void {
    if (this.#closed) return;
    const up = this.up;
    if (up === this.#wasUp) return;
    this.#wasUp = up;
    if (up) {
      this.#log.info('redis up');
      this.emit('up');
    } else {
      const error = err ?? new ClusterUnavailableError('redis connection closed');
      this.#log.warn({ err: { message: error.message } }, 'redis down: serving what this node serves, refusing what needs the registry');
      this.emit('down', error);
    }
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      await Promise.all(
        [this.command, this.subscriber].map(async (c) => {
          try {
            if (c.status === 'ready') await c.quit();
          } catch {
            // already gone: disconnect below
          }
          c.disconnect(false);
        }),
      );
    })();
    return this.#closed;
  }
}

/**
 * Connects to the cluster's Redis (returns at once; watch `up` / the events).
 * @param url `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS)
 * @throws TypeError for a URL that is not redis:// or rediss://
 */
export function connectClusterRedis(url: string, logger: Logger): ClusterRedis {
  const protocol = URL.canParse(url) ? new URL(url).protocol : '';
  if (protocol !== 'redis:' && protocol !== 'rediss:') throw new TypeError('cluster.redisUrl must be a redis:// or rediss:// URL');
  return new Connection(url, logger);
}

/**
 * Waits until `redis` is up.
 * @param timeoutMs give up after this long (ms)
 * @throws ClusterUnavailableError on timeout
 */
export async function waitForRedis(redis: ClusterRedis, timeoutMs: number): Promise<void> {
  if (redis.up) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('up', onUp);
      reject(new ClusterUnavailableError(`the cluster registry (Redis) did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const onUp = (): void => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('up', onUp);
  });
}
