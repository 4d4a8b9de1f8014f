/**
 * The mediasoup workers of this process: one Worker (a C++ process) per
 * slot, one slot per CPU core by default, each with one WebRtcServer (one UDP
 * + one TCP port for all of its WebRTC transports; mediasoup docs,
 * "WebRtcServer") and one Router created with {@link ROUTER_MEDIA_CODECS}.
 *
 * A worker that dies is replaced in its slot (same ports) without restarting
 * the process; `workerreplaced` tells the gateway to re-ingest its cameras.
 * Worker CPU is sampled from `worker.getResourceUsage()` (getrusage(2):
 * ru_utime + ru_stime, ms) every {@link CPU_SAMPLE_MS}.
 */
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/schema.ts';
import { ROUTER_MEDIA_CODECS } from '../ingest/codecs.ts';

const CPU_SAMPLE_MS = 2000;
const REPLACE_RETRY_MS = 1000;

/** One worker slot. The slot object is stable; its worker/router change when replaced. */
export interface WorkerSlot {
  index: number;
  worker: types.Worker;
  webRtcServer: types.WebRtcServer;
  router: types.Router;
  /** Open WebRTC transports on this slot's router. */
  webRtcTransports: number;
  /** Open pipe transports on this slot's router (pipeToRouter). */
  pipeTransports: number;
  /** Open consumers on this slot's router (viewers' and pipes'; not GOP-cache taps or instant-start primers). */
  consumers: number;
  /** Worker CPU over the last sample, as a fraction of one core (0..1+). */
  cpu: number;
  /** Times this slot's worker was replaced after dying. */
  replacements: number;
}

export interface WorkerPoolEvents {
  /** A slot's worker died and a new one took its place; `oldRouterId` is gone. */
  workerreplaced: [slot: WorkerSlot, oldRouterId: string];
  /** A slot's worker died (before replacement). */
  workerdied: [slot: WorkerSlot, error: Error];
}

/** Number of workers for a config value (`auto` = one per core). */
export function workerCount(count: GatewayConfig['workers']['count']): number {
  return count === 'auto' ? availableParallelism() : count;
}

/** Creates and owns the worker slots. */
export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  readonly #slots: WorkerSlot[] = [];
  readonly #config: GatewayConfig;
  readonly #logger: Logger;
  readonly #cpuTimer: NodeJS.Timeout;
  readonly #lastCpuMs = new Map<WorkerSlot, { at: number; cpuMs: number }>();
  #closed = false;

  private constructor(config: GatewayConfig, logger: Logger) {
    super();
    this.#config = config;
    this.#logger = logger;
    this.#cpuTimer = setInterval(() => void this.#sampleCpu(), CPU_SAMPLE_MS);
    this.#cpuTimer.unref();
  }

  /**
   * Starts the configured number of workers.
   * @throws Error when a worker cannot be spawned (MEDIASOUP_WORKER_BIN wrong)
   *   or a port is in use; workers started so far are closed first.
   */
  static async create(config: GatewayConfig, logger: Logger): Promise<WorkerPool> {
    const pool = new WorkerPool(config, logger);
    try {
      for (let index = 0; index < workerCount(config.workers.count); index++) {
        const parts = await createWorker(index, config, logger);
        const slot: WorkerSlot = { index, ...parts, webRtcTransports: 0, pipeTransports: 0, consumers: 0, cpu: 0, replacements: 0 };
        pool.#slots.push(slot);
        pool.#adopt(slot);
      }
    } catch (err) {
      pool.close();
      throw err;
    }
    return pool;
  }

  #adopt(slot: WorkerSlot): void {
    const { worker, router } = slot;
    slot.webRtcTransports = 0;
    slot.pipeTransports = 0;
    slot.consumers = 0;
    slot.cpu = 0;
    this.#lastCpuMs.delete(slot);
    this.track(slot, router);
    worker.on('died', (err) => {
      if (this.#closed) return;
      this.#logger.error({ workerIndex: slot.index, workerPid: worker.pid, err: err.message }, 'mediasoup worker died');
      this.emit('workerdied', slot, err);
      void this.#replace(slot, router.id);
    });
  }

  /**
   * Counts `router`'s transports and consumers in `slot`'s load (its own
   * router, or a router of one viewer transport created on its worker).
   */
  track(slot: WorkerSlot, router: types.Router): void {
    const worker = slot.worker;
    router.observer.on('newtransport', (transport) => {
      const key = transport.type === 'webrtc' ? 'webRtcTransports' : transport.type === 'pipe' ? 'pipeTransports' : undefined;
      if (key) slot[key]++;
      transport.observer.on('newconsumer', (consumer) => {
        // A GOP cache's tap and an instant-start primer (fanout/gop-cache.ts, primer.ts; gone within
        // about one GOP) are no viewings: neither counts against the budget nor in the metrics.
        if (transport.type === 'direct' || consumer.appData['primer'] === true) return;
        slot.consumers++;
        consumer.observer.once('close', () => {
          if (slot.worker === worker) slot.consumers--;
        });
      });
      transport.observer.once('close', () => {
        if (key && slot.worker === worker) slot[key]--;
      });
    });
  }

  async #replace(slot: WorkerSlot, oldRouterId: string): Promise<void> {
    while (!this.#closed) {
      try {
        const parts = await createWorker(slot.index, this.#config, this.#logger);
        if (this.#closed) {
          parts.worker.close();
          return;
        }
        Object.assign(slot, parts);
        slot.replacements++;
        this.#adopt(slot);
        this.#logger.warn({ workerIndex: slot.index, workerPid: slot.worker.pid }, 'mediasoup worker replaced');
        this.emit('workerreplaced', slot, oldRouterId);
        return;
      } catch (err) {
        this.#logger.error({ workerIndex: slot.index, err: (err as Error).message }, 'worker replacement failed; retrying');
        await new Promise((r) => setTimeout(r, REPLACE_RETRY_MS));
      }
    }
  }

  async #sampleCpu(): Promise<void> {
    await Promise.all(
      this.#slots.map(async (slot) => {
        if (slot.worker.closed) return;
        try {
          const ru = await slot.worker.getResourceUsage();
          const now = Date.now();
          const cpuMs = ru.ru_utime + ru.ru_stime;
          const last = this.#lastCpuMs.get(slot);
          if (last && now > last.at) slot.cpu = (cpuMs - last.cpuMs) / (now - last.at);
          this.#lastCpuMs.set(slot, { at: now, cpuMs });
        } catch {
          // worker closing
        }
      }),
    );
  }

  /** All slots, by index. */
  get slots(): readonly WorkerSlot[] {
    return this.#slots;
  }

  /** The slot whose router has this id, if alive. */
  slotOfRouter(routerId: string): WorkerSlot | undefined {
    return this.#slots.find((s) => s.router.id === routerId && !s.worker.closed);
  }

  /** Router RTP capabilities (identical on every router: same media codecs). */
  get rtpCapabilities(): types.RouterRtpCapabilities {
    const first = this.#slots[0];
    if (!first) throw new Error('worker pool is empty');
    return first.router.rtpCapabilities;
  }

  /**
   * Where a new viewer transport goes: `preferred` (the camera's router) if it
   * is under the consumer budget; otherwise the live slot under budget with
   * the lowest CPU, then fewest consumers; if every slot is over budget, the
   * one with the fewest consumers.
   * @throws Error when every worker is dead
   */
  placeViewer(preferredRouterId?: string): WorkerSlot {
    const budget = this.#config.fanout.maxConsumersPerRouter;
    const live = this.#slots.filter((s) => !s.worker.closed);
    if (live.length === 0) throw new Error('no live mediasoup worker');
    const preferred = preferredRouterId ? live.find((s) => s.router.id === preferredRouterId) : undefined;
    if (preferred && preferred.consumers < budget) return preferred;
    const under = live.filter((s) => s.consumers < budget);
    const byLoad = (a: WorkerSlot, b: WorkerSlot) =>
      Math.round((a.cpu - b.cpu) * 10) || a.consumers - b.consumers || a.index - b.index;
    return (under.length ? under : live).sort(under.length ? byLoad : (a, b) => a.consumers - b.consumers)[0]!;
  }

  /** The live slot with the fewest cameras' worth of load, for a new camera: fewest consumers+transports, lowest index. */
  placeCamera(camerasPerRouter: (routerId: string) => number): WorkerSlot {
    const live = this.#slots.filter((s) => !s.worker.closed);
    if (live.length === 0) throw new Error('no live mediasoup worker');
    return live.sort((a, b) => camerasPerRouter(a.router.id) - camerasPerRouter(b.router.id) || a.index - b.index)[0]!;
  }

  /** Closes every worker (cascades to routers, transports, producers, consumers). */
  close(): void {
    this.#closed = true;
    clearInterval(this.#cpuTimer);
    for (const s of this.#slots) s.worker.close();
  }
}

async function createWorker(
  index: number,
  config: GatewayConfig,
  logger: Logger,
): Promise<Pick<WorkerSlot, 'worker' | 'webRtcServer' | 'router'>> {
  const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  const worker = await mediasoup.createWorker({
    logLevel: config.workers.logLevel,
    rtcMinPort: config.workers.rtcMinPort,
    rtcMaxPort: config.workers.rtcMaxPort,
    appData: { index },
  });
  // mediasoup's Worker adds process.once('SIGINT'/'SIGTERM') handlers that close
  // the worker at once (node/lib/Worker.js, onSignal). The process owner drains
  // viewers first and closes the pool last, so those handlers are removed here,
  // for replacement workers too.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    for (const l of process.listeners(signal)) if (!before[signal].includes(l)) process.removeListener(signal, l);
  }
  try {
    const { listenIp, announcedAddress, port, sendBufferSize } = config.webrtc;
    // One keyframe leaves for every viewer of this worker at once: size the send buffer for it.
    const listen = (protocol: 'udp' | 'tcp'): types.TransportListenInfo => ({
      protocol,
      ip: listenIp,
      sendBufferSize,
      ...(announcedAddress ? { announcedAddress } : {}),
      ...(port ? { port: port + index } : {}),
    });
    const webRtcServer = await worker.createWebRtcServer({ listenInfos: [listen('udp'), listen('tcp')] });
    const router = await worker.createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS });
    const { udpSockets, tcpServers } = await webRtcServer.dump();
    logger.info({ workerIndex: index, workerPid: worker.pid, udpSockets, tcpServers }, 'mediasoup worker ready');
    return { worker, webRtcServer, router };
  } catch (err) {
    worker.close();
    throw err;
  }
}
