/**
 * Vigil's Prometheus metrics (prom-client, text exposition format 0.0.4), on
 * a registry of their own.
 *
 * Gauges and counters that mirror state are filled in `collect()` at scrape
 * time from one snapshot per scrape (camera ingest stats with a bounded
 * amount of mediasoup IPC, worker counts, oversight); histograms and event
 * counters are fed by session facts as they happen.
 *
 * Label cardinality: `camera` (one series per configured camera, about 10
 * metrics, so ~37,000 series at 3,700 cameras), `worker` (one per mediasoup
 * worker), and small closed sets (`state`, `reason`, `type`, `mode`). Never
 * a viewer, session, subject or token: those are unbounded and personal and
 * belong in the audit trail. Histograms carry no camera label.
 *
 * Cluster-scoped series: what comes from the oversight picture (coverage,
 * watched/unwatched cameras, per-camera viewers, consumers and unwatched
 * time) describes the whole cluster when the audit trail is shared, so only
 * the oversight leader (the oldest live node) exports it and a `sum` across
 * instances is right; on a single node it is always exported.
 * `vigil_oversight_leader` tells which node that is.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from 'pino';
import { CAMERA_STATES, type MediaApi, type WorkerLoad } from '@vigil/gateway';
import type { SessionObserver } from '../signaling/session-observer.ts';
import { CameraIngestStats, type CameraIngest } from './camera-ingest-stats.ts';
import type { CameraOversight, Oversight, OversightSnapshot } from '../oversight/oversight.ts';

export interface VigilMetricsOptions {
  /** Camera state and ingest stats, worker load. */
  media: MediaApi;
  /** Session facts (joins, requests, refusals, TTFF, viewings). */
  observer: SessionObserver;
  /** Signaling connections now: all open, and joined. */
  connections: () => { open: number; joined: number };
  /** Who watches what. */
  oversight: Oversight;
  logger: Logger;
  /** Live cameras unwatched for longer than this count as unwatched, s (oversight's threshold, exported as a gauge). */
  unwatchedAfterSec: number;
  /** Producer stats requests in flight at once per scrape. */
  statsConcurrency: number;
  /** Time budget for camera stats per scrape, ms. */
  statsBudgetMs: number;
  fpsSampleCameras: number;
  fpsSampleWindowMs: number;
  /** Failed audit writes so far (undefined: audit disabled). */
  auditWriteErrors?: () => number;
  /** Bytes the audit store takes now (undefined: audit disabled). */
  auditStoreBytes?: () => Promise<number>;
  /** Audit writes waiting for the store (undefined: audit disabled). */
  auditQueued?: () => number;
  /** False while the audit store cannot be written (undefined: audit disabled). */
  auditHealthy?: () => boolean;
}

/** One camera's row in a scrape. */
interface CameraRow {
  id: string;
  watch: CameraOversight;
  ingest: CameraIngest | undefined;
}

interface Scrape {
  oversight: OversightSnapshot;
  cameras: CameraRow[];
  workers: WorkerLoad[];
  cpu: Map<number, { user: number; system: number }>;
  deferred: number;
  durationS: number;
  now: number;
}

/** Seconds. TTFF spans a keyframe wait (up to one GOP, often 1-4 s). */
const TTFF_BUCKETS = [0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 13, 21];
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class VigilMetrics {
  /** The registry served at /metrics. */
  readonly registry = new Registry();
  readonly #o: VigilMetricsOptions;
  readonly #ingest: CameraIngestStats;
  readonly #off: () => void;
  #pending: Promise<Scrape> | undefined;
  /** Series exported by the oversight leader only (see the file head). */
  readonly #clusterScoped: (Gauge | Counter)[] = [];
  #clusterScopedExported = true;

  constructor(o: VigilMetricsOptions) {
    this.#o = o;
    const observer = o.observer;
    this.#ingest = new CameraIngestStats({
      media: o.media,
      logger: o.logger,
      fpsSampleCameras: o.fpsSampleCameras,
      fpsSampleWindowMs: o.fpsSampleWindowMs,
    });
    collectDefaultMetrics({ register: this.registry });
    // prom-client's handle/request/resource counts are gauges named *_total, which
    // `promtool check metrics` rejects ("non-counter metrics should not have _total").
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(name);
    }
    const registers = [this.registry];
    const scrape = (): Promise<Scrape> => this.#scrape();

    // --- cameras -------------------------------------------------------------
    new Gauge({
      name: 'vigil_cameras',
      help: 'Cameras by state (connecting, live, stalled, offline, closed).',
      labelNames: ['state'],
      registers,
      async collect() {
        const s = await scrape();
        const byState = new Map<string, number>(CAMERA_STATES.map((state) => [state, 0]));
        for (const c of s.cameras) byState.set(c.watch.state, (byState.get(c.watch.state) ?? 0) + 1);
        for (const [state, n] of byState) this.set({ state }, n);
      },
    });
    const perCamera = (name: string, help: string, value: (c: CameraRow, s: Scrape) => number | undefined): Gauge => {
      return new Gauge({
        name,
        help,
        labelNames: ['camera'],
        registers,
        async collect() {
          const s = await scrape();
          this.reset();
          for (const c of s.cameras) {
            const v = value(c, s);
            if (v !== undefined && Number.isFinite(v)) this.set({ camera: c.id }, v);
          }
        },
      });
    };
    const perCameraCounter = (name: string, help: string, value: (c: CameraRow) => number | undefined): void => {
      new Counter({
        name,
        help,
        labelNames: ['camera'],
        registers,
        async collect() {
          const s = await scrape();
          this.reset();
          for (const c of s.cameras) {
            const v = value(c);
            if (v !== undefined) this.inc({ camera: c.id }, v);
          }
        },
      });
    };
    perCamera('vigil_camera_up', '1 when the camera is live (RTP arriving), else 0.', (c) => (c.watch.state === 'live' ? 1 : 0));
    perCamera(
      'vigil_camera_ingest_bytes_per_second',
      'Ingest bitrate at the producer (mediasoup RtpStreamRecvStats.bitrate / 8), bytes/s (Prometheus base unit; x8 for bit/s).',
      (c) => (c.ingest?.bitrateBps === undefined ? undefined : c.ingest.bitrateBps / 8),
    );
    perCamera(
      'vigil_camera_ingest_frames_per_second',
      'Ingest frame rate from the latest sampling window (distinct RTP timestamps per second).',
      (c) => c.ingest?.fps,
    );
    perCamera('vigil_camera_last_keyframe_age_seconds', 'Time since the last keyframe packet arrived from the camera, s.', (c, s) => {
      const at = c.ingest?.lastKeyframeAt;
      return at === undefined ? undefined : Math.max(0, s.now - at) / 1000;
    });
    perCameraCounter('vigil_camera_ingest_packets_total', 'RTP packets received from the camera by its current producer.', (c) => c.ingest?.packets);
    perCameraCounter(
      'vigil_camera_ingest_packets_lost_total',
      'RTP packets lost between camera and gateway (RFC 3550 cumulative lost).',
      (c) => c.ingest?.packetsLost,
    );
    perCameraCounter('vigil_camera_reconnects_total', 'Times the camera came back to live after having been live.', (c) => c.ingest?.reconnects);
    perCameraCounter(
      'vigil_camera_ingest_foreign_packets_total',
      'Packets sent to the camera\'s RTP-push ports by anyone but the camera (other address or SSRC, or not authentic under its SRTP key), dropped.',
      (c) => c.ingest?.foreignPackets,
    );
    perCameraCounter('vigil_camera_ingest_restarts_total', 'Times the RTP-push camera restarted its stream (new source port or sequence).', (c) => c.ingest?.restarts);
    perCameraCounter(
      'vigil_camera_ingest_socket_drops_total',
      'Datagrams the kernel dropped on the camera\'s ingest sockets because the receive buffer was full (see net.core.rmem_max).',
      (c) => c.ingest?.socketDrops,
    );
    new Gauge({
      name: 'vigil_camera_degraded',
      help: '1 per camera that plays badly, labelled with why (b_frames: frames out of order over RTP push).',
      labelNames: ['camera', 'reason'],
      registers,
      async collect() {
        const s = await scrape();
        this.reset();
        for (const c of s.cameras) if (c.ingest?.degradedReason) this.set({ camera: c.id, reason: c.ingest.degradedReason }, 1);
      },
    });

    // --- fan-out ---------------------------------------------------------------
    const clusterScoped = this.#clusterScoped;
    clusterScoped.push(
      perCamera('vigil_camera_viewers', 'Viewer sessions watching the camera (every node\'s with a shared audit trail).', (c) => c.watch.viewers),
      perCamera('vigil_camera_consumers', 'Consumers (viewings) of the camera (every node\'s with a shared audit trail).', (c) => c.watch.consumers),
    );
    const perWorker = (name: string, help: string, value: (w: WorkerLoad) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['worker'],
        registers,
        async collect() {
          const s = await scrape();
          this.reset();
          for (const w of s.workers) this.set({ worker: String(w.index) }, value(w));
        },
      });
    };
    perWorker('vigil_worker_up', '1 while the mediasoup worker process is alive.', (w) => (w.alive ? 1 : 0));
    perWorker('vigil_worker_routers', 'mediasoup routers on the worker.', (w) => w.routers);
    perWorker('vigil_worker_webrtc_transports', 'Viewer WebRTC transports on the worker (about one per viewer page).', (w) => w.webRtcTransports);
    perWorker('vigil_worker_pipe_transports', 'Pipe transports on the worker (cameras piped between routers).', (w) => w.pipeTransports);
    perWorker('vigil_worker_consumers', 'Consumers on the worker (viewings plus pipe consumers).', (w) => w.consumers);
    new Counter({
      name: 'vigil_worker_cpu_seconds_total',
      help: 'CPU time of the mediasoup worker process (getrusage via worker.getResourceUsage), s.',
      labelNames: ['worker', 'mode'],
      registers,
      async collect() {
        const s = await scrape();
        this.reset();
        for (const [index, cpu] of s.cpu) {
          this.inc({ worker: String(index), mode: 'user' }, cpu.user);
          this.inc({ worker: String(index), mode: 'system' }, cpu.system);
        }
      },
    });

    // --- viewers -----------------------------------------------------------------
    const ttff = new Histogram({
      name: 'vigil_viewer_ttff_seconds',
      help: 'Time to first frame reported by the SDK: play() to first decoded frame, s.',
      buckets: TTFF_BUCKETS,
      registers,
    });
    const joinLatency = new Histogram({
      name: 'vigil_viewer_join_latency_seconds',
      help: 'Server time to answer a join (token verification and admission), s.',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    const requestDuration = new Histogram({
      name: 'vigil_signaling_request_duration_seconds',
      help: 'Server time to answer a signaling request, by request type, s.',
      labelNames: ['type'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    const refusals = new Counter({
      name: 'vigil_viewer_refusals_total',
      help: 'Requests refused with a typed protocol error, by error code.',
      labelNames: ['reason'],
      registers,
    });
    const joins = new Counter({ name: 'vigil_viewer_joins_total', help: 'Viewer sessions joined.', registers });
    const viewings = new Counter({ name: 'vigil_viewer_viewings_total', help: 'Viewings started (consumers created).', registers });
    new Gauge({
      name: 'vigil_viewer_sessions',
      help: 'Active viewer sessions (joined).',
      registers,
      collect() {
        this.set(o.connections().joined);
      },
    });
    new Gauge({
      name: 'vigil_viewer_connections',
      help: 'Open signaling WebSocket connections (joined or not).',
      registers,
      collect() {
        this.set(o.connections().open);
      },
    });

    // --- oversight ----------------------------------------------------------------
    new Gauge({
      name: 'vigil_oversight_leader',
      help: '1 on the node that exports the cluster-scoped oversight series (the oldest live node; always 1 on a single node).',
      registers,
      collect() {
        this.set(o.oversight.leader ? 1 : 0);
      },
    });
    clusterScoped.push(new Gauge({
      name: 'vigil_coverage_ratio',
      help: 'Live cameras with at least one viewer / live cameras (0 when none is live).',
      registers,
      async collect() {
        this.set((await scrape()).oversight.coverage);
      },
    }));
    clusterScoped.push(new Gauge({
      name: 'vigil_cameras_watched',
      help: 'Live cameras with at least one viewer.',
      registers,
      async collect() {
        this.set((await scrape()).oversight.watched);
      },
    }));
    clusterScoped.push(new Gauge({
      name: 'vigil_cameras_unwatched',
      help: 'Live cameras nobody has watched for longer than vigil_unwatched_threshold_seconds.',
      registers,
      async collect() {
        this.set((await scrape()).oversight.unwatched);
      },
    }));
    new Gauge({
      name: 'vigil_unwatched_threshold_seconds',
      help: 'Configured threshold (metrics.unwatchedAfterSec) for vigil_cameras_unwatched, s.',
      registers,
      collect() {
        this.set(o.unwatchedAfterSec);
      },
    });
    clusterScoped.push(
      perCamera('vigil_camera_unwatched_seconds', 'How long a live camera has had no viewer, s (0 when watched or not live).', (c) => c.watch.unwatchedSec),
    );

    // --- the pipeline itself ------------------------------------------------------
    if (o.auditWriteErrors) {
      const errors = o.auditWriteErrors;
      new Counter({
        name: 'vigil_audit_write_errors_total',
        help: 'Audit trail writes that failed (the viewing went on; see the error log).',
        registers,
        collect() {
          this.reset();
          this.inc(errors());
        },
      });
    }
    if (o.auditStoreBytes) {
      const bytes = o.auditStoreBytes;
      new Gauge({
        name: 'vigil_audit_store_bytes',
        help: 'Size of the audit trail store (SQLite pages, or the PostgreSQL table with its indexes), bytes; bounded by audit.maxSizeMb.',
        registers,
        async collect() {
          this.set(await bytes());
        },
      });
    }
    if (o.auditQueued && o.auditHealthy) {
      const queued = o.auditQueued;
      const healthy = o.auditHealthy;
      new Gauge({
        name: 'vigil_audit_queued_writes',
        help: 'Audit writes waiting for the store (it is unreachable, or they are being written now); bounded by audit.queueMax.',
        registers,
        collect() {
          this.set(queued());
        },
      });
      new Gauge({
        name: 'vigil_audit_store_up',
        help: '1 while the audit store takes writes, 0 while it cannot (writes are queued; /readyz says audit: false).',
        registers,
        collect() {
          this.set(healthy() ? 1 : 0);
        },
      });
    }
    new Gauge({
      name: 'vigil_metrics_camera_stats_deferred',
      help: 'Cameras whose ingest stats did not fit in this scrape (served first next scrape).',
      registers,
      async collect() {
        this.set((await scrape()).deferred);
      },
    });
    new Gauge({
      name: 'vigil_metrics_collect_seconds',
      help: 'Time spent gathering the snapshot of this scrape, s.',
      registers,
      async collect() {
        this.set((await scrape()).durationS);
      },
    });

    const onRequest = (e: { requestType: string; durationMs: number }): void => {
      requestDuration.observe({ type: e.requestType }, e.durationMs / 1000);
      if (e.requestType === 'join') joinLatency.observe(e.durationMs / 1000);
    };
    const onRefused = (e: { code: string }): void => refusals.inc({ reason: e.code });
    const onTtff = (e: { ttffMs: number }): void => ttff.observe(e.ttffMs / 1000);
    const onJoin = (): void => joins.inc();
    const onConsume = (): void => viewings.inc();
    observer.on('request', onRequest);
    observer.on('refused', onRefused);
    observer.on('ttff', onTtff);
    observer.on('join', onJoin);
    observer.on('consume', onConsume);
    this.#off = () => {
      observer.off('request', onRequest);
      observer.off('refused', onRefused);
      observer.off('ttff', onTtff);
      observer.off('join', onJoin);
      observer.off('consume', onConsume);
    };
  }

  /** One snapshot per scrape: every collect() of the same scrape shares it. */
  #scrape(): Promise<Scrape> {
    this.#pending ??= this.#take().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #take(): Promise<Scrape> {
    const t0 = performance.now();
    const [{ deferred }, cpu] = await Promise.all([
      this.#ingest.refresh(this.#o.statsBudgetMs, this.#o.statsConcurrency),
      this.#o.media.workerCpu(this.#o.statsBudgetMs),
    ]);
    const now = Date.now();
    const oversight = this.#o.oversight.snapshot(now);
    const ingest = new Map<string, CameraIngest>();
    for (const e of this.#ingest.cameras) ingest.set(e.id, e);
    return {
      oversight,
      cameras: oversight.cameras.map((watch) => ({ id: watch.camera, watch, ingest: ingest.get(watch.camera) })),
      workers: this.#o.media.workerLoads(),
      cpu,
      deferred,
      durationS: (performance.now() - t0) / 1000,
      now,
    };
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  async text(): Promise<string> {
    this.#exportClusterScoped(this.#o.oversight.leader);
    return this.registry.metrics();
  }

  /** Registers the cluster-scoped series on the leader and removes them elsewhere (prom-client `registerMetric` / `removeSingleMetric`). */
  #exportClusterScoped(leader: boolean): void {
    if (leader === this.#clusterScopedExported) return;
    for (const m of this.#clusterScoped) {
      const name = (m as unknown as { name: string }).name;
      if (leader) this.registry.registerMetric(m);
      else this.registry.removeSingleMetric(name);
    }
    this.#clusterScopedExported = leader;
  }

  /** Stops sampling and listening. */
  close(): void {
    this.#off();
    this.#ingest.close();
  }
}
