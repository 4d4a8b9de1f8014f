/**
 * Per-camera ingest statistics for /metrics, read through the gateway's
 * public camera API only:
 *
 * - bitrate, packets, packets lost: `producer.getStats()` of the main stream
 *   (reused from the gateway's own activity poll when at most 1.5 s old)
 *   (mediasoup RtpStreamRecvStats: `bitrate` in bps, `packetCount`,
 *   `packetsLost` as in RTCP receiver reports, RFC 3550 §6.4.1), refreshed by
 *   {@link refresh} round-robin with a concurrency cap and a time budget, so
 *   the work of one scrape is bounded however many cameras there are;
 * - last keyframe: tracked by the gateway (`stream.keyframes`, from the
 *   producer's always-on `keyframe` trace event);
 * - frame rate: `stream.measureFps()` (the gateway owns the producer's trace
 *   events) on a few cameras at a time, round-robin;
 * - reconnects: transitions back to `live` after the camera had been live;
 * - ingest counters of all streams (packets from strangers, camera restarts,
 *   kernel socket drops from one read of /proc/net/udp per refresh) and
 *   whether the camera is degraded: `stream.ingestCounters()`, `camera.degraded`.
 */
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import { udpSocketDrops, type Camera, type CameraTransition, type Gateway } from '@vigil/gateway';

/** What is known about one camera's ingest; times in ms since epoch. */
export interface CameraIngest {
  id: string;
  /** Ingest bitrate from the last stats refresh, bps (undefined before the first). */
  bitrateBps: number | undefined;
  /** RTP packets received by the current producer. */
  packets: number;
  /** RTP packets lost (RFC 3550 cumulative count) on the current producer. */
  packetsLost: number;
  /** When the stats above were read. */
  statsAt: number | undefined;
  /** Last keyframe packet seen. */
  lastKeyframeAt: number | undefined;
  /** Frames per second measured in the latest sampling window. */
  fps: number | undefined;
  /** Times the camera came back to `live` after having been live. */
  reconnects: number;
  /** Packets from senders other than the camera, dropped (RTP push, all streams). */
  foreignPackets: number;
  /** Times the camera's RTP-push stream restarted (all streams). */
  restarts: number;
  /** Datagrams the kernel dropped on the camera's ingest sockets (receive buffer full), all streams. */
  socketDrops: number;
  /** Why the camera is degraded (closed set), or undefined. */
  degradedReason: string | undefined;
}

interface Entry extends CameraIngest {
  camera: Camera;
  producer: types.Producer | undefined;
  wasLive: boolean;
  onState: (transition: CameraTransition) => void;
}

/** Producer stats no older than this are taken from the gateway's activity poll instead of a new request, ms. */
const FRESH_STATS_MS = 1500;

export interface CameraIngestStatsOptions {
  gateway: Gateway;
  logger: Logger;
  /** Cameras traced at once for frame rate (0: no frame-rate sampling). */
  fpsSampleCameras: number;
  /** Sampling window, ms. */
  fpsSampleWindowMs: number;
}

export class CameraIngestStats {
  readonly #o: CameraIngestStatsOptions;
  readonly #log: Logger;
  readonly #entries = new Map<string, Entry>();
  /** Round-robin position of the stats refresh and of the fps sampler, as camera ids. */
  #statsCursor: string | undefined;
  #fpsCursor: string | undefined;
  #fpsTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(o: CameraIngestStatsOptions) {
    this.#o = o;
    this.#log = o.logger.child({ component: 'metrics' });
    this.sync();
    if (o.fpsSampleCameras > 0) this.#scheduleFps(0);
  }

  /** Current entries (after {@link sync}); `lastKeyframeAt` is read from the gateway now. */
  get cameras(): IterableIterator<CameraIngest> {
    for (const e of this.#entries.values()) {
      e.lastKeyframeAt = e.producer ? e.camera.stream('high').keyframes.lastAt : undefined;
    }
    return this.#entries.values();
  }

  /** Picks up added and removed cameras and replaced producers (no IPC). */
  sync(): void {
    const seen = new Set<string>();
    for (const camera of this.#o.gateway.cameras()) {
      seen.add(camera.id);
      let e = this.#entries.get(camera.id);
      if (e && e.camera !== camera) {
        this.#detach(e);
        e = undefined;
      }
      if (!e) e = this.#attach(camera);
      const producer = currentProducer(camera);
      if (producer !== e.producer) {
        e.producer = producer;
        e.packets = 0;
        e.packetsLost = 0;
        e.bitrateBps = undefined;
      }
    }
    for (const [id, e] of this.#entries) if (!seen.has(id)) this.#detach(e);
  }

  #attach(camera: Camera): Entry {
    const e: Entry = {
      id: camera.id,
      camera,
      producer: undefined,
      bitrateBps: undefined,
      packets: 0,
      packetsLost: 0,
      statsAt: undefined,
      lastKeyframeAt: undefined,
      fps: undefined,
      reconnects: 0,
      foreignPackets: 0,
      restarts: 0,
      socketDrops: 0,
      degradedReason: undefined,
      wasLive: camera.state === 'live',
      onState: ({ state }) => {
        if (state !== 'live') return;
        if (e.wasLive) e.reconnects++;
        e.wasLive = true;
      },
    };
    camera.on('statechange', e.onState);
    this.#entries.set(camera.id, e);
    return e;
  }

  #detach(e: Entry): void {
    e.camera.off('statechange', e.onState);
    this.#entries.delete(e.id);
  }

  /** Ids in round-robin order starting after `cursor`. */
  #rotation(cursor: string | undefined): Entry[] {
    const all = [...this.#entries.values()];
    const i = cursor === undefined ? -1 : all.findIndex((e) => e.id === cursor);
    return [...all.slice(i + 1), ...all.slice(0, i + 1)];
  }

  /**
   * Refreshes producer stats of as many cameras as fit: at most `concurrency`
   * requests in flight, no new request after `budgetMs`. Continues next time
   * where this one stopped.
   *
   * @returns cameras refreshed and cameras left for later
   */
  async refresh(budgetMs: number, concurrency: number): Promise<{ refreshed: number; deferred: number }> {
    this.sync();
    await this.#readCounters();
    const queue = this.#rotation(this.#statsCursor).filter((e) => e.producer && !e.producer.closed);
    const deadline = performance.now() + budgetMs;
    let refreshed = 0;
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < queue.length && performance.now() < deadline && !this.#closed) {
        const e = queue[next++]!;
        this.#statsCursor = e.id;
        const producer = e.producer!;
        try {
          // The gateway's activity poll reads these stats every <= 1 s: reuse them when fresh.
          const stats =
            e.camera.stream('high').recentStats(producer, FRESH_STATS_MS) ??
            (await withTimeout(producer.getStats(), Math.max(1, deadline - performance.now())));
          if (!stats || producer !== e.producer) continue;
          let bitrate = 0;
          let packets = 0;
          let lost = 0;
          for (const s of stats) {
            bitrate += s.bitrate;
            packets += s.packetCount;
            lost += Math.max(0, s.packetsLost);
          }
          e.bitrateBps = bitrate;
          e.packets = packets;
          e.packetsLost = lost;
          e.statsAt = Date.now();
          refreshed++;
        } catch (err) {
          if (!producer.closed) this.#log.debug({ cameraId: e.id, err: (err as Error).message }, 'producer getStats failed');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, lane));
    return { refreshed, deferred: queue.length - next };
  }

  /** Gate counters and kernel drops of every camera: one /proc read, no IPC. */
  async #readCounters(): Promise<void> {
    const entries = [...this.#entries.values()].filter((e) => e.camera.state !== 'closed');
    const drops = await udpSocketDrops(entries.flatMap((e) => e.camera.streams().flatMap((s) => s.ingestPorts)));
    for (const e of entries) {
      let foreign = 0;
      let restarts = 0;
      let socketDrops = 0;
      for (const stream of e.camera.streams()) {
        const c = stream.ingestCounters(drops);
        foreign += c.foreignPackets;
        restarts += c.restarts;
        socketDrops += c.socketDrops;
      }
      e.foreignPackets = foreign;
      e.restarts = restarts;
      e.socketDrops = socketDrops;
      e.degradedReason = e.camera.degraded?.reason;
    }
  }

  #scheduleFps(delayMs: number): void {
    if (this.#closed) return;
    this.#fpsTimer = setTimeout(() => void this.#sampleFps(), delayMs);
    this.#fpsTimer.unref();
  }

  /** One sampling round: measure fps of the next K live cameras over one window (in parallel). */
  async #sampleFps(): Promise<void> {
    this.sync();
    const picked = this.#rotation(this.#fpsCursor)
      .filter((e) => e.producer && !e.producer.closed && e.camera.state === 'live')
      .slice(0, this.#o.fpsSampleCameras);
    if (picked.length === 0) return this.#scheduleFps(this.#o.fpsSampleWindowMs);
    this.#fpsCursor = picked[picked.length - 1]!.id;
    await Promise.all(
      picked.map(async (e) => {
        const producer = e.producer;
        try {
          const fps = await e.camera.stream('high').measureFps(this.#o.fpsSampleWindowMs);
          if (producer === e.producer) e.fps = fps;
        } catch (err) {
          this.#log.debug({ cameraId: e.id, err: (err as Error).message }, 'fps sampling failed');
        }
      }),
    );
    this.#scheduleFps(0);
  }

  /** Stops sampling and listening. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#fpsTimer);
    for (const e of [...this.#entries.values()]) this.#detach(e);
  }
}

function currentProducer(camera: Camera): types.Producer | undefined {
  try {
    const p = camera.producer;
    return p && !p.closed ? p : undefined;
  } catch {
    return undefined;
  }
}

/** Resolves with `p`, or with undefined after `ms` (the late result is dropped). */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]).finally(() => clearTimeout(timer));
}
