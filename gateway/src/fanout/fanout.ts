/**
 * Fan-out: viewer receive transports and consumers.
 *
 * A viewer's WebRtcTransport is placed by {@link WorkerPool.placeViewer}: the
 * camera's own router while it is under its consumer budget, else the
 * least-loaded router (worker CPU, then consumers). When a camera stream's
 * producer lives on another router it is piped there once with
 * `router.pipeToRouter()` (mediasoup docs, Router.pipeToRouter) and every
 * viewer on that router consumes the pipe producer.
 *
 * Instant start: every video stream of a camera is tapped into a
 * {@link GopCache} when its producer opens (at camera open and after every
 * re-ingest), and {@link Fanout.prime} opens a {@link Primer} for a new
 * viewer from it (see primer.ts).
 */
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import { ErrorCode, ProtocolError, type Quality } from '@vigil/protocol';
import type { Camera } from '../cameras/camera.ts';
import type { InstantStartConfig } from '../config/schema.ts';
import type { WorkerPool } from '../workers/worker-pool.ts';
import { GopCache, type GopCacheStats } from './gop-cache.ts';
import { Primer, type PrimerStats } from './primer.ts';

/** Initial send-side bandwidth estimate for a viewer transport, bps (enough for one 720p feed). */
const INITIAL_OUTGOING_BITRATE_BPS = 2_000_000;

export class Fanout {
  readonly #pool: WorkerPool;
  /** Per producer id: routers it has been piped to (router id -> pipe in progress/done). */
  readonly #piped = new Map<string, Map<string, Promise<void>>>();
  readonly #instant: InstantStartConfig;
  readonly #log: Logger;
  /** GOP caches by the id of the producer they tap. */
  readonly #caches = new Map<string, GopCache>();
  /** The latest primer per camera id (tests, benchmark). */
  readonly #lastPrimer = new Map<string, Primer>();

  constructor(pool: WorkerPool, instantStart: InstantStartConfig, logger: Logger) {
    this.#pool = pool;
    this.#instant = instantStart;
    this.#log = logger.child({ component: 'fanout' });
  }

  /**
   * Keeps a GOP cache of each of the camera's video streams, now and after
   * every re-ingest (`producerchange`); nothing when instant start is off.
   * A cache that cannot open is logged: the camera then plays as without it.
   */
  cacheCamera(camera: Camera): void {
    if (!this.#instant.enabled) return;
    for (const stream of camera.streams()) void this.#cache(stream.router, stream.producer, camera.id);
    camera.on('producerchange', (quality) => {
      const stream = camera.stream(quality);
      void this.#cache(stream.router, stream.producer, camera.id);
    });
  }

  async #cache(router: types.Router, producer: types.Producer, cameraId: string): Promise<void> {
    if (producer.closed || this.#caches.has(producer.id)) return;
    try {
      const cache = await GopCache.open(router, producer, this.#instant, this.#log.child({ cameraId }));
      if (!cache) return;
      if (producer.closed) return cache.close();
      this.#caches.set(producer.id, cache);
      cache.once('close', () => this.#caches.delete(producer.id));
    } catch (err) {
      if (!producer.closed) this.#log.warn({ cameraId, err: (err as Error).message }, 'GOP cache failed to open; viewers wait for a keyframe');
    }
  }

  /** What the GOP cache of a camera stream holds (undefined: none). */
  cacheStats(camera: Camera, quality: Quality): GopCacheStats | undefined {
    if (camera.state === 'closed') return undefined;
    return this.#caches.get(camera.stream(quality).producer.id)?.stats;
  }

  /**
   * Opens a primer for a viewer about to consume `camera` at `quality` on
   * `transport` (see primer.ts); the caller starts it when the viewer resumes.
   * @returns undefined when instant start is off, the stream has no cached GOP start, or the browser cannot receive it
   * @throws Error when mediasoup refuses (transport or router closed)
   */
  async prime(transport: types.WebRtcTransport, camera: Camera, quality: Quality, rtpCapabilities: types.RtpCapabilities): Promise<Primer | undefined> {
    if (!this.#instant.enabled || camera.state === 'closed') return undefined;
    const cache = this.#caches.get(camera.stream(quality).producer.id);
    const slot = this.#pool.slotOfRouter(String(transport.appData.routerId));
    if (!cache || cache.closed || !slot) return undefined;
    const primer = await Primer.open({
      cache,
      router: slot.router,
      transport,
      rtpCapabilities,
      replayBps: this.#instant.replayBps,
      log: this.#log.child({ cameraId: camera.id, transportId: transport.id }),
    });
    if (primer) this.#lastPrimer.set(camera.id, primer);
    return primer;
  }

  /** What the latest primer of a camera did (tests, benchmark); undefined if none was opened. */
  lastPrimerStats(cameraId: string): PrimerStats | undefined {
    return this.#lastPrimer.get(cameraId)?.stats;
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
