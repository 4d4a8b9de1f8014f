/**
 * The media API on this node ({@link MediaApi}): cameras ingested by this
 * process's mediasoup workers, viewers consuming them here. The single-node
 * mode of Vigil; a cluster implementation of the same interface will put
 * cameras ingested on other nodes behind it.
 *
 * Owns the {@link Gateway} (workers, cameras, fan-out) and every viewer
 * transport it opened: `close()` closes the transports (their consumers close
 * with `transport_closed`), then the cameras and the workers.
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import { ErrorCode, ProtocolError } from '@vigil/protocol';
import type { CameraConfig } from '../config/schema.ts';
import { Gateway, type GatewayOptions } from '../gateway.ts';
import { udpSocketDrops } from '../ingest/socket-buffers.ts';
import { LocalViewerTransport } from './viewer-transport.ts';
import type {
  CameraView,
  IngestCounters,
  IngestStats,
  MediaApi,
  MediaEvents,
  MediaJson,
  ReconcileResult,
  StreamStats,
  ViewerTransport,
  WorkerLoad,
} from './media-types.ts';

export class LocalMedia extends EventEmitter<MediaEvents> implements MediaApi {
  readonly #gateway: Gateway;
  readonly #log: Logger;
  readonly #transports = new Set<LocalViewerTransport>();
  #closing: Promise<void> | undefined;

  private constructor(gateway: Gateway, logger: Logger) {
    super();
    this.#gateway = gateway;
    this.#log = logger.child({ component: 'media' });
    gateway.on('cameraopen', (camera) => this.emit('cameraopen', camera));
  }

  /**
   * Starts the workers and opens every configured camera (a camera that fails
   * to open is logged and skipped).
   * @throws Error when the workers cannot start
   */
  static async start(opts: GatewayOptions): Promise<LocalMedia> {
    return new LocalMedia(await Gateway.start(opts), opts.logger);
  }

  /**
   * The gateway behind this API, for tests and benchmarks that observe
   * mediasoup itself (`@vigil/gateway/internals`); Vigil's own code never uses it.
   */
  get gateway(): Gateway {
    return this.#gateway;
  }

  async routerRtpCapabilities(): Promise<MediaJson> {
    return this.#gateway.rtpCapabilities as unknown as MediaJson;
  }

  cameras(): CameraView[] {
    return this.#gateway.cameras();
  }

  camera(id: string): CameraView | undefined {
    return this.#gateway.camera(id);
  }

  async createViewerTransport(o: {
    owner: string;
    nearCameraId?: string | undefined;
    clientRtpCapabilities?: MediaJson | undefined;
  }): Promise<ViewerTransport> {
    const near = o.nearCameraId === undefined ? undefined : this.#gateway.camera(o.nearCameraId);
    let transport;
    if (o.clientRtpCapabilities) {
      if (!near) throw new ProtocolError(ErrorCode.CameraOffline, 'camera is offline');
      const caps = o.clientRtpCapabilities as unknown as types.RtpCapabilities;
      transport = await this.#gateway.fanout.createOwnRouterTransport({ sessionId: o.owner }, near, caps);
    } else {
      transport = await this.#gateway.fanout.createRecvTransport({ sessionId: o.owner }, near);
    }
    const handle = new LocalViewerTransport(transport, o.owner, this.#gateway, this.#gateway.fanout, this.#log.child({ sessionId: o.owner }));
    this.#transports.add(handle);
    handle.once('close', () => this.#transports.delete(handle));
    return handle;
  }

  async streamStats(cameraId: string, fpsWindowMs: number): Promise<StreamStats[] | undefined> {
    const camera = this.#gateway.camera(cameraId);
    if (!camera) return undefined;
    const drops = await udpSocketDrops(camera.streams().flatMap((s) => s.ingestPorts));
    return Promise.all(
      camera.streams().map(async (stream) => {
        const [stats, fps] = await Promise.all([stream.producer.getStats().catch(() => []), stream.measureFps(fpsWindowMs)]);
        const s = stats[0];
        const { lastAt, intervalMs } = stream.keyframes;
        return {
          quality: stream.quality,
          source: stream.source.kind,
          workerIndex: this.#gateway.workers.slotOfRouter(stream.router.id)?.index ?? null,
          bitrate: s?.bitrate ?? 0,
          packetCount: s?.packetCount ?? 0,
          packetsLost: s?.packetsLost ?? 0,
          jitter: s?.jitter ?? 0,
          fps,
          msSinceKeyframe: lastAt === undefined ? null : Date.now() - lastAt,
          keyframeIntervalMs: intervalMs ?? null,
          relayStarts: stream.relayStarts,
          ...stream.ingestCounters(drops),
        };
      }),
    );
  }

  async ingestStats(cameraId: string, o: { maxAgeMs: number; timeoutMs: number }): Promise<IngestStats | undefined> {
    const camera = this.#gateway.camera(cameraId);
    if (!camera || camera.state === 'closed') return undefined;
    const stream = camera.stream('high');
    const producer = stream.producer;
    if (producer.closed) return undefined;
    let stats;
    try {
      // The gateway's activity poll reads these stats every <= 1 s: reuse them when fresh.
      stats = stream.recentStats(producer, o.maxAgeMs) ?? (await withTimeout(producer.getStats(), Math.max(1, o.timeoutMs)));
    } catch (err) {
      if (producer.closed) return undefined;
      throw err;
    }
    if (!stats) return undefined;
    let bitrateBps = 0;
    let packets = 0;
    let packetsLost = 0;
    for (const s of stats) {
      bitrateBps += s.bitrate;
      packets += s.packetCount;
      packetsLost += Math.max(0, s.packetsLost);
    }
    return { ingestId: producer.id, bitrateBps, packets, packetsLost };
  }

  async measureFps(cameraId: string, windowMs: number): Promise<number | undefined> {
    const camera = this.#gateway.camera(cameraId);
    if (!camera || camera.state === 'closed') return undefined;
    return camera.stream('high').measureFps(windowMs);
  }

  async ingestCounters(): Promise<Map<string, IngestCounters>> {
    const cameras = this.#gateway.cameras().filter((c) => c.state !== 'closed');
    const drops = await udpSocketDrops(cameras.flatMap((c) => c.streams().flatMap((s) => s.ingestPorts)));
    const out = new Map<string, IngestCounters>();
    for (const camera of cameras) {
      const sum: IngestCounters = { foreignPackets: 0, restarts: 0, reorderedFrames: 0, socketDrops: 0 };
      for (const stream of camera.streams()) {
        const c = stream.ingestCounters(drops);
        sum.foreignPackets += c.foreignPackets;
        sum.restarts += c.restarts;
        sum.reorderedFrames += c.reorderedFrames;
        sum.socketDrops += c.socketDrops;
      }
      out.set(camera.id, sum);
    }
    return out;
  }

  workerLoads(): WorkerLoad[] {
    return this.#gateway.workers.slots.map((slot) => ({
      index: slot.index,
      alive: !slot.worker.closed,
      routers: slot.router.closed ? 0 : 1,
      webRtcTransports: slot.webRtcTransports,
      pipeTransports: slot.pipeTransports,
      consumers: slot.consumers,
    }));
  }

  async workerCpu(timeoutMs: number): Promise<Map<number, { user: number; system: number }>> {
    const out = new Map<number, { user: number; system: number }>();
    await Promise.all(
      this.#gateway.workers.slots.map(async (slot) => {
        if (slot.worker.closed) return;
        try {
          // getrusage(2) via worker.getResourceUsage(): ru_utime / ru_stime in ms.
          const ru = await withTimeout(slot.worker.getResourceUsage(), timeoutMs);
          if (ru) out.set(slot.index, { user: ru.ru_utime / 1000, system: ru.ru_stime / 1000 });
        } catch {
          // worker closing; left out
        }
      }),
    );
    return out;
  }

  addCamera(config: CameraConfig): Promise<CameraView> {
    return this.#gateway.addCamera(config);
  }

  updateCamera(config: CameraConfig): Promise<CameraView> {
    return this.#gateway.updateCamera(config);
  }

  removeCamera(id: string): Promise<boolean> {
    return this.#gateway.removeCamera(id);
  }

  reconcile(wanted: CameraConfig[]): Promise<ReconcileResult> {
    return this.#gateway.reconcile(wanted);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const t of [...this.#transports]) t.close();
      await this.#gateway.close();
      this.#log.debug('media closed');
    })();
    return this.#closing;
  }
}

/** Resolves with `p`, or with undefined after `ms` (the late result is dropped). */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]).finally(() => clearTimeout(timer));
}
