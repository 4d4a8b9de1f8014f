/**
 * Every node's viewers, read from the shared audit trail: each node writes
 * its viewings there (committed at start and end), so the open rows are who
 * is watching what across the cluster. Polled every `pollMs` for the
 * cameras of the media API; between polls and while the database cannot
 * answer, this node's own viewers ({@link LocalWatch}) are a floor, so a
 * camera watched here never reads as unwatched here.
 *
 * Whether this node is the oversight leader comes from the audit heartbeat
 * (`leader()`), so the cluster-wide gauges are exported by one node.
 */
import type { Logger } from 'pino';
import type { AuditStore, CameraWatch } from '../audit/audit-store.ts';
import type { LocalWatch } from './local-watch.ts';
import type { WatchSource } from './watch-source.ts';

export interface ClusterWatchOptions {
  store: AuditStore;
  local: LocalWatch;
  /** Camera ids to ask about (the media API's cameras). */
  cameras: () => readonly string[];
  /** True when this node is the leader (the audit heartbeat's answer). */
  leader: () => boolean;
  /** Poll period, ms. */
  pollMs: number;
  logger: Logger;
}

export class ClusterWatch implements WatchSource {
  readonly #o: ClusterWatchOptions;
  readonly #log: Logger;
  readonly #timer: NodeJS.Timeout;
  #cluster = new Map<string, CameraWatch>();
  #polling = false;
  #failing = false;

  constructor(o: ClusterWatchOptions) {
    this.#o = o;
    this.#log = o.logger.child({ component: 'oversight' });
    this.#timer = setInterval(() => void this.poll(), o.pollMs);
    this.#timer.unref();
    void this.poll();
  }

  /** Reads every node's open viewings now (skipped while a poll is in flight). A failure keeps the last answer and is logged once. */
  async poll(): Promise<void> {
    if (this.#polling || this.#o.store.closed) return;
    this.#polling = true;
    try {
      this.#cluster = await this.#o.store.watchByCamera(this.#o.cameras());
      if (this.#failing) this.#log.info('cluster viewers readable again');
      this.#failing = false;
    } catch (err) {
      if (!this.#failing) this.#log.warn({ err: (err as Error).message }, 'cannot read cluster viewers: showing the last answer and this node\'s own');
      this.#failing = true;
    } finally {
      this.#polling = false;
    }
  }

  get leader(): boolean {
    return this.#o.leader();
  }

  watching(cameraId: string): { viewers: number; consumers: number } {
    const mine = this.#o.local.watching(cameraId);
    const all = this.#cluster.get(cameraId);
    return { viewers: Math.max(mine.viewers, all?.viewers ?? 0), consumers: Math.max(mine.consumers, all?.consumers ?? 0) };
  }

  lastWatchedAt(cameraId: string): number | undefined {
    const a = this.#o.local.lastWatchedAt(cameraId);
    const b = this.#cluster.get(cameraId)?.lastWatchedAt;
    return a === undefined ? b : b === undefined ? a : Math.max(a, b);
  }

  forget(present: ReadonlySet<string>): void {
    this.#o.local.forget(present);
  }

  close(): void {
    clearInterval(this.#timer);
    this.#o.local.close();
  }
}
