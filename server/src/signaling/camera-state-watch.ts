/**
 * Tells one viewer session when a camera it consumes changes state
 * (`cameraState` notification, see @vigil/protocol), once per camera however
 * many consumers of it the session holds.
 *
 * Every session watching a camera shares ONE 'statechange' listener on that
 * camera (a fan-out set per camera), so a camera with thousands of viewers
 * carries one listener, not thousands (no MaxListenersExceededWarning, and
 * the camera view stays untouched).
 */
import type { CameraTransition, CameraView } from '@vigil/gateway';
import type { CameraLiveState } from '@vigil/protocol';

type StateCallback = (state: CameraLiveState) => void;

/** Per camera: the callbacks of the sessions watching it, and how to unhook the one listener. */
const hubs = new WeakMap<CameraView, { callbacks: Set<StateCallback>; off: () => void }>();

/**
 * The viewer-facing state of a camera: its lifecycle state, or undefined for
 * `closed` (viewers learn that as `consumerClosed` with `camera_gone`).
 */
export function liveState(state: CameraView['state']): CameraLiveState | undefined {
  return state === 'closed' ? undefined : state;
}

function subscribe(camera: CameraView, cb: StateCallback): () => void {
  let hub = hubs.get(camera);
  if (!hub) {
    const callbacks = new Set<StateCallback>();
    const listener = (t: CameraTransition): void => {
      const state = liveState(t.state);
      if (!state) return;
      for (const fn of [...callbacks]) fn(state);
    };
    camera.on('statechange', listener);
    hub = { callbacks, off: () => camera.off('statechange', listener) };
    hubs.set(camera, hub);
  }
  hub.callbacks.add(cb);
  const h = hub;
  return () => {
    h.callbacks.delete(cb);
    if (h.callbacks.size === 0) {
      h.off();
      if (hubs.get(camera) === h) hubs.delete(camera);
    }
  };
}

/** One session's watch over the cameras it consumes (reference-counted per camera). */
export class CameraStateWatch {
  readonly #notify: (cameraId: string, state: CameraLiveState) => void;
  readonly #watched = new Map<CameraView, { consumers: number; unsubscribe: () => void }>();

  /** @param notify sends the `cameraState` notification to this session's client */
  constructor(notify: (cameraId: string, state: CameraLiveState) => void) {
    this.#notify = notify;
  }

  /** A consumer of `camera` was created: start watching it (if not already). */
  add(camera: CameraView): void {
    const w = this.#watched.get(camera);
    if (w) {
      w.consumers++;
      return;
    }
    const unsubscribe = subscribe(camera, (state) => this.#notify(camera.id, state));
    this.#watched.set(camera, { consumers: 1, unsubscribe });
  }

  /** A consumer of `camera` closed: stop watching it when it was the last one. */
  remove(camera: CameraView): void {
    const w = this.#watched.get(camera);
    if (!w) return;
    if (--w.consumers > 0) return;
    w.unsubscribe();
    this.#watched.delete(camera);
  }

  /** Stops watching every camera (session closed). */
  close(): void {
    for (const w of this.#watched.values()) w.unsubscribe();
    this.#watched.clear();
  }
}
