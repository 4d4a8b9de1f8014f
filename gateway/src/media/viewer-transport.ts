/**
 * The local {@link ViewerTransport}: a mediasoup WebRtcTransport (ICE-lite,
 * UDP and TCP candidates on the worker's WebRtcServer; RFC 8445 §2.5,
 * RFC 6544) placed by the fan-out, and the consumers created on it.
 *
 * DTLS `failed` or `closed` (RFC 6347) closes it; its worker dying closes it
 * with `worker_died` (mediasoup Transport docs: `routerclose`).
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import { ErrorCode, ProtocolError, type Quality } from '@vigil/protocol';
import type { Gateway } from '../gateway.ts';
import type { Fanout } from '../fanout/fanout.ts';
import { LocalViewerConsumer } from './viewer-consumer.ts';
import type { MediaJson, ViewerConsumer, ViewerTransport, ViewerTransportCloseReason, ViewerTransportEvents } from './media-types.ts';

export class LocalViewerTransport extends EventEmitter<ViewerTransportEvents> implements ViewerTransport {
  readonly owner: string;
  readonly #transport: types.WebRtcTransport;
  readonly #gateway: Gateway;
  readonly #fanout: Fanout;
  readonly #log: Logger;
  #reason: ViewerTransportCloseReason | undefined;

  constructor(transport: types.WebRtcTransport, owner: string, gateway: Gateway, fanout: Fanout, logger: Logger) {
    super();
    this.owner = owner;
    this.#transport = transport;
    this.#gateway = gateway;
    this.#fanout = fanout;
    this.#log = logger;
    transport.on('dtlsstatechange', (state) => {
      this.#log.debug({ transportId: transport.id, dtlsState: state }, 'dtls state');
      if (state === 'failed' || state === 'closed') {
        this.#reason ??= 'dtls_failed';
        transport.close();
      }
    });
    transport.on('routerclose', () => {
      this.#reason ??= 'worker_died';
    });
    transport.observer.once('close', () => this.emit('close', this.#reason ?? 'closed'));
  }

  get id(): string {
    return this.#transport.id;
  }

  get params(): ViewerTransport['params'] {
    const t = this.#transport;
    return {
      iceParameters: t.iceParameters as unknown as MediaJson,
      iceCandidates: t.iceCandidates as unknown as MediaJson[],
      dtlsParameters: t.dtlsParameters as unknown as MediaJson,
    };
  }

  get closed(): boolean {
    return this.#transport.closed;
  }

  /** The mediasoup transport, for another implementation inside the gateway that consumes other producers on it (the cluster's piped cameras). */
  get webRtcTransport(): types.WebRtcTransport {
    return this.#transport;
  }

  async connect(dtlsParameters: MediaJson): Promise<void> {
    try {
      await this.#transport.connect({ dtlsParameters: dtlsParameters as unknown as types.DtlsParameters });
    } catch (err) {
      if (err instanceof TypeError) throw new ProtocolError(ErrorCode.BadRequest, 'dtlsParameters are invalid');
      if (err instanceof Error && /connect\(\) already called/i.test(err.message)) {
        throw new ProtocolError(ErrorCode.BadRequest, 'transport already connected');
      }
      throw err;
    }
  }

  async restartIce(): Promise<MediaJson> {
    return (await this.#transport.restartIce()) as unknown as MediaJson;
  }

  async consume(o: { cameraId: string; quality: Quality; rtpCapabilities: MediaJson }): Promise<ViewerConsumer> {
    const camera = this.#gateway.camera(o.cameraId);
    if (!camera) throw new ProtocolError(ErrorCode.CameraOffline, 'camera is offline');
    const caps = o.rtpCapabilities as unknown as types.RtpCapabilities;
    const appData = { sessionId: this.owner, cameraId: camera.id, transportId: this.id };
    const video = await this.#fanout.consume(this.#transport, camera, o.quality, caps, appData);
    const quality = camera.stream(o.quality).quality;
    const consumer = new LocalViewerConsumer(video, camera, quality, this.id, (id) => this.#gateway.camera(id)?.epoch);
    const audio = await this.#fanout
      .consumeAudio(this.#transport, camera, caps, { sessionId: this.owner, cameraId: camera.id, pairedWith: video.id })
      .catch((err: unknown) => {
        this.#log.warn({ cameraId: camera.id, err: (err as Error).message }, 'audio consumer failed; video only');
        return undefined;
      });
    if (audio) consumer.pairAudio(audio);
    const primer = await this.#fanout.prime(this.#transport, camera, quality, caps).catch((err: unknown) => {
      this.#log.warn({ cameraId: camera.id, err: (err as Error).message }, 'primer failed; the viewer waits for a keyframe');
      return undefined;
    });
    if (primer) consumer.attachPrimer(primer);
    return consumer;
  }

  close(): void {
    this.#transport.close();
  }
}
