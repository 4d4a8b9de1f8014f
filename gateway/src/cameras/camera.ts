/**
 * A camera as the gateway sees it: its config, its streams (main `high`,
 * optional sub `low`), and its lifecycle.
 *
 * Lifecycle (driven by the main stream), each transition an event with a
 * timestamp and, when known, a reason:
 *
 *   connecting --RTP--> live --no RTP for stallTimeoutMs--> stalled
 *   stalled --no RTP for offlineTimeoutMs more--> offline (a relay is restarted; an RTP-push
 *     camera's gate keeps listening: it comes back from any source port of its address)
 *   connecting --source failure (e.g. RTSP 401) or no RTP for offlineTimeoutMs--> offline
 *   stalled | offline | connecting --RTP--> live          any --close()--> closed
 *
 * Besides its state a camera may be `degraded` (it plays, but badly, e.g.
 * B-frames over RTP push), with the reason.
 *
 * One camera's failure never touches another: each has its own transports,
 * relay processes and timers.
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import type { Quality } from '@vigil/protocol';
import type { CameraConfig, IngestConfig, SourceConfig } from '../config/schema.ts';
import { pushSourceIssues } from '../config/push-source-checks.ts';
import { SrtpKeyError } from '../ingest/srtp-key.ts';
import type { CameraDegradation, CameraState, CameraTransition, CameraView } from '../media/media-types.ts';
import { CameraStream, defaultDriverFactory, type DriverFactory } from './camera-stream.ts';

export interface CameraEvents {
  /** State changed. */
  statechange: [transition: CameraTransition];
  /** A stream's producer was replaced (re-ingest): its consumers must re-subscribe. */
  producerchange: [quality: Quality, producer: types.Producer];
  /** A stream became degraded or recovered (see {@link Camera.degraded}). */
  degradedchange: [degraded: CameraDegradation | undefined];
}


/** Thrown by {@link Camera.open} for a config the gateway refuses (message names the key). */
export class CameraConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CameraConfigError';
  }
}

const HISTORY_LENGTH = 20;

export interface CameraOptions {
  /** The incarnation number (see CameraView.epoch). */
  epoch: number;
  ingest: IngestConfig;
  logger: Logger;
  driverFactory?: DriverFactory;
}

/** A camera incarnation; seen from outside the gateway as a {@link CameraView}. */
export class Camera extends EventEmitter<CameraEvents> implements CameraView {
  readonly config: CameraConfig;
  readonly epoch: number;
  readonly #streams = new Map<Quality, CameraStream>();
  readonly #o: CameraOptions;
  readonly #log: Logger;
  #state: CameraState = 'connecting';
  #stateAt = Date.now();
  #reason: string | undefined;
  #lastFailure: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #history: CameraTransition[] = [];
  #recoveries = 0;
  #closedFor: 'removed' | 'replaced' | undefined;

  private constructor(config: CameraConfig, o: CameraOptions, log: Logger) {
    super();
    this.config = config;
    this.epoch = o.epoch;
    this.#o = o;
    this.#log = log;
    this.#history.push({ state: 'connecting', at: this.#stateAt });
  }

  /**
   * Opens the camera's streams on `router` and starts their sources.
   * @throws CameraConfigError for an RTP-push source without `sourceIp` on a
   *   non-loopback ingest, or whose SRTP key cannot be read; Error when an ingest port is taken (nothing is left open)
   */
  static async open(config: CameraConfig, router: types.Router, o: CameraOptions): Promise<Camera> {
    const issues = pushSourceIssues(config, o.ingest.listenIp);
    if (issues.length) throw new CameraConfigError(issues.join('; '));
    const log = o.logger.child({ cameraId: config.id });
    const camera = new Camera(config, o, log);
    const sources: [Quality, SourceConfig | undefined][] = [
      ['high', config.source],
      ['low', config.subSource],
    ];
    try {
      for (const [quality, source] of sources) {
        if (!source) continue;
        const stream = await CameraStream.open(
          { camera: config, source, quality, ingest: o.ingest, logger: log, driverFactory: o.driverFactory ?? defaultDriverFactory },
          router,
        );
        camera.#streams.set(quality, stream);
        stream.on('producerchange', (p) => camera.emit('producerchange', quality, p));
        stream.on('degraded', () => camera.emit('degradedchange', camera.degraded));
        if (quality === 'high') camera.#watchMain(stream);
      }
    } catch (err) {
      await camera.close();
      throw err instanceof SrtpKeyError ? new CameraConfigError(err.message) : err;
    }
    camera.#arm(o.ingest.offlineTimeoutMs, () => camera.#goOffline(camera.#lastFailure ?? 'no RTP received'));
    return camera;
  }

  #watchMain(stream: CameraStream): void {
    stream.on('activity', (active) => {
      if (active) {
        this.#lastFailure = undefined;
        this.#setState('live');
      } else if (this.#state === 'live') {
        this.#stall();
      }
    });
    stream.on('failure', (reason) => {
      this.#lastFailure = reason;
      if (this.#state === 'connecting' || this.#state === 'stalled') this.#goOffline(reason);
      else if (this.#state === 'offline' && this.#reason !== reason) this.#setState('offline', reason, true);
    });
  }

  #stall(): void {
    this.#setState('stalled', `no RTP for ${this.#o.ingest.stallTimeoutMs} ms`);
    this.#arm(this.#o.ingest.offlineTimeoutMs, () => this.#goOffline(this.#lastFailure ?? `no RTP for ${this.#o.ingest.stallTimeoutMs + this.#o.ingest.offlineTimeoutMs} ms`));
  }

  #goOffline(reason: string): void {
    if (this.#state === 'live' || this.#state === 'closed') return;
    const wasOffline = this.#state === 'offline';
    this.#setState('offline', reason);
    if (wasOffline) return;
    // Recover: a relay reconnects now. An RTP-push camera needs nothing: its
    // gate accepts it again from any source port of its address, on the same
    // producer, so viewers keep their consumers.
    this.#recoveries++;
    for (const s of this.#streams.values()) s.restartSource();
  }

  #arm(ms: number, fn: () => void): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(fn, ms);
    this.#timer.unref();
  }

  #setState(state: CameraState, reason?: string, force = false): void {
    if (state === this.#state && !force) return;
    if (state === 'live') clearTimeout(this.#timer);
    this.#state = state;
    this.#stateAt = Date.now();
    this.#reason = reason;
    const t: CameraTransition = { state, at: this.#stateAt, reason };
    this.#history.push(t);
    if (this.#history.length > HISTORY_LENGTH) this.#history.shift();
    this.#log[state === 'offline' ? 'warn' : 'info']({ state, reason }, 'camera state');
    this.emit('statechange', t);
  }

  get id(): string {
    return this.config.id;
  }

  get state(): CameraState {
    return this.#state;
  }

  /** When the current state began, ms since epoch. */
  get stateSince(): number {
    return this.#stateAt;
  }

  /** Why the camera is in its state (offline/stalled), safe to show. */
  get reason(): string | undefined {
    return this.#reason;
  }

  /** The first degraded stream (main first) with why, or undefined when every stream plays well. */
  get degraded(): CameraDegradation | undefined {
    for (const s of this.#streams.values()) {
      const d = s.degraded;
      if (d) return { ...d, quality: s.quality };
    }
    return undefined;
  }

  /** The last transitions, oldest first (at most 20). */
  get history(): readonly CameraTransition[] {
    return this.#history;
  }

  /** Why the camera closed: removed, or replaced by a camera with the same id; undefined while open. */
  get closedFor(): 'removed' | 'replaced' | undefined {
    return this.#closedFor;
  }

  /** Times the camera went offline and its source was restarted. */
  get recoveries(): number {
    return this.#recoveries;
  }

  /** Streams the camera offers. */
  get qualities(): Quality[] {
    return [...this.#streams.keys()];
  }

  /** The stream for a quality (`low` falls back to `high` when there is no sub stream). */
  stream(quality: Quality = 'high'): CameraStream {
    const s = this.#streams.get(quality) ?? this.#streams.get('high');
    if (!s) throw new Error(`camera ${this.id} has no streams`);
    return s;
  }

  /** All open streams. */
  streams(): CameraStream[] {
    return [...this.#streams.values()];
  }

  /** The main stream's producer. */
  get producer(): types.Producer {
    return this.stream('high').producer;
  }

  /** Id of the main stream's current producer (undefined while closed). */
  get ingestId(): string | undefined {
    const p = this.#streams.get('high')?.producer;
    return p && !p.closed ? p.id : undefined;
  }

  /** Last keyframe seen on the main stream, ms since epoch. */
  get lastKeyframeAt(): number | undefined {
    return this.#streams.get('high')?.keyframes.lastAt;
  }

  /** The router the camera's producers live on. */
  get router(): types.Router {
    return this.stream('high').router;
  }

  /** Frame size of a stream (test patterns know it; otherwise the config's, for `high`), px. */
  frameSize(quality: Quality = 'high'): { width?: number; height?: number } {
    const src = this.stream(quality).source;
    if (src.kind === 'test-pattern') return { width: src.width, height: src.height };
    return this.stream(quality).quality === 'high' ? { width: this.config.width, height: this.config.height } : {};
  }

  /** Local RTP/RTCP ports of the main stream (where an RTP-push source sends). */
  get ports(): { rtpPort: number; rtcpPort: number } {
    return this.stream('high').ports;
  }

  /**
   * Moves every stream's ingest to `router` (its worker was replaced). Old
   * producers close; `producerchange` fires per stream.
   */
  async reopen(router: types.Router): Promise<void> {
    for (const s of this.#streams.values()) await s.reopen(router);
  }

  /**
   * Stops sources and closes the ingest (consumers close with `producerclose`).
   * @param why `removed` (default) or `replaced` by a camera with the same id
   *   (config update: its viewers should consume the new one)
   */
  async close(why: 'removed' | 'replaced' = 'removed'): Promise<void> {
    if (this.#state === 'closed') return;
    clearTimeout(this.#timer);
    this.#closedFor = why;
    this.#setState('closed', why === 'replaced' ? 'config updated' : undefined);
    await Promise.all([...this.#streams.values()].map((s) => s.close()));
  }
}
