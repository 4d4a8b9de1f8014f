/**
 * Tells one viewer session when a camera it consumes changes state or
 * becomes degraded / recovers (`cameraState` and `cameraDegraded`
 * notifications, see @vigil/protocol), once per camera however many
 * consumers of it the session holds.
 *
 * Every session watching a camera shares ONE 'statechange' and ONE
 * 'degradedchange' listener on that camera (a fan-out set per camera), so a
 * camera with thousands of viewers carries two listeners, not thousands (no
 * MaxListenersExceededWarning, and the camera view stays untouched).
 */
import type { CameraDegradation, CameraTransition, CameraView } from '@vigil/gateway';
import type { CameraDegradedInfo, CameraLiveState } from '@vigil/protocol';

/** What a watching session is told about a camera. */
export type CameraChange = { kind: 'state'; state: CameraLiveState } | { kind: 'degraded'; degraded: CameraDegradedInfo | null };

type ChangeCallback = (change: CameraChange) => void;

/** Per camera: the callbacks of the sessions watching it, and how to unhook the listeners. */
const hubs = new WeakMap<CameraView, { callbacks: Set<ChangeCallback>; off: () => void }>();

/**
 * The viewer-facing state of a camera: its lifecycle state, or undefined for
 * `closed` (viewers learn that as `consumerClosed` with `camera_gone`).
 */
export function liveState(state: CameraView['state']): CameraLiveState | undefined {
  return state === 'closed' ? undefined : state;
}

/**
 * The viewer-facing degradation of a camera: its reason only (the gateway's
 * message names config keys meant for operators), or null when it plays well.
 */
export function viewerDegradation(degraded: CameraDegradation | undefined): CameraDegradedInfo | null {
  return degraded ? { reason: degraded.reason } : null;
}

function subscribe(camera: CameraView, cb: ChangeCallback): () => void {
  let hub = hubs.get(camera);
  if (!hub) {
    const callbacks = new Set<ChangeCallback>();
    const fanOut = (change: CameraChange): void => {
      for (const fn of [...callbacks]) fn(change);
    };
    const onState = (t: CameraTransition): void => {
      const state = liveState(t.state);
      if (state) fanOut({ kind: 'state', state });
    };
    const onDegraded = (d: CameraDegradation | undefined): void => fanOut({ kind: 'degraded', degraded: viewerDegradation(d) });
    camera.on('statechange', onState);
    camera.on('degradedchange', onDegraded);
    hub = {
      callbacks,
      off: () => {
        camera.off('statechange', onState);
        camera.off('degradedchange', onDegraded);
      },
    };
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
  readonly #notify: (cameraId: string, change: CameraChange) => void;
  readonly #watched = new Map<CameraView, { consumers: number; unsubscribe: () => void }>();

  /** @param notify sends the `cameraState` / `cameraDegraded` notification to this session's client */
  constructor(notify: (cameraId: string, change: CameraChange) => void) {
    this.#notify = notify;
  }

  /** A consumer of `camera` was created: start watching it (if not already). */
  add(camera: CameraView): void {
    const w = this.#watched.get(camera);
    if (w) {
      w.consumers++;
      return;
    }
    const unsubscribe = subscribe(camera, (change) => this.#notify(camera.id, change));
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
