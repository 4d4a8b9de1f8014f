/**
 * Fan-out: viewer receive transports and consumers.
 *
 * A viewer's WebRtcTransport lives on the least-loaded worker's router (via
 * that worker's WebRtcServer). When a camera's producer lives on another
 * router it is piped there once with `router.pipeToRouter()` (mediasoup docs,
 * Router.pipeToRouter), and every viewer on that router consumes the pipe producer.
 */
import type { types } from 'mediasoup';
import { ErrorCode, ProtocolError } from '@vigil/protocol';
import type { Camera } from '../cameras/camera.ts';
import type { WorkerPool } from '../workers/worker-pool.ts';

/** Initial send-side bandwidth estimate for a viewer transport, bps (enough for one 720p feed). */
const INITIAL_OUTGOING_BITRATE_BPS = 2_000_000;

export class Fanout {
  readonly #pool: WorkerPool;
  /** Per camera: routers its producer has been piped to, keyed by router id. */
  readonly #piped = new WeakMap<Camera, Map<string, Promise<void>>>();

  constructor(pool: WorkerPool) {
    this.#pool = pool;
  }

  /**
   * Creates a receive WebRtcTransport (ICE-lite, DTLS server or client role
   * decided by the browser; RFC 8445, RFC 8842) on the least-loaded worker.
   *
   * @param appData caller data kept on the transport (e.g. session id)
   * @throws Error when no worker is alive
   */
  async createRecvTransport(appData: Record<string, unknown>): Promise<types.WebRtcTransport> {
    const slot = this.#pool.leastLoaded();
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
   * Creates a paused consumer of `camera` on `transport` (paused so the client
   * can attach the track before media flows; mediasoup docs recommend
   * consuming paused and resuming from the client).
   *
   * @param rtpCapabilities the browser's RTP capabilities
   * @throws ProtocolError `camera_offline` if the camera's ingest is closed,
   *   `unsupported_codec` if the browser cannot receive the camera's codec,
   *   `bad_request` if `rtpCapabilities` is malformed
   */
  async consume(
    transport: types.WebRtcTransport,
    camera: Camera,
    rtpCapabilities: types.RtpCapabilities,
    appData: Record<string, unknown>,
  ): Promise<types.Consumer> {
    if (camera.state === 'closed' || camera.producer.closed) {
      throw new ProtocolError(ErrorCode.CameraOffline, 'camera is offline');
    }
    const router = this.#routerOf(transport);
    await this.#ensurePiped(camera, router);
    let canConsume: boolean;
    try {
      canConsume = router.canConsume({ producerId: camera.producer.id, rtpCapabilities });
    } catch {
      throw new ProtocolError(ErrorCode.BadRequest, 'rtpCapabilities are malformed');
    }
    if (!canConsume) {
      throw new ProtocolError(ErrorCode.UnsupportedCodec, `this browser cannot receive ${camera.config.codec}`);
    }
    return transport.consume({ producerId: camera.producer.id, rtpCapabilities, paused: true, appData });
  }

  #routerOf(transport: types.WebRtcTransport): types.Router {
    const slot = this.#pool.slots.find((s) => s.router.id === transport.appData.routerId);
    if (!slot) throw new Error('transport router not found');
    return slot.router;
  }

  async #ensurePiped(camera: Camera, router: types.Router): Promise<void> {
    if (camera.router.id === router.id) return;
    let byRouter = this.#piped.get(camera);
    if (!byRouter) {
      byRouter = new Map();
      this.#piped.set(camera, byRouter);
    }
    let pipe = byRouter.get(router.id);
    if (!pipe) {
      pipe = camera.router.pipeToRouter({ producerId: camera.producer.id, router }).then(() => undefined);
      byRouter.set(router.id, pipe);
      pipe.catch(() => byRouter.delete(router.id));
    }
    await pipe;
  }
}
