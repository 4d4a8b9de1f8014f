/**
 * Fan-out: viewer receive transports and consumers.
 *
 * A viewer's WebRtcTransport is placed by {@link WorkerPool.placeViewer}: the
 * camera's own router while it is under its consumer budget, else the
 * least-loaded router (worker CPU, then consumers). When a camera stream's
 * producer lives on another router it is piped there once with
 * `router.pipeToRouter()` (mediasoup docs, Router.pipeToRouter) and every
 * viewer on that router consumes the pipe producer.
 */
import type { types } from 'mediasoup';
import { ErrorCode, ProtocolError, type Quality } from '@vigil/protocol';
import type { Camera } from '../cameras/camera.ts';
import type { WorkerPool } from '../workers/worker-pool.ts';

/** Initial send-side bandwidth estimate for a viewer transport, bps (enough for one 720p feed). */
const INITIAL_OUTGOING_BITRATE_BPS = 2_000_000;

export class Fanout {
  readonly #pool: WorkerPool;
  /** Per producer id: routers it has been piped to (router id -> pipe in progress/done). */
  readonly #piped = new Map<string, Map<string, Promise<void>>>();

  constructor(pool: WorkerPool) {
    this.#pool = pool;
  }

  /**
   * Creates a receive WebRtcTransport (ICE-lite server, UDP and TCP
   * candidates; RFC 8445 §2.5, RFC 6544) on the router chosen for this viewer.
   *
   * @param appData caller data kept on the transport (e.g. session id)
   * @param near a camera the viewer is about to watch (placement hint)
   * @throws Error when no worker is alive
   */
  async createRecvTransport(appData: Record<string, unknown>, near?: Camera): Promise<types.WebRtcTransport> {
    const slot = this.#pool.placeViewer(near && near.state !== 'closed' ? near.router.id : undefined);
    return slot.router.createWebRtcTransport({
      webRtcServer: slot.webRtcServer,
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      initialAvailableOutgoingBitrate: INITIAL_OUTGOING_BITRATE_BPS,
      appData: { ...appData, routerId: slot.router.id },
    });
  }

  /**
   * Creates a paused consumer of one of `camera`'s streams on `transport`
   * (paused so the client can attach the track before media flows; mediasoup
   * docs recommend consuming paused and resuming from the client).
   *
   * @param quality `high` (main) or `low` (sub; the main stream if there is none)
   * @param rtpCapabilities the browser's RTP capabilities
   * @throws ProtocolError `camera_offline` if the camera is closed or its
   *   stream is being re-ingested, `unsupported_codec` if the browser cannot
   *   receive the camera's codec, `bad_request` if `rtpCapabilities` is malformed
   */
  async consume(
    transport: types.WebRtcTransport,
    camera: Camera,
    quality: Quality,
    rtpCapabilities: types.RtpCapabilities,
    appData: Record<string, unknown>,
  ): Promise<types.Consumer> {
    if (camera.state === 'closed') throw new ProtocolError(ErrorCode.CameraOffline, 'camera is offline');
    const stream = camera.stream(quality);
    const producer = stream.producer;
    if (producer.closed) throw new ProtocolError(ErrorCode.CameraOffline, 'camera stream is restarting');
    return this.consumeProducer(transport, producer, stream.router, rtpCapabilities, { ...appData, quality: stream.quality }, camera.config.codec);
  }

  /**
   * Creates a paused consumer of `producer` (living on `producerRouter`, one
   * of this node's routers: a camera's ingest or a pipe from another node) on
   * `transport`, piping the producer to the transport's router first.
   * @param codec named in the `unsupported_codec` message
   * @throws ProtocolError as {@link consume}
   */
  async consumeProducer(
    transport: types.WebRtcTransport,
    producer: types.Producer,
    producerRouter: types.Router,
    rtpCapabilities: types.RtpCapabilities,
    appData: Record<string, unknown>,
    codec: string,
  ): Promise<types.Consumer> {
    const slot = this.#pool.slotOfRouter(String(transport.appData.routerId));
    if (!slot) throw new ProtocolError(ErrorCode.NotFound, 'transport is gone');
    await this.#ensurePiped(producer, producerRouter, slot.router);
    let canConsume: boolean;
    try {
      canConsume = slot.router.canConsume({ producerId: producer.id, rtpCapabilities });
    } catch {
      throw new ProtocolError(ErrorCode.BadRequest, 'rtpCapabilities are malformed');
    }
    if (!canConsume) {
      throw new ProtocolError(ErrorCode.UnsupportedCodec, `this browser cannot receive ${codec}`);
    }
    return transport.consume({ producerId: producer.id, rtpCapabilities, paused: true, appData });
  }

  /**
   * Creates a paused consumer of the camera's audio (relayed RTSP audio) on
   * `transport`, paired by the caller with a video consumer.
   * @returns undefined when the camera has no audio or the browser cannot receive its codec
   */
  async consumeAudio(
    transport: types.WebRtcTransport,
    camera: Camera,
    rtpCapabilities: types.RtpCapabilities,
    appData: Record<string, unknown>,
  ): Promise<types.Consumer | undefined> {
    const stream = camera.stream('high');
    const producer = stream.audioProducer;
    const slot = this.#pool.slotOfRouter(String(transport.appData.routerId));
    if (!producer || !slot) return undefined;
    await this.#ensurePiped(producer, stream.router, slot.router);
    try {
      if (!slot.router.canConsume({ producerId: producer.id, rtpCapabilities })) return undefined;
    } catch {
      return undefined;
    }
    return transport.consume({ producerId: producer.id, rtpCapabilities, paused: true, appData });
  }

  async #ensurePiped(producer: types.Producer, from: types.Router, to: types.Router): Promise<void> {
    if (from.id === to.id) return;
    let byRouter = this.#piped.get(producer.id);
    if (!byRouter) {
      byRouter = new Map();
      this.#piped.set(producer.id, byRouter);
      producer.observer.once('close', () => this.#piped.delete(producer.id));
    }
    let pipe = byRouter.get(to.id);
    if (!pipe) {
      pipe = from.pipeToRouter({ producerId: producer.id, router: to }).then(() => undefined);
      byRouter.set(to.id, pipe);
      pipe.catch(() => byRouter.delete(to.id));
    }
    try {
      await pipe;
    } catch {
      throw new ProtocolError(ErrorCode.CameraOffline, 'camera stream is restarting');
    }
  }
}
