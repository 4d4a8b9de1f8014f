/**
 * Writes the audit trail from session facts: a row when a viewing starts
 * (the `consume` of a new viewing), its end when the viewing's last consumer
 * closes (`consumerclose` with `viewingEnded`). A consumer that continues a
 * viewing (quality switch, re-subscribe within VIEWING_COALESCE_MS of its
 * end) writes no new row: an ended row is reopened.
 *
 * Writes go through one ordered queue ({@link WriteQueue}), so a viewing's
 * start is written before its end whatever the store's latency. A write the
 * store cannot take for now (database unreachable, file locked:
 * `AuditStore.isUnavailable`) stays at the head of the queue and is retried;
 * at most `queueMax` writes wait, beyond that new ones are dropped and
 * counted. While writes wait, {@link AuditRecorder.healthy} is false
 * (`/readyz` 503 with `checks.audit: false`) and `vigil_audit_queued_writes`
 * says how many. Any other failed write is logged, counted and dropped. A
 * failure never breaks the viewer's request.
 *
 * The heartbeat (every `heartbeatMs`) also closes the open viewings of dead
 * nodes (cluster store) and tells whether this node is the oversight leader.
 *
 * Growth is bounded three ways: new viewings per subject are rate limited
 * (`rateLimits.viewingsPerSubject`), re-subscribes are coalesced, and the
 * store is pruned by age (`audit.retentionDays`) and by size
 * (`audit.maxSizeMb`: oldest ended viewings first).
 */
import type { Logger } from 'pino';
import type { ConsumerEndReason, SessionObserver, SessionObserverEvents } from '../signaling/session-observer.ts';
import type { AuditEndReason, AuditStore } from './audit-store.ts';
import { WriteQueue } from './write-queue.ts';

/**
 * Maps the server's reason a viewing ended to the audit vocabulary.
 * `disconnected` (socket gone without `leave`) counts as `left`;
 * `camera_gone` as `error`; the server's own word is kept as the detail.
 */
export function auditEndReason(reason: ConsumerEndReason): AuditEndReason {
  switch (reason) {
    case 'left':
    case 'disconnected':
      return 'left';
    case 'token_expired':
      return 'expired';
    case 'revoked':
      return 'revoked';
    case 'kicked':
      return 'kicked';
    case 'server_shutdown':
      return 'shutdown';
    case 'camera_gone':
      return 'error';
    // The camera's stream was re-ingested (restart, worker replaced); the viewer
    // re-subscribes at once and a new record starts. `detail` keeps 'resubscribe'.
    case 'resubscribe':
      return 'error';
    // A refreshed token no longer covers the camera: access withdrawn, like a revocation.
    case 'scope_changed':
      return 'revoked';
    default: {
      // Exhaustive: a new ConsumerEndReason fails to compile here; at run time it is an error.
      const unhandled: never = reason;
      void unhandled;
      return 'error';
    }
  }
}

type JoinFacts = SessionObserverEvents['join'][0];

export interface AuditRecorderOptions {
  store: AuditStore;
  observer: SessionObserver;
  logger: Logger;
  /** Heartbeat period, ms. */
  heartbeatMs: number;
  /** Delete viewings ended longer ago than this, ms; 0 keeps everything. */
  retentionMs: number;
  /** Keep the store under this many bytes by deleting the oldest ended viewings; 0: no bound. */
  maxBytes?: number;
  /** Writes that may wait while the store is unavailable (default 10 000). */
  queueMax?: number;
  /** Retry period of a waiting write, ms (default min(heartbeatMs, 1000)). */
  retryMs?: number;
}

/** Prune by age once a day. */
const PRUNE_PERIOD_MS = 86_400_000;
/** Check the store's size this often, ms. */
const SIZE_CHECK_PERIOD_MS = 60_000;

export class AuditRecorder {
  readonly #o: AuditRecorderOptions;
  readonly #log: Logger;
  /** Join facts of live sessions, by session id (client address, user agent, token id). */
  readonly #sessions = new Map<string, JoinFacts>();
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #unsubscribe: () => void;
  readonly #queue: WriteQueue;
  #writeErrors = 0;
  #lastWriteOk = true;
  /** Oversight leader: a node alone always is; a node of a shared store only once a heartbeat said so (else every starting node would export the cluster's gauges until its first heartbeat). */
  #leader: boolean;
  #lastSize = 0;

  constructor(o: AuditRecorderOptions) {
    this.#o = o;
    this.#leader = !o.store.shared;
    this.#log = o.logger.child({ component: 'audit' });
    this.#queue = new WriteQueue({
      max: o.queueMax ?? 10_000,
      retryMs: o.retryMs ?? Math.min(o.heartbeatMs, 1000),
      isUnavailable: (err) => o.store.isUnavailable(err),
      onError: (op, err) => this.#failed(op, err),
      onAvailability: (unavailable, waiting) => {
        if (unavailable) this.#log.error({ waiting }, 'audit store unavailable: writes are queued and retried');
        else this.#log.info({ waiting }, 'audit store available again: queued writes are being written');
      },
    });
    const onJoin = (e: JoinFacts): void => void this.#sessions.set(e.sessionId, e);
    const onSessionClose = (e: SessionObserverEvents['sessionclose'][0]): void => void this.#sessions.delete(e.sessionId);
    const onConsume = (e: SessionObserverEvents['consume'][0]): void => {
      if (e.continued) {
        this.#write('reopen', () => o.store.reopen(e.viewingId));
        return;
      }
      const j = this.#sessions.get(e.sessionId);
      const start = {
        consumerId: e.viewingId,
        sessionId: e.sessionId,
        subject: e.subject,
        camera: e.cameraId,
        startedAt: e.at,
        clientAddress: j?.remoteAddress,
        userAgent: j?.userAgent,
        tokenId: j?.tokenId,
      };
      this.#write('start', () => o.store.start(start));
    };
    const onConsumerClose = (e: SessionObserverEvents['consumerclose'][0]): void => {
      if (!e.viewingEnded) return;
      this.#write('end', () => o.store.end(e.viewingId, e.at, auditEndReason(e.reason), e.reason));
    };
    o.observer.on('join', onJoin);
    o.observer.on('sessionclose', onSessionClose);
    o.observer.on('consume', onConsume);
    o.observer.on('consumerclose', onConsumerClose);
    this.#unsubscribe = () => {
      o.observer.off('join', onJoin);
      o.observer.off('sessionclose', onSessionClose);
      o.observer.off('consume', onConsume);
      o.observer.off('consumerclose', onConsumerClose);
    };
    // The first heartbeat now, not one period from now: it decides leadership.
    void this.#heartbeat();
    const hb = setInterval(() => void this.#heartbeat(), o.heartbeatMs);
    hb.unref();
    this.#timers.push(hb);
    if (o.retentionMs > 0) {
      void this.#prune();
      const prune = setInterval(() => void this.#prune(), PRUNE_PERIOD_MS);
      prune.unref();
      this.#timers.push(prune);
    }
    if (o.maxBytes) {
      void this.#pruneToSize();
      const bySize = setInterval(() => void this.#pruneToSize(), SIZE_CHECK_PERIOD_MS);
      bySize.unref();
      this.#timers.push(bySize);
    }
  }

  /** Bytes the store takes now (the last size read when it cannot answer); 0 once closed. */
  async sizeBytes(): Promise<number> {
    if (this.#o.store.closed) return 0;
    try {
      this.#lastSize = await this.#o.store.sizeBytes();
    } catch {
      // Unreachable store: the last size read stands.
    }
    return this.#lastSize;
  }

  /** Failed writes since start (writes dropped from a full queue included). */
  get writeErrors(): number {
    return this.#writeErrors + this.#queue.dropped;
  }

  /** Writes waiting for the store (it is unavailable, or they are being written). */
  get queued(): number {
    return this.#queue.waiting;
  }

  /** False while writes wait for an unavailable store, after a failed write, or once closed (readiness). */
  get healthy(): boolean {
    return this.#lastWriteOk && !this.#queue.unavailable && !this.#o.store.closed;
  }

  /** True when this node exports the cluster-wide oversight gauges (always, on a single-node store). */
  get leader(): boolean {
    return this.#leader;
  }

  async #heartbeat(): Promise<void> {
    if (this.#o.store.closed) return;
    try {
      const hb = await this.#o.store.heartbeat();
      this.#leader = hb.leader;
      this.#lastWriteOk = true;
      if (hb.recovered > 0) this.#log.warn({ recovered: hb.recovered }, 'viewings of a node that stopped heartbeating closed as unknown');
    } catch (err) {
      this.#failed('heartbeat', err);
    }
  }

  async #pruneToSize(): Promise<void> {
    const maxBytes = this.#o.maxBytes;
    if (!maxBytes || this.#o.store.closed) return;
    try {
      const n = await this.#o.store.pruneToSize(maxBytes);
      this.#lastWriteOk = true;
      if (n > 0) this.#log.warn({ deleted: n, maxBytes }, 'audit store at its size bound: oldest ended viewings deleted');
    } catch (err) {
      this.#failed('prune', err);
    }
  }

  async #prune(): Promise<void> {
    if (this.#o.store.closed) return;
    try {
      const n = await this.#o.store.prune(Date.now() - this.#o.retentionMs);
      this.#lastWriteOk = true;
      if (n > 0) this.#log.info({ deleted: n }, 'audit retention: old viewings deleted');
    } catch (err) {
      this.#failed('prune', err);
    }
  }

  #failed(op: string, err: unknown): void {
    this.#writeErrors++;
    this.#lastWriteOk = false;
    this.#log.error({ op, err: (err as Error).message }, 'audit write failed');
  }

  #write(op: string, run: () => Promise<unknown>): void {
    if (this.#o.store.closed) return;
    const queued = this.#queue.push(op, async () => {
      await run();
      this.#lastWriteOk = true;
    });
    // One line per thousand drops: a long outage must not flood the log.
    if (!queued && this.#queue.dropped % 1000 === 1) {
      this.#log.error({ op, dropped: this.#queue.dropped, queueMax: this.#o.queueMax ?? 10_000 }, 'audit writes dropped: the queue is full');
    }
  }

  /**
   * Stops recording, writes what is queued (for up to `flushMs`) and closes
   * the store (final heartbeat). Call after the sessions were closed, so
   * their ends are queued already.
   */
  async close(flushMs = 3000): Promise<void> {
    this.#unsubscribe();
    for (const t of this.#timers) clearInterval(t);
    const left = await this.#queue.flush(flushMs);
    this.#queue.stop();
    if (left > 0) this.#log.error({ left }, 'audit store closing with writes it could not take (lost)');
    // A shared store's open viewings are mostly other nodes': only a single-node store warns.
    const open = this.#o.store.closed || this.#o.store.shared ? 0 : await this.#o.store.openCount().catch(() => 0);
    if (open > 0) this.#log.warn({ open }, 'audit store closing with open viewings');
    await this.#o.store.close();
  }
}
