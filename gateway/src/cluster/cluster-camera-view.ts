/**
 * A camera as a cluster node sees it ({@link CameraView}), whichever node
 * ingests it. One view per camera incarnation in this node's directory (the
 * config file; a new view with a higher epoch on every add and config update,
 * as LocalMedia): the directory is read synchronously for every viewer's scope
 * check, with or without Redis.
 *
 * Its state follows the local camera while this node ingests it, else the
 * origin's heartbeat (the state the origin reports for it, at most one
 * heartbeat old), else `offline` when no live node ingests it. Moving the
 * ingest between nodes (failover) keeps the view and its epoch: to a viewer it
 * is a re-ingest, as a worker replacement is on one node.
 */
import { EventEmitter } from 'node:events';
import type { Quality } from '@vigil/protocol';
import type { CameraConfig } from '../config/schema.ts';
import type { CameraDegradation, CameraState, CameraTransition, CameraView, CameraViewEvents } from '../media/media-types.ts';

const HISTORY_LENGTH = 20;

export class ClusterCameraView extends EventEmitter<CameraViewEvents> implements CameraView {
  readonly config: CameraConfig;
  readonly epoch: number;
  #local: CameraView | undefined;
  readonly #onLocalState = (t: CameraTransition): void => {
    if (t.state !== 'closed') this.#set(t.state, t.reason);
  };
  readonly #onLocalDegraded = (d: CameraDegradation | undefined): void => void this.emit('degradedchange', d);
  #state: CameraState = 'connecting';
  #since = Date.now();
  #reason: string | undefined;
  readonly #history: CameraTransition[] = [{ state: 'connecting', at: this.#since }];

  constructor(config: CameraConfig, epoch: number) {
    super();
    this.config = config;
    this.epoch = epoch;
  }

  get id(): string {
    return this.config.id;
  }

  /** The local camera while this node ingests it. */
  get local(): CameraView | undefined {
    return this.#local;
  }

  /** This node ingests the camera now: follow its state. */
  bindLocal(camera: CameraView): void {
    if (this.#local === camera || this.#state === 'closed') return;
    this.unbindLocal();
    this.#local = camera;
    camera.on('statechange', this.#onLocalState);
    camera.on('degradedchange', this.#onLocalDegraded);
    if (camera.state !== 'closed') this.#set(camera.state, camera.reason);
  }

  /** This node stopped ingesting the camera. */
  unbindLocal(): void {
    const camera = this.#local;
    if (!camera) return;
    camera.off('statechange', this.#onLocalState);
    camera.off('degradedchange', this.#onLocalDegraded);
    this.#local = undefined;
  }

  /** Another node ingests the camera (its reported state), or none does (`offline`). */
  setRemote(state: CameraState, reason?: string): void {
    if (this.#local) return;
    this.#set(state === 'closed' ? 'offline' : state, reason);
  }

  /** The incarnation ended (removed, or replaced by a config update). */
  close(why: 'removed' | 'replaced'): void {
    this.unbindLocal();
    this.#set('closed', why === 'replaced' ? 'config updated' : undefined);
  }

  #set(state: CameraState, reason: string | undefined): void {
    if (this.#state === 'closed' || (state === this.#state && reason === this.#reason)) return;
    if (state === this.#state) {
      this.#reason = reason;
      return;
    }
    this.#state = state;
    this.#since = Date.now();
    this.#reason = reason;
    const t: CameraTransition = { state, at: this.#since, reason };
    this.#history.push(t);
    if (this.#history.length > HISTORY_LENGTH) this.#history.shift();
    this.emit('statechange', t);
  }

  get state(): CameraState {
    return this.#state;
  }

  get stateSince(): number {
    return this.#since;
  }

  get reason(): string | undefined {
    return this.#reason;
  }

  get history(): readonly CameraTransition[] {
    return this.#history;
  }

  get recoveries(): number {
    return this.#local?.recoveries ?? 0;
  }

  get qualities(): Quality[] {
    return this.config.subSource ? ['high', 'low'] : ['high'];
  }

  get ingestId(): string | undefined {
    return this.#local?.ingestId;
  }

  get lastKeyframeAt(): number | undefined {
    return this.#local?.lastKeyframeAt;
  }

  get degraded(): CameraDegradation | undefined {
    return this.#local?.degraded;
  }

  /** As Camera.frameSize, from the config (the same on every node). */
  frameSize(quality: Quality = 'high'): { width?: number; height?: number } {
    const low = quality === 'low' && this.config.subSource !== undefined;
    const src = low ? this.config.subSource! : this.config.source;
    if (src.kind === 'test-pattern') return { width: src.width, height: src.height };
    if (low) return {};
    return {
      ...(this.config.width !== undefined ? { width: this.config.width } : {}),
      ...(this.config.height !== undefined ? { height: this.config.height } : {}),
    };
  }
}
