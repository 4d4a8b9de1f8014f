/**
 * The cluster's audit trail: one PostgreSQL database that every Vigil node
 * writes its own viewings to (the `pg` client, node-postgres), so the audit
 * queries, the CSV export and "who is watching what now" answer for the
 * whole cluster from any node.
 *
 * Durability: each write is one autocommit statement; PostgreSQL acknowledges
 * it after the WAL is flushed (`synchronous_commit = on`, PostgreSQL docs
 * "WAL Configuration"), so a committed start or end survives any node or
 * database crash.
 *
 * Node liveness (no Redis needed): every node upserts its row in `nodes`
 * with the database's clock (`clock_timestamp()`) every heartbeat; at each
 * heartbeat a node deletes the nodes whose `last_seen` is older than
 * `nodeTimeoutMs` and closes their open viewings as `unknown`
 * (`end_detail = node_lost`), ended at the dead node's last heartbeat. The
 * database's clock is the only one compared, so skew between nodes does not
 * matter. A node reaps others only once its own heartbeats have run without
 * a gap for a whole bound (so a database outage kills nobody). A node that comes back after being declared dead writes a new
 * heartbeat and goes on; the viewings it served through the gap stay closed
 * as `unknown` (their queued ends change nothing).
 *
 * Leader: the oldest live node (earliest `started_at`, then node id) exports
 * the cluster-wide oversight gauges, so they appear once for the cluster;
 * a node joining later never takes over, and when the leader dies the next
 * oldest takes over within `nodeTimeoutMs` + one heartbeat.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { AuditEndReason, AuditStore, CameraWatch, HeartbeatResult, Viewing, ViewingQuery, ViewingStart } from './audit-store.ts';
import { migrate } from './pg-migrations.ts';

const { Pool } = pg;

export interface PgAuditStoreOptions {
  /** libpq connection URI (PostgreSQL docs, "Connection URIs"), e.g. `postgresql://vigil:secret@db:5432/vigil`. */
  url: string;
  /** This node's name in `viewings.node_id` and `nodes`; default `<hostname>-<pid>-<random>` (a new node each run). */
  nodeId?: string | undefined;
  /** A node whose heartbeat is older than this is dead: its open viewings are closed, ms. */
  nodeTimeoutMs: number;
  /** Give up connecting after this long (the write is queued and retried), ms. */
  connectTimeoutMs?: number;
  /** Server-side bound on one statement (`statement_timeout`), ms. */
  statementTimeoutMs?: number;
  /** Connections in the pool. */
  poolSize?: number;
  /** Told about errors of idle connections (e.g. the database restarted); they are not thrown. */
  onIdleError?: (err: Error) => void;
}

/** The database's own clock in ms since epoch: the one clock heartbeats are compared against. */
const NOW_MS = '(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT';

/** Bytes a row takes beyond its data: tuple header and item pointer (PostgreSQL docs, "Database Page Layout") plus six index entries, estimated. */
const ROW_OVERHEAD_BYTES = 28 + 6 * 40;

interface Row {
  id: string;
  consumer_id: string;
  node_id: string;
  session_id: string;
  subject: string;
  camera: string;
  started_at: string;
  ended_at: string | null;
  end_reason: string | null;
  end_detail: string | null;
  client_address: string | null;
  user_agent: string | null;
  token_id: string | null;
}

/** BIGINT arrives as a string (node-postgres keeps 64-bit integers exact); ids and ms fit a double. */
function toViewing(r: Row): Viewing {
  return {
    id: Number(r.id),
    consumerId: r.consumer_id,
    sessionId: r.session_id,
    subject: r.subject,
    camera: r.camera,
    startedAt: Number(r.started_at),
    endedAt: r.ended_at === null ? null : Number(r.ended_at),
    endReason: r.end_reason as AuditEndReason | null,
    endDetail: r.end_detail,
    clientAddress: r.client_address,
    userAgent: r.user_agent,
    tokenId: r.token_id,
    node: r.node_id,
  };
}

/** `postgresql://host:port/db` from a connection URI: no user, no password, no parameters. */
export function redactedLocation(url: string): string {
  try {
    const u = new URL(url);
    return `postgresql://${u.host}${u.pathname}`;
  } catch {
    return 'postgresql://(unparsable url)';
  }
}

export class PgAuditStore implements AuditStore {
  readonly location: string;
  readonly shared = true;
  /** This node's id in the database. */
  readonly nodeId: string;
  readonly #pool: pg.Pool;
  readonly #nodeTimeoutMs: number;
  readonly #startedAt: number;
  /** Database time of the first heartbeat after the last gap (undefined before the first). */
  #aliveSince: number | undefined;
  #closed = false;

  private constructor(pool: pg.Pool, o: PgAuditStoreOptions, nodeId: string, startedAt: number) {
    this.#pool = pool;
    this.location = redactedLocation(o.url);
    this.nodeId = nodeId;
    this.#nodeTimeoutMs = o.nodeTimeoutMs;
    this.#startedAt = startedAt;
  }

  /**
   * Connects, applies the schema migrations not applied yet, closes the
   * viewings this node id left open in a previous run (at its last
   * heartbeat) and writes the first heartbeat.
   * @returns the store, the migration versions applied and the viewings recovered
   * @throws Error when the database cannot be reached or a migration fails (Vigil does not start:
   *   a cluster node without its audit trail would serve unrecorded viewings)
   */
  static async open(o: PgAuditStoreOptions): Promise<{ store: PgAuditStore; migrated: number[]; recovered: number }> {
    const pool = new Pool({
      connectionString: o.url,
      max: o.poolSize ?? 4,
      connectionTimeoutMillis: o.connectTimeoutMs ?? 2000,
      statement_timeout: o.statementTimeoutMs ?? 5000,
      query_timeout: (o.statementTimeoutMs ?? 5000) + 1000,
      application_name: 'vigil',
    });
    // An idle connection that breaks (database restart) is dropped by the pool; without a listener it would crash the process.
    pool.on('error', (err) => o.onIdleError?.(err));
    try {
      const client = await pool.connect();
      let migrated: number[];
      try {
        migrated = await migrate(client);
      } finally {
        client.release();
      }
      const nodeId = o.nodeId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
      const started = await pool.query<{ now: string }>(`SELECT ${NOW_MS} AS now`);
      const store = new PgAuditStore(pool, o, nodeId, Number(started.rows[0]!.now));
      const recovered = await store.#recoverOwn();
      await store.heartbeat();
      return { store, migrated, recovered };
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
  }

  /** Closes the viewings this node id left open in a previous run, at that run's last heartbeat. */
  async #recoverOwn(): Promise<number> {
    const res = await this.#pool.query(
      `UPDATE viewings v SET ended_at = GREATEST(v.started_at, COALESCE(n.last_seen, v.started_at)), end_reason = 'unknown', end_detail = 'process_ended'
       FROM (SELECT $1::TEXT AS node_id) me LEFT JOIN nodes n ON n.node_id = me.node_id
       WHERE v.node_id = me.node_id AND v.ended_at IS NULL`,
      [this.nodeId],
    );
    return res.rowCount ?? 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async start(v: ViewingStart): Promise<void> {
    await this.#pool.query(
      `INSERT INTO viewings (consumer_id, node_id, session_id, subject, camera, started_at, client_address, user_agent, token_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [v.consumerId, this.nodeId, v.sessionId, v.subject, v.camera, v.startedAt, v.clientAddress ?? null, v.userAgent ?? null, v.tokenId ?? null],
    );
  }

  async end(consumerId: string, endedAt: number, reason: AuditEndReason, detail: string | undefined): Promise<boolean> {
    const res = await this.#pool.query(
      'UPDATE viewings SET ended_at = $2, end_reason = $3, end_detail = $4 WHERE consumer_id = $1 AND ended_at IS NULL',
      [consumerId, endedAt, reason, detail ?? null],
    );
    return (res.rowCount ?? 0) > 0;
  }

  async reopen(consumerId: string): Promise<boolean> {
    const res = await this.#pool.query(
      // A viewing closed as `unknown` by another node stays closed: this node was taken for dead.
      `UPDATE viewings SET ended_at = NULL, end_reason = NULL, end_detail = NULL
       WHERE consumer_id = $1 AND ended_at IS NOT NULL AND end_reason <> 'unknown'`,
      [consumerId],
    );
    return (res.rowCount ?? 0) > 0;
  }

  /**
   * One round trip: upserts this node's heartbeat, deletes the nodes silent
   * for longer than the bound and closes their open viewings as `unknown`
   * (`node_lost`) at their last heartbeat, and tells whether this node is
   * the oldest live one (the leader).
   *
   * A node reaps others only after it has itself heartbeaten without a gap
   * for a whole bound: after the database was down, every node's heartbeat
   * is old, and the first node back must not take the others for dead
   * before they had the chance to write theirs.
   */
  async heartbeat(): Promise<HeartbeatResult> {
    const { rows } = await this.#pool.query<{ recovered: string; leader: string | null; now: string; continuous: boolean }>(
      `WITH prev AS (SELECT last_seen FROM nodes WHERE node_id = $1),
       me AS (
         INSERT INTO nodes (node_id, started_at, last_seen) VALUES ($1, $2, ${NOW_MS})
         ON CONFLICT (node_id) DO UPDATE SET last_seen = EXCLUDED.last_seen
         RETURNING last_seen
       ),
       continuous AS (
         SELECT COALESCE((SELECT me.last_seen - prev.last_seen <= $3 FROM me, prev), false) AS ok
       ),
       dead AS (
         DELETE FROM nodes
         WHERE node_id <> $1 AND last_seen < (SELECT last_seen FROM me) - $3
           AND (SELECT ok FROM continuous) AND (SELECT last_seen FROM me) - $4::BIGINT >= $3
         RETURNING node_id, last_seen
       ),
       closed AS (
         UPDATE viewings v SET ended_at = GREATEST(v.started_at, d.last_seen), end_reason = 'unknown', end_detail = 'node_lost'
         FROM dead d WHERE v.node_id = d.node_id AND v.ended_at IS NULL
         RETURNING v.id
       )
       SELECT (SELECT COUNT(*) FROM closed) AS recovered,
              (SELECT last_seen FROM me) AS now,
              (SELECT ok FROM continuous) AS continuous,
              (SELECT node_id FROM (
                 SELECT node_id, started_at FROM nodes
                 WHERE node_id <> $1 AND last_seen >= (SELECT last_seen FROM me) - $3
                 UNION ALL SELECT $1, $2
               ) live ORDER BY started_at, node_id LIMIT 1) AS leader`,
      [this.nodeId, this.#startedAt, this.#nodeTimeoutMs, this.#aliveSince ?? Number.MAX_SAFE_INTEGER],
    );
    const r = rows[0]!;
    if (!r.continuous || this.#aliveSince === undefined) this.#aliveSince = Number(r.now);
    return { recovered: Number(r.recovered), leader: r.leader === this.nodeId };
  }

  async query(q: ViewingQuery): Promise<Viewing[]> {
    const params: unknown[] = [q.afterId ?? 0];
    const where: string[] = ['id > $1'];
    const add = (sql: string, v: unknown): void => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (q.subject !== undefined) add('subject = ?', q.subject);
    if (q.camera !== undefined) add('camera = ?', q.camera);
    if (q.from !== undefined) add('(ended_at IS NULL OR ended_at >= ?)', q.from);
    if (q.to !== undefined) add('started_at < ?', q.to);
    if (q.open !== undefined) where.push(q.open ? 'ended_at IS NULL' : 'ended_at IS NOT NULL');
    params.push(q.limit);
    const { rows } = await this.#pool.query<Row>(`SELECT * FROM viewings WHERE ${where.join(' AND ')} ORDER BY id LIMIT $${params.length}`, params);
    return rows.map(toViewing);
  }

  async *iterate(q: ViewingQuery): AsyncGenerator<Viewing> {
    let afterId = q.afterId ?? 0;
    for (;;) {
      if (this.#closed) return;
      const page = await this.query({ ...q, afterId });
      yield* page;
      if (page.length < q.limit) return;
      afterId = page[page.length - 1]!.id;
    }
  }

  /** Every node's open viewings per camera and each camera's last end; three index look-ups per camera. */
  async watchByCamera(cameras: readonly string[]): Promise<Map<string, CameraWatch>> {
    const { rows } = await this.#pool.query<{ camera: string; consumers: string; viewers: string; last: string | null }>(
      `SELECT c.camera,
         (SELECT COUNT(*) FROM viewings v WHERE v.camera = c.camera AND v.ended_at IS NULL) AS consumers,
         (SELECT COUNT(DISTINCT v.session_id) FROM viewings v WHERE v.camera = c.camera AND v.ended_at IS NULL) AS viewers,
         (SELECT MAX(v.ended_at) FROM viewings v WHERE v.camera = c.camera) AS last
       FROM unnest($1::TEXT[]) AS c(camera)`,
      [cameras],
    );
    const out = new Map<string, CameraWatch>();
    for (const r of rows) {
      out.set(r.camera, { consumers: Number(r.consumers), viewers: Number(r.viewers), lastWatchedAt: r.last === null ? undefined : Number(r.last) });
    }
    return out;
  }

  async openCount(): Promise<number> {
    const { rows } = await this.#pool.query<{ n: string }>('SELECT COUNT(*) AS n FROM viewings WHERE ended_at IS NULL');
    return Number(rows[0]!.n);
  }

  async prune(before: number): Promise<number> {
    const res = await this.#pool.query('DELETE FROM viewings WHERE ended_at IS NOT NULL AND ended_at < $1', [before]);
    return res.rowCount ?? 0;
  }

  /** Table, indexes and TOAST (`pg_total_relation_size`), bytes; PostgreSQL reuses the space of deleted rows after (auto)vacuum. */
  async sizeBytes(): Promise<number> {
    const { rows } = await this.#pool.query<{ n: string }>("SELECT pg_total_relation_size('viewings') AS n");
    return Number(rows[0]!.n);
  }

  /**
   * Bytes the rows hold, estimated: rows × (mean `pg_column_size` of the
   * newest 1000 rows + {@link ROW_OVERHEAD_BYTES}). The file size itself
   * does not shrink after a delete (the space is reused), so it cannot tell
   * when enough was deleted.
   */
  async usedBytes(): Promise<{ used: number; perRow: number }> {
    const { rows } = await this.#pool.query<{ n: string; avg: string | null }>(
      `SELECT (SELECT COUNT(*) FROM viewings) AS n,
              (SELECT AVG(pg_column_size(v.*)) FROM (SELECT * FROM viewings ORDER BY id DESC LIMIT 1000) v) AS avg`,
    );
    const perRow = Number(rows[0]!.avg ?? 0) + ROW_OVERHEAD_BYTES;
    return { used: Number(rows[0]!.n) * perRow, perRow };
  }

  async pruneToSize(maxBytes: number): Promise<number> {
    const { used, perRow } = await this.usedBytes();
    if (used <= maxBytes) return 0;
    let excess = Math.ceil((used - maxBytes * 0.9) / perRow);
    let deleted = 0;
    while (excess > 0) {
      const res = await this.#pool.query(
        'DELETE FROM viewings WHERE id IN (SELECT id FROM viewings WHERE ended_at IS NOT NULL ORDER BY id LIMIT $1)',
        [Math.min(excess, 5000)],
      );
      const n = res.rowCount ?? 0;
      deleted += n;
      excess -= n;
      if (n === 0) break;
    }
    return deleted;
  }

  /**
   * Connection-level failures: no SQLSTATE (socket refused/reset, pool or
   * query timeout) or SQLSTATE class 08 (connection exception), 53
   * (insufficient resources), 57P01-57P03 (shutdown, cannot connect now)
   * (PostgreSQL docs, Appendix A "Error Codes").
   */
  isUnavailable(err: unknown): boolean {
    const code = (err as { code?: unknown } | undefined)?.code;
    if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
    return code.startsWith('08') || code.startsWith('53') || /^57P0[123]$/.test(code);
  }

  /** Removes this node from `nodes` (a clean stop is not a death) and closes the pool. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#pool.query('DELETE FROM nodes WHERE node_id = $1', [this.nodeId]);
    } catch {
      // Unreachable at exit: the other nodes see this node's heartbeat age out and close what it left open.
    } finally {
      await this.#pool.end().catch(() => undefined);
    }
  }
}
