/**
 * The gateway: mediasoup workers, cameras (ingest) and fan-out behind one
 * small interface that signaling drives. Owns everything it creates;
 * `close()` tears it all down (relays, transports, workers).
 */
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import { Camera } from './cameras/camera.ts';
import type { CameraConfig, GatewayConfig } from './config/schema.ts';
import { Fanout } from './fanout/fanout.ts';
import { WorkerPool } from './workers/worker-pool.ts';

export interface GatewayOptions {
  config: GatewayConfig;
  logger: Logger;
}

export class Gateway {
  readonly #pool: WorkerPool;
  readonly #fanout: Fanout;
  readonly #cameras = new Map<string, Camera>();
  readonly #logger: Logger;
  readonly #config: GatewayConfig;

  private constructor(pool: WorkerPool, config: GatewayConfig, logger: Logger) {
    this.#pool = pool;
    this.#fanout = new Fanout(pool);
    this.#config = config;
    this.#logger = logger;
  }

  /**
   * Starts the workers and opens every configured camera. A camera that fails
   * to open is logged and skipped; it does not stop the others.
   *
   * @throws Error when the workers cannot start
   */
  static async start({ config, logger }: GatewayOptions): Promise<Gateway> {
    const log = logger.child({ component: 'gateway' });
    const pool = await WorkerPool.create(config, log);
    const gateway = new Gateway(pool, config, log);
    for (const camera of config.cameras) {
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

  /** The worker slots (for stats and tests). */
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
   * Opens a camera's ingest on a router chosen round-robin by count of cameras.
   * @throws Error if the id is already in use, or mediasoup refuses the ingest
   */
  async addCamera(config: CameraConfig): Promise<Camera> {
    if (this.#cameras.has(config.id)) throw new Error(`camera ${config.id} already exists`);
    const slots = this.#pool.slots.filter((s) => !s.worker.closed);
    const slot = slots[this.#cameras.size % slots.length];
    if (!slot) throw new Error('no live mediasoup worker');
    const camera = await Camera.open(config, slot.router, this.#config.ingest.listenIp, this.#logger);
    this.#cameras.set(config.id, camera);
    return camera;
  }

  /** Closes a camera's ingest; its viewers' consumers close with `producerclose`. */
  async removeCamera(id: string): Promise<void> {
    const camera = this.#cameras.get(id);
    if (!camera) return;
    this.#cameras.delete(id);
    await camera.close();
  }

  /** Stops relays and closes all workers. */
  async close(): Promise<void> {
    await Promise.all([...this.#cameras.values()].map((c) => c.close()));
    this.#cameras.clear();
    this.#pool.close();
  }
}
