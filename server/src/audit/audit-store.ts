/**
 * The audit trail's store: one interface, two implementations chosen by
 * config (the LiveKit pattern: single node and cluster differ only in what
 * is plugged in):
 *
 * - `SqliteAuditStore` (`sqlite-audit-store.ts`): one embedded file per
 *   process, the single-node default (`audit.path`);
 * - `PgAuditStore` (`pg-audit-store.ts`): one PostgreSQL database shared
 *   by every node of a cluster (`audit.postgres.url`), with node heartbeats so
 *   the viewings of a node that died are closed as `unknown` by another node.
 *
 * Every method is async (PostgreSQL is a network round trip); the recorder
 * (`audit-recorder.ts`) puts writes in one ordered, bounded queue, so a start
 * is always written before its end, and a store that is unreachable for a
 * while ({@link AuditStore.isUnavailable}) loses nothing that fits the queue.
 */

/** Why a viewing ended, as recorded. `unknown`: the process died while it was open. */
export const AUDIT_END_REASONS = ['left', 'expired', 'revoked', 'kicked', 'error', 'shutdown', 'unknown'] as const;
export type AuditEndReason = (typeof AUDIT_END_REASONS)[number];

/** One viewing: one consumer of one camera by one viewer session. Times are ms since epoch. */
export interface Viewing {
  /** Row id, increasing in insertion order (the pagination cursor). */
  id: number;
  consumerId: string;
  sessionId: string;
  /** The token's `sub`. */
  subject: string;
  camera: string;
  startedAt: number;
  endedAt: number | null;
  endReason: AuditEndReason | null;
  /** The server's own finer reason (`disconnected`, `camera_gone`, ...), or null. */
  endDetail: string | null;
  clientAddress: string | null;
  userAgent: string | null;
  tokenId: string | null;
  /** The node that served it (cluster store), or null (single-node store). */
  node: string | null;
}

export interface ViewingStart {
  consumerId: string;
  sessionId: string;
  subject: string;
  camera: string;
  startedAt: number;
  clientAddress: string | undefined;
  userAgent: string | undefined;
  tokenId: string | undefined;
}

/** Filters for {@link AuditStore.query}; a viewing matches a time range when it overlaps it. */
export interface ViewingQuery {
  subject?: string;
  camera?: string;
  /** Range start, ms since epoch (viewings still running or ended at/after it). */
  from?: number;
  /** Range end, ms since epoch (viewings started before it). */
  to?: number;
  /** true: only viewings still open (who is watching now); false: only ended ones. */
  open?: boolean;
  /** Only rows with `id` greater than this (keyset pagination). */
  afterId?: number;
  /** At most this many rows, in id order. */
  limit: number;
}

/** Open viewings of one camera across every node the store knows. */
export interface CameraWatch {
  /** Open viewings (consumers). */
  consumers: number;
  /** Distinct viewer sessions with an open viewing. */
  viewers: number;
  /** When the camera was last watched (latest end of a viewing of it), ms since epoch; undefined: never. */
  lastWatchedAt: number | undefined;
}

/** What {@link AuditStore.heartbeat} learnt. */
export interface HeartbeatResult {
  /** Open viewings of dead nodes (or of this node's previous run) closed as `unknown` by this heartbeat. */
  recovered: number;
  /**
   * True when this node exports the cluster-wide oversight gauges (the
   * oldest live node of the cluster; always true for a single-node store).
   */
  leader: boolean;
}

export interface AuditStore {
  /** Where rows go, for logs: a file path or `postgresql://host:port/db` (never a password). */
  readonly location: string;
  /** True once {@link close} ran. */
  readonly closed: boolean;
  /** True when the store is shared by a cluster (open rows of other nodes are seen). */
  readonly shared: boolean;
  /**
   * Records the start of a viewing (one row, committed before resolving).
   * @throws Error from the database on a write failure (duplicate consumer id, disk full, connection lost)
   */
  start(v: ViewingStart): Promise<void>;
  /**
   * Records the end of an open viewing; a viewing already ended is left alone.
   * @returns true when an open viewing was ended
   */
  end(consumerId: string, endedAt: number, reason: AuditEndReason, detail: string | undefined): Promise<boolean>;
  /**
   * Reopens a viewing that ended (it continues: a re-subscribe within the
   * coalescing window); an open one is left alone.
   * @returns true when an ended viewing was reopened
   */
  reopen(consumerId: string): Promise<boolean>;
  /**
   * Writes "this node is alive now" and closes the open viewings of nodes
   * whose heartbeat is older than the store's bound.
   */
  heartbeat(at?: number): Promise<HeartbeatResult>;
  /** Viewings matching `q`, in id order. */
  query(q: ViewingQuery): Promise<Viewing[]>;
  /**
   * Every viewing matching `q` (its `limit` is the page size), fetched page by
   * page so memory stays bounded and no read transaction stays open between pages.
   */
  iterate(q: ViewingQuery): AsyncGenerator<Viewing>;
  /** Open viewings per camera of `cameras`, across every node writing to this store. */
  watchByCamera(cameras: readonly string[]): Promise<Map<string, CameraWatch>>;
  /** Number of viewings not ended yet (every node's). */
  openCount(): Promise<number>;
  /**
   * Deletes viewings that ended before `before` (ms since epoch).
   * @returns rows deleted
   */
  prune(before: number): Promise<number>;
  /**
   * Size-based retention: while the bytes in use exceed `maxBytes`, deletes
   * the oldest ended viewings, down to 90 % of it. Open viewings are kept.
   * @returns rows deleted
   */
  pruneToSize(maxBytes: number): Promise<number>;
  /** Bytes the store takes now (file pages, or table + indexes). */
  sizeBytes(): Promise<number>;
  /**
   * True when `err` (thrown by a write) means "the database cannot be reached
   * or is busy for now": the write is kept and retried. Any other error is
   * final for that write (logged, counted, dropped).
   */
  isUnavailable(err: unknown): boolean;
  /** Writes a last heartbeat when it can and releases the file or connections. Idempotent. */
  close(): Promise<void>;
}
