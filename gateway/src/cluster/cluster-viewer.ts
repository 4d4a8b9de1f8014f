/**
 * Viewer handles on a cluster node: the viewer's transport is a local
 * WebRtcTransport (LocalViewerTransport); what it consumes is either a camera
 * ingested here (the local consume, its handle wrapped) or a camera pulled
 * from its origin (a consumer of the edge pipe's producer, {@link PipedViewerConsumer}).
 *
 * Close reasons follow the cluster's directory, not the local gateway's: a
 * camera whose ingest moved to another node (failover, fencing) is still in
 * the directory, so its consumers close with `resubscribe` and the SDK
 * consumes again (now from the new origin); only a camera gone from the
 * directory closes them with `camera_gone`.
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { Quality } from '@vigil/protocol';
import type { LocalViewerTransport } from '../media/viewer-transport.ts';
import type {
  MediaJson,
  ViewerConsumer,
  ViewerConsumerCloseReason,
  ViewerConsumerEvents,
  ViewerTransport,
  ViewerTransportEvents,
} from '../media/media-types.ts';
import type { EdgePipe } from './edge-pipes.ts';

/** What a cluster viewer transport needs from its node (ClusterMedia). */
export interface ClusterViewerHost {
  /** The directory's current incarnation epoch of a camera, undefined when it is not in the directory. */
  epochOf(cameraId: string): number | undefined;
  /**
   * Consumes a camera ingested elsewhere on `transport`, through this node's pipe.
   * @throws ProtocolError `camera_offline`, `cluster_unavailable`, `unsupported_codec`, `bad_request`
   */
  consumeRemote(transport: types.WebRtcTransport, o: { cameraId: string; quality: Quality; rtpCapabilities: MediaJson; owner: string }): Promise<ViewerConsumer>;
  /** True when this node ingests the camera now (or is opening its ingest; then waits for it). */
  ingestsHere(cameraId: string): Promise<boolean>;
}

export class ClusterViewerTransport extends EventEmitter<ViewerTransportEvents> implements ViewerTransport {
  readonly #inner: LocalViewerTransport;
  readonly #host: ClusterViewerHost;

  constructor(inner: LocalViewerTransport, host: ClusterViewerHost) {
    super();
    this.#inner = inner;
    this.#host = host;
    inner.once('close', (reason) => this.emit('close', reason));
  }

  get id(): string {
    return this.#inner.id;
  }

  get owner(): string {
    return this.#inner.owner;
  }

  get params(): ViewerTransport['params'] {
    return this.#inner.params;
  }

  get closed(): boolean {
    return this.#inner.closed;
  }

  /** The mediasoup transport (egress stats). */
  get webRtcTransport(): types.WebRtcTransport {
    return this.#inner.webRtcTransport;
  }

  connect(dtlsParameters: MediaJson): Promise<void> {
    return this.#inner.connect(dtlsParameters);
  }

  restartIce(): Promise<MediaJson> {
    return this.#inner.restartIce();
  }

  async consume(o: { cameraId: string; quality: Quality; rtpCapabilities: MediaJson }): Promise<ViewerConsumer> {
    const epoch = this.#host.epochOf(o.cameraId);
    if (await this.#host.ingestsHere(o.cameraId)) {
      return new DirectoryConsumer(await this.#inner.consume(o), epoch ?? 0, this.#host);
    }
    return this.#host.consumeRemote(this.#inner.webRtcTransport, { ...o, owner: this.owner });
  }

  close(): void {
    this.#inner.close();
  }
}

/** Maps a closed consumer's reason onto the cluster's directory. */
function directoryReason(why: ViewerConsumerCloseReason, cameraId: string, host: ClusterViewerHost): ViewerConsumerCloseReason {
  if (why === 'camera_gone' && host.epochOf(cameraId) !== undefined) return 'resubscribe';
  return why;
}

/** A consumer of a camera ingested on this node (the local handle), its close reason and epoch taken from the directory. */
class DirectoryConsumer extends EventEmitter<ViewerConsumerEvents> implements ViewerConsumer {
  readonly #inner: ViewerConsumer;
  readonly epoch: number;

  constructor(inner: ViewerConsumer, epoch: number, host: ClusterViewerHost) {
    super();
    this.#inner = inner;
    this.epoch = epoch;
    inner.once('close', (why) => this.emit('close', directoryReason(why, inner.cameraId, host)));
  }

  get id(): string {
    return this.#inner.id;
  }
  get transportId(): string {
    return this.#inner.transportId;
  }
  get cameraId(): string {
    return this.#inner.cameraId;
  }
  get quality(): Quality {
    return this.#inner.quality;
  }
  get producerId(): string {
    return this.#inner.producerId;
  }
  get kind(): 'audio' | 'video' {
    return this.#inner.kind;
  }
  get rtpParameters(): MediaJson {
    return this.#inner.rtpParameters;
  }
  get audio(): ViewerConsumer['audio'] {
    return this.#inner.audio;
  }
  get primer(): ViewerConsumer['primer'] {
    return this.#inner.primer;
  }
  get closed(): boolean {
    return this.#inner.closed;
  }
  get paused(): boolean {
    return this.#inner.paused;
  }
  pause(): Promise<void> {
    return this.#inner.pause();
  }
  resume(): Promise<void> {
    return this.#inner.resume();
  }
  requestKeyFrame(): Promise<void> {
    return this.#inner.requestKeyFrame();
  }
  close(): void {
    this.#inner.close();
  }
}

/**
 * A viewer's consumer of a piped camera: a mediasoup consumer of the edge
 * pipe's producer (and of its audio, paired), holding a reference on the pipe
 * until it closes.
 */
export class PipedViewerConsumer extends EventEmitter<ViewerConsumerEvents> implements ViewerConsumer {
  readonly #video: types.Consumer;
  #audio: types.Consumer | undefined;
  readonly cameraId: string;
  readonly epoch: number;
  readonly quality: Quality;
  readonly transportId: string;
  #reason: ViewerConsumerCloseReason | undefined;

  /**
   * @param pipe the pipe `video` consumes from; adopts the reference its `acquire` took, given back on close
   * @param epoch the directory's incarnation consumed
   */
  constructor(video: types.Consumer, pipe: EdgePipe, o: { cameraId: string; epoch: number; quality: Quality; transportId: string; host: ClusterViewerHost }) {
    super();
    this.#video = video;
    this.cameraId = o.cameraId;
    this.epoch = o.epoch;
    this.quality = o.quality;
    this.transportId = o.transportId;
    video.on('producerclose', () => {
      this.#reason ??= o.host.epochOf(o.cameraId) === undefined ? 'camera_gone' : 'resubscribe';
    });
    video.on('transportclose', () => {
      this.#reason ??= 'transport_closed';
    });
    video.observer.once('close', () => {
      this.#audio?.close();
      pipe.unref();
      this.emit('close', directoryReason(this.#reason ?? 'closed', o.cameraId, o.host));
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

  get id(): string {
    return this.#video.id;
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
  /** No instant start through a pipe yet: the GOP cache is on the camera's origin node. */
  get primer(): ViewerConsumer['primer'] {
    return undefined;
  }
  get closed(): boolean {
    return this.#video.closed;
  }
  get paused(): boolean {
    return this.#video.paused;
  }
  async pause(): Promise<void> {
    await Promise.all([this.#video.pause(), this.#audio?.pause()]);
  }
  async resume(): Promise<void> {
    await Promise.all([this.#video.resume(), this.#audio?.resume()]);
  }
  async requestKeyFrame(): Promise<void> {
    await this.#video.requestKeyFrame();
  }
  close(): void {
    this.#video.close();
  }
}
