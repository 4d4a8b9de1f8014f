/**
 * The gateway's insides on this node: mediasoup workers, cameras (ingest) and
 * fan-out. Nothing outside the gateway package drives it: the media API
 * ({@link LocalMedia}, media/local-media.ts) is the front door, and tests and
 * benchmarks that observe mediasoup reach it through `@vigil/gateway/internals`.
 * Owns everything it creates; `close()` tears it all down (relays,
 * transports, workers).
 */
import { EventEmitter } from 'node:events';
import { reconcileCameras } from './cameras/reconcile.ts';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import { Camera } from './cameras/camera.ts';
import type { DriverFactory } from './cameras/camera-stream.ts';
import type { CameraConfig, GatewayConfig } from './config/schema.ts';
import { Fanout } from './fanout/fanout.ts';
import { WorkerPool } from './workers/worker-pool.ts';
import { removeStaleRtspInputs } from './ingest/rtsp/input.ts';
import { CameraConflictError, type ReconcileResult } from './media/media-types.ts';
import { socketBufferWarnings } from './ingest/socket-buffers.ts';

export interface GatewayOptions {
  config: GatewayConfig;
  logger: Logger;
  /** Source drivers (default: the built-in kinds). */
  driverFactory?: DriverFactory;
}

export interface GatewayEvents {
  /** A camera incarnation opened (added, updated, or at start). */
  cameraopen: [camera: Camera];
}

export class Gateway extends EventEmitter<GatewayEvents> {
  readonly #pool: WorkerPool;
  readonly #fanout: Fanout;
  readonly #cameras = new Map<string, Camera>();
  readonly #logger: Logger;
  readonly #config: GatewayConfig;
  readonly #driverFactory: DriverFactory | undefined;
  /** Last camera incarnation number handed out (CameraView.epoch). */
  #epoch = 0;

  private constructor(pool: WorkerPool, opts: GatewayOptions, logger: Logger) {
    super();
    this.#pool = pool;
    this.#fanout = new Fanout(pool, opts.config.fanout.instantStart, logger);
    this.on('cameraopen', (camera) => this.#fanout.cacheCamera(camera));
    this.#config = opts.config;
    this.#driverFactory = opts.driverFactory;
    this.#logger = logger;
    pool.on('workerreplaced', (slot, oldRouterId) => void this.#reingest(slot.router, oldRouterId));
  }

  /**
   * Starts the workers and opens every configured camera. A camera that fails
   * to open is logged and skipped; it does not stop the others.
   * @throws Error when the workers cannot start
   */
  static async start(opts: GatewayOptions): Promise<Gateway> {
    const log = opts.logger.child({ component: 'gateway' });
    const stale = await removeStaleRtspInputs();
    if (stale > 0) log.warn({ removed: stale }, 'removed RTSP credential files left by a killed Vigil process');
    const buffers = { recv: opts.config.ingest.recvBufferSize, send: opts.config.webrtc.sendBufferSize };
    for (const warning of await socketBufferWarnings(buffers)) log.warn({ ...buffers }, warning);
    const pool = await WorkerPool.create(opts.config, log);
    const gateway = new Gateway(pool, opts, log);
    for (const camera of opts.config.cameras) {
      try {
        await gateway.addCamera(camera);
      } catch (err) {
        log.error({ cameraId: camera.id, err: (err as Error).message }, 'camera failed to open');
      }
    }
    return gateway;
  }

  /** Router RTP capabilities viewers load their mediasoup-client Device with. */
  get rtpCapabilities(): types.RouterRtpCapabilities {
    return this.#pool.rtpCapabilities;
  }

  /** Fan-out operations (receive transports, consumers). */
  get fanout(): Fanout {
    return this.#fanout;
  }

  /** The worker slots (stats, placement, tests). */
  get workers(): WorkerPool {
    return this.#pool;
  }

  /** A camera by id, or undefined. */
  camera(id: string): Camera | undefined {
    return this.#cameras.get(id);
  }

  /** All cameras. */
  cameras(): Camera[] {
    return [...this.#cameras.values()];
  }

  /**
   * Opens a camera's ingest on the router with the fewest cameras.
   * @throws CameraConflictError if the id is in use; Error if mediasoup refuses the ingest
   */
  async addCamera(config: CameraConfig): Promise<Camera> {
    if (this.#cameras.has(config.id)) throw new CameraConflictError(`camera ${config.id} already exists`);
    const camera = await this.#openCamera(config);
    if (this.#cameras.has(config.id)) {
      await camera.close();
      throw new CameraConflictError(`camera ${config.id} already exists`);
    }
    this.#cameras.set(config.id, camera);
    this.emit('cameraopen', camera);
    return camera;
  }

  async #openCamera(config: CameraConfig): Promise<Camera> {
    const slot = this.#pool.placeCamera((routerId) => this.cameras().filter((c) => c.state !== 'closed' && c.router.id === routerId).length);
    const camera = await Camera.open(config, slot.router, {
      epoch: ++this.#epoch,
      ingest: this.#config.ingest,
      logger: this.#logger,
      ...(this.#driverFactory ? { driverFactory: this.#driverFactory } : {}),
    });
    return camera;
  }

  /**
   * Closes a camera's ingest; its viewers' consumers close with `producerclose`.
   * @returns false if there was no such camera
   */
  async removeCamera(id: string): Promise<boolean> {
    const camera = this.#cameras.get(id);
    if (!camera) return false;
    this.#cameras.delete(id);
    await camera.close();
    return true;
  }

  /**
   * Replaces a camera's config (close + open). Its viewers are told to re-subscribe.
   * @throws CameraConflictError if there is no such camera
   */
  async updateCamera(config: CameraConfig): Promise<Camera> {
    const old = this.#cameras.get(config.id);
    if (!old) throw new CameraConflictError(`camera ${config.id} does not exist`);
    // The closed old camera stays in the map until the new one is open, so a
    // viewer re-subscribing meanwhile gets `camera_offline` (retry), not `forbidden`.
    await old.close('replaced');
    try {
      const camera = await this.#openCamera(config);
      this.#cameras.set(config.id, camera);
      this.emit('cameraopen', camera);
      return camera;
    } catch (err) {
      this.#cameras.delete(config.id);
      throw err;
    }
  }

  /**
   * Brings the camera set to `wanted` (config reload): removes cameras not in
   * it, adds new ones, re-opens changed ones, and leaves unchanged cameras and
   * their viewers untouched.
   */
  async reconcile(wanted: CameraConfig[]): Promise<ReconcileResult> {
    const result = await reconcileCameras(
      {
        current: (id) => this.#cameras.get(id),
        ids: () => this.#cameras.keys(),
        addCamera: (c) => this.addCamera(c),
        updateCamera: (c) => this.updateCamera(c),
        removeCamera: (id) => this.removeCamera(id),
      },
      wanted,
    );
    this.#logger.info({ ...result, failed: result.failed.map((f) => f.id) }, 'cameras reconciled');
    return result;
  }

  /** A worker was replaced: re-ingest the cameras that lived on its old router. */
  async #reingest(router: types.Router, oldRouterId: string): Promise<void> {
    for (const camera of this.#cameras.values()) {
      if (camera.state === 'closed' || camera.router.id !== oldRouterId) continue;
      try {
        await camera.reopen(router);
        this.#logger.warn({ cameraId: camera.id }, 'camera re-ingested on replacement worker');
      } catch (err) {
        this.#logger.error({ cameraId: camera.id, err: (err as Error).message }, 'camera re-ingest failed');
      }
    }
  }

  /** Stops relays and closes all workers. */
  async close(): Promise<void> {
    await Promise.all([...this.#cameras.values()].map((c) => c.close()));
    this.#cameras.clear();
    this.#pool.close();
  }
}
