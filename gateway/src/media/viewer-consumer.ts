/**
 * The local {@link ViewerConsumer}: a mediasoup video consumer on a viewer's
 * WebRtcTransport and, when the camera has audio, its paired audio consumer
 * (paused, resumed and closed with the video).
 *
 * Why it closed is decided here, once, from mediasoup's events (Consumer
 * docs: `producerclose`, `transportclose`) and the camera's incarnation:
 * the producer closed and the camera was removed -> `camera_gone`; closed but
 * the camera id still has an incarnation (restart, worker replaced, config
 * update) -> `resubscribe`; its transport closed -> `transport_closed`.
 *
 * Instant start: an optional {@link Primer} (fanout/primer.ts) rides along;
 * it starts when the viewing is resumed and is closed on pause and close.
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { Quality } from '@vigil/protocol';
import type { Camera } from '../cameras/camera.ts';
import type { Primer } from '../fanout/primer.ts';
import type { MediaJson, ViewerConsumer, ViewerConsumerCloseReason, ViewerConsumerEvents } from './media-types.ts';

export class LocalViewerConsumer extends EventEmitter<ViewerConsumerEvents> implements ViewerConsumer {
  readonly #video: types.Consumer;
  #audio: types.Consumer | undefined;
  #primer: Primer | undefined;
  readonly #camera: Camera;
  readonly quality: Quality;
  readonly transportId: string;
  #reason: ViewerConsumerCloseReason | undefined;

  /**
   * @param video a consumer of `camera`'s stream at `quality`
   * @param currentEpoch the current incarnation of the camera's id (undefined: none), asked when the producer closes
   */
  constructor(video: types.Consumer, camera: Camera, quality: Quality, transportId: string, currentEpoch: (id: string) => number | undefined) {
    super();
    this.#video = video;
    this.#camera = camera;
    this.quality = quality;
    this.transportId = transportId;
    video.on('producerclose', () => {
      // The camera still exists: its stream was re-ingested (restart, worker
      // replaced, config update), so the client should consume it again.
      const gone = camera.closedFor === 'removed' || (camera.closedFor === undefined && currentEpoch(camera.id) !== camera.epoch);
      this.#reason ??= gone ? 'camera_gone' : 'resubscribe';
    });
    video.on('transportclose', () => {
      this.#reason ??= 'transport_closed';
    });
    video.observer.once('close', () => {
      this.#audio?.close();
      this.#primer?.close();
      this.emit('close', this.#reason ?? 'closed');
    });
  }

  /** Pairs the camera's audio consumer (closed at once if the video already is). */
  pairAudio(audio: types.Consumer): void {
    if (this.#video.closed) {
      audio.close();
      return;
    }
    this.#audio = audio;
  }

  /** Attaches the instant-start primer (closed at once if the video already is). */
  attachPrimer(primer: Primer): void {
    if (this.#video.closed) {
      primer.close();
      return;
    }
    this.#primer = primer;
  }

  /** The primer's server-side state (tests, benchmark); undefined without one. */
  get primerState(): { closed: boolean; stats: Primer['stats'] } | undefined {
    const p = this.#primer;
    return p ? { closed: p.closed, stats: p.stats } : undefined;
  }

  get primer(): ViewerConsumer['primer'] {
    const p = this.#primer;
    if (!p || p.closed) return undefined;
    const c = p.consumer;
    return { id: c.id, producerId: c.producerId, rtpParameters: c.rtpParameters as unknown as MediaJson };
  }

  get id(): string {
    return this.#video.id;
  }

  get cameraId(): string {
    return this.#camera.id;
  }

  get epoch(): number {
    return this.#camera.epoch;
  }

  get producerId(): string {
    return this.#video.producerId;
  }

  get kind(): 'audio' | 'video' {
    return this.#video.kind;
  }

  get rtpParameters(): MediaJson {
    return this.#video.rtpParameters as unknown as MediaJson;
  }

  get audio(): ViewerConsumer['audio'] {
    const a = this.#audio;
    return a ? { id: a.id, producerId: a.producerId, rtpParameters: a.rtpParameters as unknown as MediaJson } : undefined;
  }

  get closed(): boolean {
    return this.#video.closed;
  }

  get paused(): boolean {
    return this.#video.paused;
  }

  async pause(): Promise<void> {
    // A primer is for the start only: a resumed viewing waits for a keyframe.
    this.#primer?.close();
    await Promise.all([this.#video.pause(), this.#audio?.pause()]);
  }

  async resume(): Promise<void> {
    await Promise.all([this.#video.resume(), this.#audio?.resume()]);
    // Not awaited: the replay waits for DTLS, which may come after this answer.
    void this.#primer?.start();
  }

  async requestKeyFrame(): Promise<void> {
    await this.#video.requestKeyFrame();
  }

  close(): void {
    this.#video.close();
  }
}
