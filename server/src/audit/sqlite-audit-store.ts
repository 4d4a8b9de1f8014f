/**
 * The durable audit trail of viewings, in an embedded SQLite file (Node 24's
 * built-in `node:sqlite`, no native addon): the single-node {@link AuditStore}.
 * Its methods run synchronously inside the returned promise (SQLite is in
 * process), so a write is committed when its promise settles.
 *
 * Durability: every write is its own autocommit transaction in WAL mode with
 * `synchronous=NORMAL` (SQLite docs, "Write-Ahead Logging" and "PRAGMA
 * synchronous"): a committed row survives the process being killed (kill -9);
 * only a power loss may drop the last transactions. A viewing's row is
 * inserted when it starts and updated when it ends, so a crash loses only the
 * end of the viewings that were open; {@link SqliteAuditStore.open} closes those as
 * `unknown` at the last heartbeat the dead process wrote.
 *
 * Who watches what ({@link SqliteAuditStore.watchByCamera}) is this process's
 * own viewings: the file is not shared.
 *
 * One process per file: a second process on the same file would close the
 * first one's open viewings at its start.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { AuditEndReason, AuditStore, CameraWatch, HeartbeatResult, Viewing, ViewingQuery, ViewingStart } from './audit-store.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS viewings (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  consumer_id TEXT NOT NULL UNIQUE,
  session_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  camera TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  end_reason TEXT,
  end_detail TEXT,
  client_address TEXT,
  user_agent TEXT,
  token_id TEXT
);
CREATE INDEX IF NOT EXISTS viewings_subject ON viewings (subject, started_at);
CREATE INDEX IF NOT EXISTS viewings_camera ON viewings (camera, started_at);
CREATE INDEX IF NOT EXISTS viewings_started ON viewings (started_at);
CREATE INDEX IF NOT EXISTS viewings_open ON viewings (id) WHERE ended_at IS NULL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
`;

interface Row {
  id: number;
  consumer_id: string;
  session_id: string;
  subject: string;
  camera: string;
  started_at: number;
  ended_at: number | null;
  end_reason: string | null;
  end_detail: string | null;
  client_address: string | null;
  user_agent: string | null;
  token_id: string | null;
}

function toViewing(r: Row): Viewing {
  return {
    id: r.id,
    consumerId: r.consumer_id,
    sessionId: r.session_id,
    subject: r.subject,
    camera: r.camera,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    endReason: r.end_reason as AuditEndReason | null,
    endDetail: r.end_detail,
    clientAddress: r.client_address,
    userAgent: r.user_agent,
    tokenId: r.token_id,
    node: null,
  };
}

/** SQLite error codes that pass (https://sqlite.org/rescode.html): BUSY 5, LOCKED 6, IOERR 10, FULL 13. */
const TRANSIENT_SQLITE = new Set([5, 6, 10, 13]);

export class SqliteAuditStore implements AuditStore {
  readonly location: string;
  readonly shared = false;
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #end: StatementSync;
  readonly #heartbeat: StatementSync;
  readonly #reopen: StatementSync;
  #closed = false;

  private constructor(db: DatabaseSync, path: string) {
    this.#db = db;
    this.location = path;
    this.#insert = db.prepare(
      `INSERT INTO viewings (consumer_id, session_id, subject, camera, started_at, client_address, user_agent, token_id)
       VALUES ($consumerId, $sessionId, $subject, $camera, $startedAt, $clientAddress, $userAgent, $tokenId)`,
    );
    this.#end = db.prepare(
      `UPDATE viewings SET ended_at = $endedAt, end_reason = $reason, end_detail = $detail
       WHERE consumer_id = $consumerId AND ended_at IS NULL`,
    );
    this.#reopen = db.prepare(
      `UPDATE viewings SET ended_at = NULL, end_reason = NULL, end_detail = NULL
       WHERE consumer_id = $consumerId AND ended_at IS NOT NULL`,
    );
    this.#heartbeat = db.prepare(`INSERT INTO meta (key, value) VALUES ('heartbeat_at', $at)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`);
  }

  /**
   * Opens (creating when missing) the store at `path`, then closes the
   * viewings a previous process left open as `unknown`, ended at that
   * process's last heartbeat (or at their start when it wrote none).
   *
   * @param path file path (parent directories are created) or `:memory:`
   * @returns the store and how many open viewings were recovered
   * @throws Error (from SQLite) when the file cannot be opened or is not a database
   */
  static open(path: string, now = Date.now()): { store: SqliteAuditStore; recovered: number } {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new DatabaseSync(path);
    try {
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 2000;');
      db.exec(SCHEMA);
      const store = new SqliteAuditStore(db, path);
      const recovered = store.#recover(now);
      store.#heartbeat.run({ $at: now });
      return { store, recovered };
    } catch (err) {
      db.close();
      throw err;
    }
  }

  #recover(now: number): number {
    const hb = this.#db.prepare(`SELECT value FROM meta WHERE key = 'heartbeat_at'`).get() as { value: number } | undefined;
    const lastAlive = Math.min(hb?.value ?? 0, now);
    const res = this.#db
      .prepare(
        `UPDATE viewings SET ended_at = MAX(started_at, $lastAlive), end_reason = 'unknown', end_detail = 'process_ended'
         WHERE ended_at IS NULL`,
      )
      .run({ $lastAlive: lastAlive });
    return Number(res.changes);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Records the start of a viewing (one row, committed before returning).
   * @throws Error (SQLite) on a write failure, e.g. disk full, or a duplicate consumer id
   */
  async start(v: ViewingStart): Promise<void> {
    this.#insert.run({
      $consumerId: v.consumerId,
      $sessionId: v.sessionId,
      $subject: v.subject,
      $camera: v.camera,
      $startedAt: v.startedAt,
      $clientAddress: v.clientAddress ?? null,
      $userAgent: v.userAgent ?? null,
      $tokenId: v.tokenId ?? null,
    });
  }

  /**
   * Records the end of an open viewing; a viewing already ended is left alone.
   * @returns true when an open viewing was ended
   * @throws Error (SQLite) on a write failure
   */
  async end(consumerId: string, endedAt: number, reason: AuditEndReason, detail: string | undefined): Promise<boolean> {
    const res = this.#end.run({ $consumerId: consumerId, $endedAt: endedAt, $reason: reason, $detail: detail ?? null });
    return Number(res.changes) > 0;
  }

  /**
   * Reopens a viewing that ended (it continues: a re-subscribe within the
   * coalescing window); an open one is left alone.
   * @returns true when an ended viewing was reopened
   * @throws Error (SQLite) on a write failure
   */
  async reopen(consumerId: string): Promise<boolean> {
    const res = this.#reopen.run({ $consumerId: consumerId });
    return Number(res.changes) > 0;
  }

  /** Writes "this process is alive at `at`" (ms since epoch); one process per file, so nothing to recover and always the leader. */
  async heartbeat(at = Date.now()): Promise<HeartbeatResult> {
    this.#heartbeat.run({ $at: at });
    return { recovered: 0, leader: true };
  }

  /**
   * Viewings matching `q`, in id order.
   * @throws Error (SQLite) on a read failure
   */
  async query(q: ViewingQuery): Promise<Viewing[]> {
    return this.#query(q);
  }

  #query(q: ViewingQuery): Viewing[] {
    const where: string[] = ['id > $afterId'];
    const params: Record<string, string | number> = { $afterId: q.afterId ?? 0, $limit: q.limit };
    if (q.subject !== undefined) {
      where.push('subject = $subject');
      params['$subject'] = q.subject;
    }
    if (q.camera !== undefined) {
      where.push('camera = $camera');
      params['$camera'] = q.camera;
    }
    if (q.from !== undefined) {
      where.push('(ended_at IS NULL OR ended_at >= $from)');
      params['$from'] = q.from;
    }
    if (q.to !== undefined) {
      where.push('started_at < $to');
      params['$to'] = q.to;
    }
    if (q.open !== undefined) where.push(q.open ? 'ended_at IS NULL' : 'ended_at IS NOT NULL');
    const sql = `SELECT * FROM viewings WHERE ${where.join(' AND ')} ORDER BY id LIMIT $limit`;
    return (this.#db.prepare(sql).all(params) as unknown as Row[]).map(toViewing);
  }

  /**
   * Every viewing matching `q` (its `limit` is the page size), fetched page by
   * page so memory stays bounded and no read transaction stays open between pages.
   */
  async *iterate(q: ViewingQuery): AsyncGenerator<Viewing> {
    let afterId = q.afterId ?? 0;
    for (;;) {
      if (this.#closed) return;
      const page = this.#query({ ...q, afterId });
      yield* page;
      if (page.length < q.limit) return;
      afterId = page[page.length - 1]!.id;
    }
  }

  /** Open viewings per camera (this process's: the file is not shared) and each camera's last end. */
  async watchByCamera(cameras: readonly string[]): Promise<Map<string, CameraWatch>> {
    const out = new Map<string, CameraWatch>();
    const open = this.#db.prepare(
      'SELECT COUNT(*) AS consumers, COUNT(DISTINCT session_id) AS viewers FROM viewings WHERE camera = $camera AND ended_at IS NULL',
    );
    const last = this.#db.prepare('SELECT MAX(ended_at) AS last FROM viewings WHERE camera = $camera');
    for (const camera of cameras) {
      const o = open.get({ $camera: camera }) as { consumers: number; viewers: number };
      const l = last.get({ $camera: camera }) as { last: number | null };
      out.set(camera, { consumers: Number(o.consumers), viewers: Number(o.viewers), lastWatchedAt: l.last ?? undefined });
    }
    return out;
  }

  /** Number of viewings not ended yet. */
  async openCount(): Promise<number> {
    return Number((this.#db.prepare('SELECT COUNT(*) AS n FROM viewings WHERE ended_at IS NULL').get() as { n: number }).n);
  }

  /**
   * Deletes viewings that ended before `before` (ms since epoch).
   * @returns rows deleted
   */
  async prune(before: number): Promise<number> {
    return Number(this.#db.prepare('DELETE FROM viewings WHERE ended_at IS NOT NULL AND ended_at < $before').run({ $before: before }).changes);
  }

  /**
   * Bytes the database's pages take (SQLite `page_count` × `page_size`,
   * "PRAGMA page_count"): the main file's size, free pages included; the
   * WAL is checkpointed into it.
   */
  async sizeBytes(): Promise<number> {
    return this.#sizeBytes();
  }

  #sizeBytes(): number {
    const pages = (this.#db.prepare('PRAGMA page_count').get() as { page_count: number }).page_count;
    const pageSize = (this.#db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size;
    return Number(pages) * Number(pageSize);
  }

  /** Bytes in pages that hold data (page_count - freelist_count, × page_size): what a new row competes with. */
  usedBytes(): number {
    const free = (this.#db.prepare('PRAGMA freelist_count').get() as { freelist_count: number }).freelist_count;
    const pageSize = (this.#db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size;
    return this.#sizeBytes() - Number(free) * Number(pageSize);
  }

  /**
   * Size-based retention: while the pages in use exceed `maxBytes`, deletes
   * the oldest ended viewings (by id, in batches), down to 90 % of it, so the
   * file stops growing (SQLite reuses freed pages). Open viewings are kept.
   * @returns rows deleted
   */
  async pruneToSize(maxBytes: number): Promise<number> {
    if (this.usedBytes() <= maxBytes) return 0;
    const target = maxBytes * 0.9;
    const batch = this.#db.prepare(
      `DELETE FROM viewings WHERE id IN (SELECT id FROM viewings WHERE ended_at IS NOT NULL ORDER BY id LIMIT $n)`,
    );
    let deleted = 0;
    for (;;) {
      const n = Number(batch.run({ $n: 500 }).changes);
      deleted += n;
      if (n === 0 || this.usedBytes() <= target) return deleted;
    }
  }

  /** BUSY, LOCKED, IOERR or FULL from SQLite: another process holds the file, or the disk is full, for now. */
  isUnavailable(err: unknown): boolean {
    return TRANSIENT_SQLITE.has(Number((err as { errcode?: number } | undefined)?.errcode) & 0xff);
  }

  /** Writes a last heartbeat and closes the file (the WAL is checkpointed by SQLite on close). */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      this.#heartbeat.run({ $at: Date.now() });
    } catch {
      // The file is closed below whatever the last heartbeat did; the next start recovers from the previous one.
    }
    this.#closed = true;
    this.#db.close();
  }
}
