/**
 * This node's viewers, counted from its own session facts (`consume`,
 * `consumerclose`): exact and immediate, blind to other nodes.
 */
import type { SessionObserver, SessionObserverEvents } from '../signaling/session-observer.ts';
import type { WatchSource } from './watch-source.ts';

interface Watch {
  consumers: number;
  /** Consumers per session id. */
  sessions: Map<string, number>;
  /** Last time the camera was being watched (a viewing started or the last one ended), ms since epoch. */
  lastWatchedAt: number | undefined;
}

export class LocalWatch implements WatchSource {
  readonly leader = true;
  readonly #watch = new Map<string, Watch>();
  readonly #off: () => void;

  constructor(observer: SessionObserver) {
    const onConsume = (e: SessionObserverEvents['consume'][0]): void => {
      let w = this.#watch.get(e.cameraId);
      if (!w) this.#watch.set(e.cameraId, (w = { consumers: 0, sessions: new Map(), lastWatchedAt: undefined }));
      w.consumers++;
      w.sessions.set(e.sessionId, (w.sessions.get(e.sessionId) ?? 0) + 1);
      w.lastWatchedAt = e.at;
    };
    const onClose = (e: SessionObserverEvents['consumerclose'][0]): void => {
      const w = this.#watch.get(e.cameraId);
      if (!w) return;
      w.consumers = Math.max(0, w.consumers - 1);
      const n = (w.sessions.get(e.sessionId) ?? 1) - 1;
      if (n > 0) w.sessions.set(e.sessionId, n);
      else w.sessions.delete(e.sessionId);
      w.lastWatchedAt = e.at;
    };
    observer.on('consume', onConsume);
    observer.on('consumerclose', onClose);
    this.#off = () => {
      observer.off('consume', onConsume);
      observer.off('consumerclose', onClose);
    };
  }

  watching(cameraId: string): { viewers: number; consumers: number } {
    const w = this.#watch.get(cameraId);
    return { viewers: w?.sessions.size ?? 0, consumers: w?.consumers ?? 0 };
  }

  lastWatchedAt(cameraId: string): number | undefined {
    return this.#watch.get(cameraId)?.lastWatchedAt;
  }

  forget(present: ReadonlySet<string>): void {
    for (const [id, w] of this.#watch) if (!present.has(id) && w.consumers === 0) this.#watch.delete(id);
  }

  close(): void {
    this.#off();
  }
}
