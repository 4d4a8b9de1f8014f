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
 * Client-dictated payload types (a WHEP player's SDP offer): mediasoup
 * assigns payload types per router (a consumer carries its router's; per
 * consumer ones are not supported, mediasoup issue #1126), so such a viewer's
 * transport gets a router of its own on the chosen worker, created with the
 * one offered codec that can carry the camera, at the offer's payload type
 * (`preferredPayloadType`), and the camera's producer is piped into it. The
 * router closes with its transport. RTX is left out there: the router picks
 * its own RTX payload type; NACKed packets are resent as they are (RFC 4585).
 *
 * Every consumer here (live, audio, primer) negotiates no bandwidth
 * estimation (viewer-capabilities.ts): a consumer has one encoding, so
 * mediasoup's send-side estimate would choose nothing, yet cost the worker a
 * send history entry per forwarded packet and probation padding per viewer.
 * The transports therefore run no congestion-control client. NACK, PLI/FIR
 * and receiver reports stay.
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
import { withoutBandwidthEstimation } from './viewer-capabilities.ts';

export class Fanout {
  readonly #pool: WorkerPool;
  /** Routers of one transport each (client-dictated payload types), by id. */
  readonly #ownRouters = new Map<string, types.Router>();
  /** Per producer id: routers it has been piped to (router id -> pipe in progress/done). */
  readonly #piped = new Map<string, Map<string, Promise<string>>>();
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
    const at = this.#routerOf(transport);
    // A router of its own (WHEP) has the player's payload types, not the cache's: no primer there.
    if (!cache || cache.closed || !at || at.own) return undefined;
    const primer = await Primer.open({
      cache,
      router: at.router,
      transport,
      rtpCapabilities: withoutBandwidthEstimation(rtpCapabilities),
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
      appData: { ...appData, routerId: slot.router.id },
    });
  }

  /**
   * Creates a receive WebRtcTransport on a router of its own whose one video
   * codec is the first of `clientRtpCapabilities` (the client's preference
   * order) that can carry `camera`'s main stream, at the client's payload
   * type. The router is on the worker {@link WorkerPool.placeViewer} picks and
   * closes with the transport.
   *
   * @param appData caller data kept on the transport (e.g. session id)
   * @param clientRtpCapabilities RTP capabilities of the client's SDP offer
   *   (mediasoup-client `extractRtpCapabilities`)
   * @throws ProtocolError `camera_offline` (closed or re-ingesting), `unsupported_codec`
   *   (no offered codec can carry the camera); Error when no worker is alive
   */
  async createOwnRouterTransport(
    appData: Record<string, unknown>,
    camera: Camera,
    clientRtpCapabilities: types.RtpCapabilities,
  ): Promise<types.WebRtcTransport> {
    if (camera.state === 'closed') throw new ProtocolError(ErrorCode.CameraOffline, 'camera is offline');
    const stream = camera.stream('high');
    if (stream.producer.closed) throw new ProtocolError(ErrorCode.CameraOffline, 'camera stream is restarting');
    const codec = clientCodecFor(stream.router, stream.producer.id, clientRtpCapabilities);
    if (!codec) throw new ProtocolError(ErrorCode.UnsupportedCodec, `this client cannot receive ${camera.config.codec}`);
    const slot = this.#pool.placeViewer(stream.router.id);
    const router = await slot.worker.createRouter({ mediaCodecs: [codec], appData: { ownedByTransport: true } });
    this.#ownRouters.set(router.id, router);
    this.#pool.track(slot, router);
    router.observer.once('close', () => {
      this.#ownRouters.delete(router.id);
      for (const byRouter of this.#piped.values()) byRouter.delete(router.id);
    });
    try {
      const transport = await router.createWebRtcTransport({
        webRtcServer: slot.webRtcServer,
        enableUdp: true,
        enableTcp: true,
        preferUdp: true,
        appData: { ...appData, routerId: router.id },
      });
      transport.observer.once('close', () => router.close());
      return transport;
    } catch (err) {
      router.close();
      throw err;
    }
  }

  /** The router a viewer transport lives on (a slot's or its own), if alive. */
  #routerOf(transport: types.WebRtcTransport): { router: types.Router; own: boolean } | undefined {
    const id = String(transport.appData.routerId);
    const own = this.#ownRouters.get(id);
    if (own) return own.closed ? undefined : { router: own, own: true };
    const slot = this.#pool.slotOfRouter(id);
    return slot ? { router: slot.router, own: false } : undefined;
  }

  /**
   * Creates a paused consumer of one of `camera`'s streams on `transport`
   * (paused so the client can attach the track before media flows; mediasoup
   * docs recommend consuming paused and resuming from the client), without
   * bandwidth estimation (see viewer-capabilities.ts).
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
   * `transport`, piping the producer to the transport's router first, without
   * bandwidth estimation (see viewer-capabilities.ts).
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
    const at = this.#routerOf(transport);
    if (!at) throw new ProtocolError(ErrorCode.NotFound, 'transport is gone');
    rtpCapabilities = withoutBandwidthEstimation(rtpCapabilities);
    // On its own router the client's RTX payload type is not the router's: no RTX (see file head).
    if (at.own) rtpCapabilities = { ...rtpCapabilities, codecs: (rtpCapabilities.codecs ?? []).filter((c) => !isRtx(c)) };
    const producerId = await this.#ensurePiped(producer, producerRouter, at.router);
    let canConsume: boolean;
    try {
      canConsume = at.router.canConsume({ producerId, rtpCapabilities });
    } catch {
      throw new ProtocolError(ErrorCode.BadRequest, 'rtpCapabilities are malformed');
    }
    if (!canConsume) {
      throw new ProtocolError(ErrorCode.UnsupportedCodec, `this browser cannot receive ${codec}`);
    }
    return transport.consume({ producerId, rtpCapabilities, paused: true, appData });
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
    const at = this.#routerOf(transport);
    // A router of its own carries the one video codec the client offered: no audio there.
    if (!producer || !at || at.own) return undefined;
    rtpCapabilities = withoutBandwidthEstimation(rtpCapabilities);
    const producerId = await this.#ensurePiped(producer, stream.router, at.router);
    try {
      if (!at.router.canConsume({ producerId, rtpCapabilities })) return undefined;
    } catch {
      return undefined;
    }
    return transport.consume({ producerId, rtpCapabilities, paused: true, appData });
  }

  /**
   * Pipes `producer` into `to` once (mediasoup docs, Router.pipeToRouter).
   * Into a router of its own (possibly on the camera's worker) the pipe
   * producer gets a new id (`keepId: false`: one worker cannot hold two
   * producers with one id).
   * @returns the id of the producer to consume on `to`
   */
  async #ensurePiped(producer: types.Producer, from: types.Router, to: types.Router): Promise<string> {
    if (from.id === to.id) return producer.id;
    let byRouter = this.#piped.get(producer.id);
    if (!byRouter) {
      byRouter = new Map();
      this.#piped.set(producer.id, byRouter);
      producer.observer.once('close', () => this.#piped.delete(producer.id));
    }
    let pipe = byRouter.get(to.id);
    if (!pipe) {
      const keepId = !this.#ownRouters.has(to.id);
      pipe = from.pipeToRouter({ producerId: producer.id, router: to, keepId }).then((r) => r.pipeProducer?.id ?? producer.id);
      byRouter.set(to.id, pipe);
      pipe.catch(() => byRouter.delete(to.id));
    }
    try {
      return await pipe;
    } catch {
      throw new ProtocolError(ErrorCode.CameraOffline, 'camera stream is restarting');
    }
  }
}

function isRtx(codec: { mimeType: string }): boolean {
  return /\/rtx$/i.test(codec.mimeType);
}

/**
 * The first video codec of `caps` (the client's preference order) that a
 * consumer of `producerId` on `router` could use, as a router media codec at
 * the client's payload type; mediasoup decides the match (`router.canConsume`,
 * e.g. H.264 profile and packetization-mode, RFC 6184 §8.1).
 */
function clientCodecFor(router: types.Router, producerId: string, caps: types.RtpCapabilities): types.RouterRtpCodecCapability | undefined {
  for (const c of caps.codecs ?? []) {
    if (c.kind !== 'video' || isRtx(c) || typeof c.preferredPayloadType !== 'number') continue;
    let fits = false;
    try {
      fits = router.canConsume({ producerId, rtpCapabilities: { codecs: [c], headerExtensions: [] } });
    } catch {
      continue; // a codec entry mediasoup cannot read
    }
    if (!fits) continue;
    return {
      kind: 'video',
      mimeType: c.mimeType,
      clockRate: c.clockRate,
      preferredPayloadType: c.preferredPayloadType,
      ...(c.parameters ? { parameters: c.parameters } : {}),
      ...(c.rtcpFeedback ? { rtcpFeedback: c.rtcpFeedback } : {}),
    } as types.RouterRtpCodecCapability;
  }
  return undefined;
}
