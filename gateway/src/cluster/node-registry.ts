/**
 * The node registry in Redis: each node's heartbeat (`vigil:node:<id>`, JSON
 * {@link NodeRecord} written with `SET ... PX nodeTimeoutMs`, Redis docs: SET)
 * and which nodes are alive.
 *
 * A node is alive while its key exists and, once it has said its request
 * channel is subscribed, while that channel has a subscriber (`PUBSUB NUMSUB`,
 * Redis docs). The key's TTL catches a network cut after `nodeTimeoutMs`; the
 * subscriber count catches a killed process at the next poll, because the
 * kernel closes a dead process's socket and Redis drops its subscriptions at
 * once. LiveKit's Redis router (pkg/routing) judges a node by the age of its
 * stats alone; this is the part of failover done better here.
 *
 * Right after Redis itself (re)starts every node is reconnecting (with
 * backoff) and re-subscribing: until {@link SETTLE_EXTRA_MS} + `nodeTimeoutMs`
 * after Redis started (its `uptime_in_seconds`, Redis docs: INFO), a listed
 * node without a key or a subscriber is `unknown`, neither alive nor dead, so
 * nothing it ingests is taken from it before it had the chance to write its
 * heartbeat again. A node that merely (re)connects to a Redis that kept
 * running judges at once: the others' keys and subscriptions are current.
 */
import type { Logger } from 'pino';
import { KEY, type ClusterMediaSettings, type ClusterRedisClients, type NodeRecord } from './cluster-types.ts';

/** Reconnecting nodes may be this much later than this one (the cluster Redis connection's backoff cap), ms. */
export const SETTLE_EXTRA_MS = 2000;

/** Who is alive, read in one round trip. */
export interface RegistrySnapshot {
  /** Live nodes by id. */
  live: Map<string, NodeRecord>;
  /** Listed nodes found dead (key gone, or subscriber gone). */
  dead: string[];
  /** Listed nodes without a key or subscriber while the cluster settles after Redis came back: keep their cameras. */
  unknown: Set<string>;
}

export class NodeRegistry {
  readonly #redis: ClusterRedisClients;
  readonly #s: ClusterMediaSettings;
  readonly #log: Logger;
  /** Before this time (ms since epoch) a missing subscriber is not taken as death. */
  #settledAt: number;
  /** When each node was last seen alive, ms since epoch (a node that vanished from the list is unknown for `nodeTimeoutMs`). */
  readonly #lastSeen = new Map<string, number>();

  constructor(o: { redis: ClusterRedisClients; settings: ClusterMediaSettings; logger: Logger }) {
    this.#redis = o.redis;
    this.#s = o.settings;
    this.#log = o.logger;
    this.#settledAt = Date.now() + o.settings.nodeTimeoutMs + SETTLE_EXTRA_MS;
  }

  /**
   * Redis (re)connected: reads how long Redis has been up; when it just
   * started, the other nodes get until `nodeTimeoutMs` + {@link SETTLE_EXTRA_MS}
   * after its start to write their keys again before they are judged.
   * (Until this has read it, nobody is judged dead by a missing key or subscriber.)
   */
  async reconnected(): Promise<void> {
    this.#settledAt = Number.POSITIVE_INFINITY;
    try {
      const info = await this.#redis.command.info('server');
      const uptimeSec = Number(/uptime_in_seconds:(\d+)/.exec(info)?.[1] ?? 0);
      this.#settledAt = Date.now() - uptimeSec * 1000 + this.#s.nodeTimeoutMs + SETTLE_EXTRA_MS;
    } catch {
      this.#settledAt = Date.now() + this.#s.nodeTimeoutMs + SETTLE_EXTRA_MS;
    }
  }

  /**
   * Writes this node's record (expires after `nodeTimeoutMs`) and lists it.
   * @throws the Redis error while Redis is down
   */
  async heartbeat(record: Omit<NodeRecord, 'id' | 'address' | 'at'>): Promise<void> {
    const full: NodeRecord = { id: this.#s.nodeId, address: this.#s.announcedAddress, at: Date.now(), ...record };
    await this.#redis.command
      .multi()
      .set(KEY.node(this.#s.nodeId), JSON.stringify(full), 'PX', this.#s.nodeTimeoutMs)
      .sadd(KEY.nodes, this.#s.nodeId)
      .exec();
  }

  /**
   * Reads every listed node and its liveness (SMEMBERS, MGET, PUBSUB NUMSUB);
   * nodes whose key expired are removed from the list.
   * @throws the Redis error while Redis is down
   */
  async snapshot(): Promise<RegistrySnapshot> {
    const ids = (await this.#redis.command.smembers(KEY.nodes)).sort();
    const live = new Map<string, NodeRecord>();
    const dead: string[] = [];
    const unknown = new Set<string>();
    if (ids.length === 0) {
      const now = Date.now();
      for (const [id, at] of this.#lastSeen) if (now - at < this.#s.nodeTimeoutMs) unknown.add(id);
      return { live, dead, unknown };
    }
    const [raws, numsub] = await Promise.all([
      this.#redis.command.mget(ids.map(KEY.node)),
      this.#redis.command.call('PUBSUB', 'NUMSUB', ...ids.map(KEY.rpc)) as Promise<(string | number)[]>,
    ]);
    const subscribers = new Map<string, number>();
    for (let i = 0; i + 1 < numsub.length; i += 2) subscribers.set(String(numsub[i]), Number(numsub[i + 1]));
    const settled = Date.now() >= this.#settledAt;
    const expired: string[] = [];
    ids.forEach((id, i) => {
      const raw = raws[i];
      if (raw === null || raw === undefined) {
        if (!settled && id !== this.#s.nodeId) {
          unknown.add(id);
          return;
        }
        dead.push(id);
        expired.push(id);
        return;
      }
      let rec: NodeRecord;
      try {
        rec = JSON.parse(raw) as NodeRecord;
      } catch {
        dead.push(id);
        return;
      }
      if (rec.rpcSubscribed && (subscribers.get(KEY.rpc(id)) ?? 0) === 0 && id !== this.#s.nodeId) {
        if (settled) dead.push(id);
        else unknown.add(id);
        return;
      }
      live.set(id, rec);
    });
    // A node that vanished from the list (Redis lost its data) is not proven dead: give it
    // `nodeTimeoutMs` to write its heartbeat again. A node that leaves keeps its listing and
    // drops its key, so it is seen dead at once.
    const now = Date.now();
    for (const id of live.keys()) this.#lastSeen.set(id, now);
    for (const [id, at] of this.#lastSeen) {
      if (live.has(id) || dead.includes(id)) continue;
      if (ids.includes(id) || now - at >= this.#s.nodeTimeoutMs) this.#lastSeen.delete(id);
      else unknown.add(id);
    }
    for (const id of dead) this.#lastSeen.delete(id);
    if (expired.length) {
      await this.#redis.command.srem(KEY.nodes, ...expired).catch(() => undefined);
      this.#log.debug({ nodes: expired }, 'expired nodes unlisted');
    }
    return { live, dead, unknown };
  }

  /**
   * Removes this node's record (graceful leave), keeping it listed: others
   * find it listed without a key, dead, at their next poll (and unlist it). Best effort.
   */
  async leave(): Promise<void> {
    await this.#redis.command.del(KEY.node(this.#s.nodeId)).catch(() => undefined);
  }
}
