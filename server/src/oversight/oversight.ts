/**
 * Oversight: who is watching which camera, the one owner of that picture
 * (admin camera list, /oversight, the operator page, metrics all read it; it
 * runs whether or not metrics are on). Viewings (`consumers`) and viewers
 * (distinct sessions: the one meaning of "viewers" in Vigil) per camera come
 * from a {@link WatchSource}: this node's session facts on a single node,
 * every node's open audit rows in a cluster, so a camera counts as watched
 * wherever its viewers are. Tells which live cameras nobody has watched for
 * longer than a threshold.
 *
 * A live camera's "unwatched for" clock starts at the latest of: its last
 * viewing ending, its becoming live, and this process starting.
 */
import type { MediaApi } from '@vigil/gateway';
import type { WatchSource } from './watch-source.ts';

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
  /** True when this node exports the cluster-wide gauges (single node: always). */
  leader: boolean;
}

export class Oversight {
  readonly #media: MediaApi;
  readonly #source: WatchSource;
  readonly #unwatchedAfterMs: number;
  readonly #startedAt: number;

  /**
   * @param source who watches what (this node's viewers, or the cluster's)
   * @param unwatchedAfterSec threshold for `unwatched`, s
   */
  constructor(media: MediaApi, source: WatchSource, unwatchedAfterSec: number, now = Date.now()) {
    this.#media = media;
    this.#source = source;
    this.#unwatchedAfterMs = unwatchedAfterSec * 1000;
    this.#startedAt = now;
  }

  /** Who watches `cameraId` now: distinct sessions (`viewers`) and their viewings (`consumers`). O(1). */
  watching(cameraId: string): { viewers: number; consumers: number } {
    return this.#source.watching(cameraId);
  }

  /** True when this node exports the cluster-wide oversight gauges. */
  get leader(): boolean {
    return this.#source.leader;
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
      const { consumers, viewers } = this.#source.watching(camera.id);
      const isLive = camera.state === 'live';
      let unwatchedSec = 0;
      if (isLive) {
        live++;
        if (consumers > 0) watched++;
        else {
          const since = Math.max(this.#startedAt, camera.stateSince, this.#source.lastWatchedAt(camera.id) ?? 0);
          unwatchedSec = Math.max(0, now - since) / 1000;
          if (unwatchedSec * 1000 > this.#unwatchedAfterMs) unwatched++;
        }
      }
      cameras.push({ camera: camera.id, state: camera.state, consumers, viewers, unwatchedSec });
    }
    this.#source.forget(present);
    return {
      at: now,
      cameras,
      live,
      watched,
      coverage: live === 0 ? 0 : watched / live,
      unwatchedAfterSec: this.#unwatchedAfterMs / 1000,
      unwatched,
      leader: this.#source.leader,
    };
  }

  /** Stops listening. */
  close(): void {
    this.#source.close();
  }
}
