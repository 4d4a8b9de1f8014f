/**
 * The revocation deny list shared by every node of a cluster through Redis
 * (the {@link DenyListShare} of server/src/auth/deny-list.ts).
 *
 * Keys (Redis docs: HSET, HGETALL, PUBLISH, MULTI):
 * - `vigil:deny` hash, field `<kind>:<value>` → the entry as JSON. Durable
 *   with Redis's own persistence (AOF; with `appendfsync everysec` a Redis
 *   crash may lose the last second of writes).
 * - channel `vigil:deny:events`: `{ op: 'add', entry }` / `{ op: 'remove', kind, value }`,
 *   published in the same MULTI as the write, so every subscribed node ends the
 *   sessions an entry names within a pub/sub round trip (well under 1 s).
 *
 * Lifecycle:
 * ```
 *  start ──► up? ──yes──► SUBSCRIBE, HGETALL ─► list.replaceShared (catch-up)
 *             │no                                   ▲
 *             ▼                                     │ 'up' (Redis back)
 *          keep the node's file copy ───────────────┘
 * ```
 * - `vigil:deny:store`: the store's identity, a random id set once (SET NX)
 *   by the first node that writes an empty store. Each node keeps the id it
 *   last caught up with in its deny list file.
 *
 * Pub/sub is fire-and-forget (a message published while a node is cut off is
 * never delivered to it), so every return of Redis is followed by a full
 * catch-up: entries added elsewhere meanwhile are enforced, entries lifted
 * meanwhile are dropped. Dropping is allowed only when the store is the one
 * this node last caught up with: a Redis that comes back empty (no AOF, a lost
 * volume, FLUSHALL, a new Redis) has no or another identity, and the node then
 * MERGES instead: it writes back every entry of its own copy that the store
 * lacks (HSETNX, announced to the others) and lifts nothing. A revocation is
 * only ever lifted by an operator, never by a data loss. While Redis is down the node keeps refusing what it
 * knows, and `add`/`remove` throw ClusterUnavailableError: the admin API
 * answers 503 `cluster_unavailable` and the operator retries. A revocation is
 * never queued: it would be in force on one node of N while the API said it
 * was done, and the queue would die with that node.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { ClusterUnavailableError, type ClusterRedis } from './redis.ts';
import { isDenyEntry, type DenyEntry, type DenyKind, type DenyList, type DenyListShare } from '../auth/deny-list.ts';

export const DENY_KEY = 'vigil:deny';
export const DENY_CHANNEL = 'vigil:deny:events';
export const DENY_STORE_KEY = 'vigil:deny:store';

type DenyEvent = { op: 'add'; entry: DenyEntry } | { op: 'remove'; kind: DenyKind; value: string };

const field = (kind: DenyKind, value: string): string => `${kind}:${value}`;

/** The deny list's share in Redis (see the file head): writes, announcements, catch-up. Owned by the composition root; close() stops following Redis. */
export class RedisDenyList implements DenyListShare {
  readonly #redis: ClusterRedis;
  readonly #list: DenyList;
  readonly #log: Logger;
  #closed = false;
  /** Events received while a catch-up is reading the stored list, replayed after it (else the older read would undo them). */
  #buffered: DenyEvent[] | undefined;

  private constructor(redis: ClusterRedis, list: DenyList, logger: Logger) {
    this.#redis = redis;
    this.#list = list;
    this.#log = logger.child({ component: 'cluster-deny-list' });
  }

  /**
   * Shares `list` through `redis`: subscribes to revocations, catches up with
   * the stored list now (when Redis is up) and at every return of Redis, and
   * makes `list.add`/`remove` go through Redis. Never throws for Redis being
   * down: the list then keeps its file copy until Redis returns.
   */
  static async start(redis: ClusterRedis, list: DenyList, logger: Logger): Promise<RedisDenyList> {
    const shared = new RedisDenyList(redis, list, logger);
    redis.subscriber.on('message', shared.#onMessage);
    redis.on('up', shared.#onUp);
    list.shareWith(shared);
    if (redis.up) await shared.#catchUp();
    else shared.#log.warn({ entries: list.list().length }, 'redis unreachable at start: enforcing this node\'s copy of the deny list until it returns');
    return shared;
  }

  /** {@inheritDoc DenyListShare.add} */
  async add(entry: DenyEntry): Promise<void> {
    this.#redis.assertUp();
    const event: DenyEvent = { op: 'add', entry };
    await this.#exec(
      this.#redis.command
        .multi()
        .hset(DENY_KEY, field(entry.kind, entry.value), JSON.stringify(entry))
        .publish(DENY_CHANNEL, JSON.stringify(event)),
    );
  }

  /** {@inheritDoc DenyListShare.remove} */
  async remove(kind: DenyKind, value: string): Promise<boolean> {
    this.#redis.assertUp();
    const event: DenyEvent = { op: 'remove', kind, value };
    const res = await this.#exec(this.#redis.command.multi().hdel(DENY_KEY, field(kind, value)).publish(DENY_CHANNEL, JSON.stringify(event)));
    return res[0]?.[1] === 1;
  }

  /** Stops following Redis (the list keeps its entries and stops sharing writes only when the process ends). */
  close(): void {
    this.#closed = true;
    this.#redis.subscriber.off('message', this.#onMessage);
    this.#redis.off('up', this.#onUp);
  }

  /** Runs a MULTI; a connection error becomes ClusterUnavailableError (the write did not happen, or not everywhere). */
  async #exec(multi: ReturnType<ClusterRedis['command']['multi']>): Promise<[Error | null, unknown][]> {
    let res: [Error | null, unknown][] | null;
    try {
      res = await multi.exec();
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'deny list write to redis failed');
      throw new ClusterUnavailableError();
    }
    const failed = res?.find(([e]) => e);
    if (!res || failed) throw new ClusterUnavailableError();
    return res;
  }

  readonly #onUp = (): void => {
    this.#catchUp().catch(() => {});
  };

  readonly #onMessage = (channel: string, message: string): void => {
    if (channel !== DENY_CHANNEL || this.#closed) return;
    let ev: DenyEvent;
    try {
      ev = JSON.parse(message) as DenyEvent;
    } catch {
      this.#log.warn('unreadable deny list event ignored');
      return;
    }
    if (this.#buffered) this.#buffered.push(ev);
    this.#apply(ev);
  };

  #apply(ev: DenyEvent): void {
    if (ev.op === 'add' && isDenyEntry(ev.entry)) this.#list.applyShared(ev.entry);
    else if (ev.op === 'remove' && (ev.kind === 'jti' || ev.kind === 'subject') && typeof ev.value === 'string') this.#list.forgetShared(ev.kind, ev.value);
  }

  /** The store's identity and every stored entry, read at one instant (MULTI). */
  async #read(): Promise<[string | null, Record<string, string>]> {
    const res = await this.#exec(this.#redis.command.multi().get(DENY_STORE_KEY).hgetall(DENY_KEY));
    return [res[0]![1] as string | null, (res[1]![1] ?? {}) as Record<string, string>];
  }

  /**
   * The store is not the one this node last caught up with (a new or emptied
   * Redis, or this node's first catch-up): write back what this node holds and
   * the store lacks, announce it, give the store an identity if it has none.
   * @returns the store's identity and entries after the merge
   */
  async #merge(storeId: string | null, stored: Record<string, string>): Promise<[string, Record<string, string>]> {
    const missing = this.#list.list().filter((e) => stored[field(e.kind, e.value)] === undefined);
    const multi = this.#redis.command.multi();
    for (const e of missing) multi.hsetnx(DENY_KEY, field(e.kind, e.value), JSON.stringify(e));
    multi.set(DENY_STORE_KEY, randomUUID(), 'NX').get(DENY_STORE_KEY).hgetall(DENY_KEY);
    const res = await this.#exec(multi);
    const written = missing.filter((_, i) => res[i]![1] === 1);
    for (const entry of written) await this.#redis.command.publish(DENY_CHANNEL, JSON.stringify({ op: 'add', entry } satisfies DenyEvent));
    const id = res[missing.length + 1]![1] as string;
    const after = (res[missing.length + 2]![1] ?? {}) as Record<string, string>;
    if (storeId === null || written.length > 0) {
      this.#log.warn(
        { storeWasEmpty: storeId === null, writtenBack: written.length },
        storeId === null
          ? "redis holds no deny list (a new Redis, or it lost its data): this node's copy was written back, nothing was lifted"
          : "the shared deny list is not the one this node last saw: this node's entries it lacked were written back, nothing was lifted",
      );
    }
    return [id, after];
  }

  /** SUBSCRIBE (idempotent), then read the whole stored list: nothing published in between is missed. */
  async #catchUp(): Promise<void> {
    if (this.#closed) return;
    const buffered: DenyEvent[] = [];
    this.#buffered = buffered;
    try {
      await this.#redis.subscriber.subscribe(DENY_CHANNEL);
      let [storeId, stored] = await this.#read();
      if (storeId === null || storeId !== this.#list.storeId) [storeId, stored] = await this.#merge(storeId, stored);
      const now = Date.now();
      const entries: DenyEntry[] = [];
      const lapsed: string[] = [];
      for (const [f, json] of Object.entries(stored)) {
        let e: unknown;
        try {
          e = JSON.parse(json);
        } catch {
          continue;
        }
        if (!isDenyEntry(e)) continue;
        if (e.expiresAt !== undefined && e.expiresAt <= now) lapsed.push(f);
        else entries.push(e);
      }
      if (lapsed.length > 0) await this.#redis.command.hdel(DENY_KEY, ...lapsed);
      const { added, dropped } = this.#list.replaceShared(entries, storeId);
      // What arrived while reading is newer than the read.
      for (const ev of buffered) this.#apply(ev);
      this.#log.info({ entries: entries.length, added, dropped }, 'deny list caught up with redis');
    } catch (err) {
      // Redis went away again mid-way: the next 'up' retries.
      this.#log.warn({ err: (err as Error).message }, 'deny list catch-up failed; retried when redis returns');
    } finally {
      if (this.#buffered === buffered) this.#buffered = undefined;
    }
  }
}
