/**
 * Writes the audit trail from session facts: a row when a viewing starts
 * (the `consume` of a new viewing), its end when the viewing's last consumer
 * closes (`consumerclose` with `viewingEnded`). A consumer that continues a
 * viewing (quality switch, re-subscribe within VIEWING_COALESCE_MS of its
 * end) writes no new row: an ended row is reopened. Writes are synchronous
 * and committed before the event handler returns, so nothing but the end of
 * open viewings can be lost to a crash. A failed write is logged and counted
 * but never breaks the viewer's request.
 *
 * Growth is bounded three ways: new viewings per subject are rate limited
 * (`rateLimits.viewingsPerSubject`), re-subscribes are coalesced, and the
 * store is pruned by age (`audit.retentionDays`) and by size
 * (`audit.maxSizeMb`: oldest ended viewings first).
 */
import type { Logger } from 'pino';
import type { ConsumerEndReason, SessionObserver, SessionObserverEvents } from '../session/observer.ts';
import type { AuditEndReason, AuditStore } from './audit-store.ts';

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
  #writeErrors = 0;
  #lastWriteOk = true;

  constructor(o: AuditRecorderOptions) {
    this.#o = o;
    this.#log = o.logger.child({ component: 'audit' });
    const onJoin = (e: JoinFacts): void => void this.#sessions.set(e.sessionId, e);
    const onSessionClose = (e: SessionObserverEvents['sessionclose'][0]): void => void this.#sessions.delete(e.sessionId);
    const onConsume = (e: SessionObserverEvents['consume'][0]): void => {
      if (e.continued) {
        this.#write('reopen', () => o.store.reopen(e.viewingId));
        return;
      }
      const j = this.#sessions.get(e.sessionId);
      this.#write('start', () =>
        o.store.start({
          consumerId: e.viewingId,
          sessionId: e.sessionId,
          subject: e.subject,
          camera: e.cameraId,
          startedAt: e.at,
          clientAddress: j?.remoteAddress,
          userAgent: j?.userAgent,
          tokenId: j?.tokenId,
        }),
      );
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
    const hb = setInterval(() => this.#write('heartbeat', () => o.store.heartbeat()), o.heartbeatMs);
    hb.unref();
    this.#timers.push(hb);
    if (o.retentionMs > 0) {
      this.#prune();
      const prune = setInterval(() => this.#prune(), PRUNE_PERIOD_MS);
      prune.unref();
      this.#timers.push(prune);
    }
    if (o.maxBytes) {
      this.#pruneToSize();
      const bySize = setInterval(() => this.#pruneToSize(), SIZE_CHECK_PERIOD_MS);
      bySize.unref();
      this.#timers.push(bySize);
    }
  }

  /** Bytes the store's pages take now (SQLite page_count × page_size); 0 once closed. */
  get sizeBytes(): number {
    return this.#o.store.closed ? 0 : this.#o.store.sizeBytes();
  }

  #pruneToSize(): void {
    const maxBytes = this.#o.maxBytes;
    if (!maxBytes) return;
    this.#write('prune', () => {
      const n = this.#o.store.pruneToSize(maxBytes);
      if (n > 0) this.#log.warn({ deleted: n, maxBytes }, 'audit store at its size bound: oldest ended viewings deleted');
    });
  }

  /** Failed writes since start. */
  get writeErrors(): number {
    return this.#writeErrors;
  }

  /** False when the most recent write failed (readiness). */
  get healthy(): boolean {
    return this.#lastWriteOk && !this.#o.store.closed;
  }

  #prune(): void {
    this.#write('prune', () => {
      const n = this.#o.store.prune(Date.now() - this.#o.retentionMs);
      if (n > 0) this.#log.info({ deleted: n }, 'audit retention: old viewings deleted');
    });
  }

  #write(what: string, fn: () => void): void {
    if (this.#o.store.closed) return;
    try {
      fn();
      this.#lastWriteOk = true;
    } catch (err) {
      this.#writeErrors++;
      this.#lastWriteOk = false;
      this.#log.error({ op: what, err: (err as Error).message }, 'audit write failed');
    }
  }

  /**
   * Stops recording and closes the store (final heartbeat). Call after the
   * sessions were closed, so their ends are already written.
   */
  close(): void {
    this.#unsubscribe();
    for (const t of this.#timers) clearInterval(t);
    const open = this.#o.store.closed ? 0 : this.#o.store.openCount();
    if (open > 0) this.#log.warn({ open }, 'audit store closing with open viewings');
    this.#o.store.close();
  }
}
