/**
 * Oversight: who is watching which camera, the one owner of that picture
 * (admin camera list, /oversight, metrics all read it; it runs whether or
 * not metrics are on). Counts viewings (`consumers`) and viewers (distinct
 * sessions: the one meaning of "viewers" in Vigil) per camera from session
 * facts, and tells which live cameras nobody has watched for longer than a
 * threshold.
 *
 * A live camera's "unwatched for" clock starts at the latest of: its last
 * viewing ending, its becoming live, and this process starting.
 */
import type { MediaApi } from '@vigil/gateway';
import type { SessionObserver, SessionObserverEvents } from '../signaling/session-observer.ts';

interface Watch {
  consumers: number;
  /** Consumers per session id. */
  sessions: Map<string, number>;
  /** Last time the camera was being watched (a viewing started or the last one ended), ms since epoch. */
  lastWatchedAt: number | undefined;
}

/** One camera's oversight facts. */
export interface CameraOversight {
  camera: string;
  state: string;
  consumers: number;
  viewers: number;
  /** Live with no viewer for this long, s (0 when watched or not live). */
  unwatchedSec: number;
}

/** The whole picture at one instant. */
export interface OversightSnapshot {
  at: number;
  cameras: CameraOversight[];
  live: number;
  /** Live cameras with at least one viewer. */
  watched: number;
  /** watched / live; 0 when no camera is live. */
  coverage: number;
  unwatchedAfterSec: number;
  /** Live cameras unwatched for more than `unwatchedAfterSec`. */
  unwatched: number;
}

export class Oversight {
  readonly #media: MediaApi;
  readonly #unwatchedAfterMs: number;
  readonly #startedAt: number;
  readonly #watch = new Map<string, Watch>();
  readonly #off: () => void;

  /**
   * @param unwatchedAfterSec threshold for `unwatched`, s
   */
  constructor(media: MediaApi, observer: SessionObserver, unwatchedAfterSec: number, now = Date.now()) {
    this.#media = media;
    this.#unwatchedAfterMs = unwatchedAfterSec * 1000;
    this.#startedAt = now;
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

  /** Who watches `cameraId` now: distinct sessions (`viewers`) and their viewings (`consumers`). O(1). */
  watching(cameraId: string): { viewers: number; consumers: number } {
    const w = this.#watch.get(cameraId);
    return { viewers: w?.sessions.size ?? 0, consumers: w?.consumers ?? 0 };
  }

  /** Computes the picture now; O(cameras), no I/O. Forgets cameras that are gone and unwatched. */
  snapshot(now = Date.now()): OversightSnapshot {
    const cameras: CameraOversight[] = [];
    let live = 0;
    let watched = 0;
    let unwatched = 0;
    const present = new Set<string>();
    for (const camera of this.#media.cameras()) {
      present.add(camera.id);
      const w = this.#watch.get(camera.id);
      const consumers = w?.consumers ?? 0;
      const isLive = camera.state === 'live';
      let unwatchedSec = 0;
      if (isLive) {
        live++;
        if (consumers > 0) watched++;
        else {
          const since = Math.max(this.#startedAt, camera.stateSince, w?.lastWatchedAt ?? 0);
          unwatchedSec = Math.max(0, now - since) / 1000;
          if (unwatchedSec * 1000 > this.#unwatchedAfterMs) unwatched++;
        }
      }
      cameras.push({ camera: camera.id, state: camera.state, consumers, viewers: w?.sessions.size ?? 0, unwatchedSec });
    }
    for (const [id, w] of this.#watch) if (!present.has(id) && w.consumers === 0) this.#watch.delete(id);
    return {
      at: now,
      cameras,
      live,
      watched,
      coverage: live === 0 ? 0 : watched / live,
      unwatchedAfterSec: this.#unwatchedAfterMs / 1000,
      unwatched,
    };
  }

  /** Stops listening. */
  close(): void {
    this.#off();
  }
}
