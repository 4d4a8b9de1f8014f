/**
 * The mediasoup workers of this process: one Worker (a C++ process) per
 * configured slot, each with one WebRtcServer (one UDP + one TCP port for all
 * of its WebRTC transports; mediasoup docs, "WebRtcServer") and one Router
 * created with {@link ROUTER_MEDIA_CODECS}.
 */
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/schema.ts';
import { ROUTER_MEDIA_CODECS } from '../ingest/codecs.ts';

/** One worker slot: the worker, its WebRtcServer and its router. */
export interface WorkerSlot {
  index: number;
  worker: types.Worker;
  webRtcServer: types.WebRtcServer;
  router: types.Router;
  /** Open WebRTC transports on this slot's router (kept by router observer events). */
  webRtcTransports: number;
}

/** Creates and owns the worker slots. */
export class WorkerPool {
  readonly #slots: WorkerSlot[];
  readonly #logger: Logger;
  #closed = false;

  private constructor(slots: WorkerSlot[], logger: Logger) {
    this.#slots = slots;
    this.#logger = logger;
  }

  /**
   * Starts `config.workers.count` workers. WebRtcServer ports are
   * `config.webrtc.port + index` (UDP and TCP), or free ports when 0.
   *
   * @throws Error when a worker cannot be spawned (MEDIASOUP_WORKER_BIN wrong)
   *   or a port is in use; workers started so far are closed first.
   */
  static async create(config: GatewayConfig, logger: Logger): Promise<WorkerPool> {
    const slots: WorkerSlot[] = [];
    try {
      for (let index = 0; index < config.workers.count; index++) {
        slots.push(await createSlot(index, config, logger));
      }
    } catch (err) {
      for (const s of slots) s.worker.close();
      throw err;
    }
    const pool = new WorkerPool(slots, logger);
    for (const slot of slots) {
      slot.worker.on('died', (err) => {
        if (pool.#closed) return;
        pool.#logger.error({ workerIndex: slot.index, workerPid: slot.worker.pid, err: err.message }, 'mediasoup worker died');
      });
    }
    return pool;
  }

  /** All slots, by index. */
  get slots(): readonly WorkerSlot[] {
    return this.#slots;
  }

  /** Router RTP capabilities (identical on every router: same media codecs). */
  get rtpCapabilities(): types.RouterRtpCapabilities {
    const first = this.#slots[0];
    if (!first) throw new Error('worker pool is empty');
    return first.router.rtpCapabilities;
  }

  /**
   * The live slot with the fewest WebRTC transports (viewer placement), ties to the lowest index.
   * @throws Error when every worker has died
   */
  leastLoaded(): WorkerSlot {
    let best: WorkerSlot | undefined;
    for (const slot of this.#slots) {
      if (slot.worker.closed) continue;
      if (!best || slot.webRtcTransports < best.webRtcTransports) best = slot;
    }
    if (!best) throw new Error('no live mediasoup worker');
    return best;
  }

  /** Closes every worker (cascades to routers, transports, producers, consumers). */
  close(): void {
    this.#closed = true;
    for (const s of this.#slots) s.worker.close();
  }
}

async function createSlot(index: number, config: GatewayConfig, logger: Logger): Promise<WorkerSlot> {
  const worker = await mediasoup.createWorker({
    logLevel: config.workers.logLevel,
    rtcMinPort: config.workers.rtcMinPort,
    rtcMaxPort: config.workers.rtcMaxPort,
    appData: { index },
  });
  try {
    const { listenIp, announcedAddress, port } = config.webrtc;
    const listen = (protocol: 'udp' | 'tcp'): types.TransportListenInfo => ({
      protocol,
      ip: listenIp,
      ...(announcedAddress ? { announcedAddress } : {}),
      ...(port ? { port: port + index } : {}),
    });
    const webRtcServer = await worker.createWebRtcServer({ listenInfos: [listen('udp'), listen('tcp')] });
    const router = await worker.createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS });
    const { udpSockets, tcpServers } = await webRtcServer.dump();
    logger.info({ workerIndex: index, workerPid: worker.pid, udpSockets, tcpServers }, 'mediasoup worker ready');
    const slot: WorkerSlot = { index, worker, webRtcServer, router, webRtcTransports: 0 };
    router.observer.on('newtransport', (transport) => {
      if (transport.type !== 'webrtc') return;
      slot.webRtcTransports++;
      transport.observer.once('close', () => slot.webRtcTransports--);
    });
    return slot;
  } catch (err) {
    worker.close();
    throw err;
  }
}
