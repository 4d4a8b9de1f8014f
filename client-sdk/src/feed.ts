/**
 * One camera feed playing in one <video> element.
 *
 * States (event `state`):
 * - `connecting`: consumer being set up, or waiting for the first frame;
 * - `playing`: frames are being decoded;
 * - `paused`: feed.pause(): the server stopped sending (the last frame stays);
 * - `stalled`: the camera's RTP stopped briefly (the server says so); resumes by itself;
 * - `offline`: the camera is offline (or was removed); resumes by itself when it is live again;
 * - `reconnecting`: signaling or ICE lost, the client re-subscribes / restarts ICE by itself;
 * - `forbidden`: the token does not cover the camera (play() also rejects);
 * - `stopped`: feed.stop() or client.close(); final.
 *
 * Degraded (event `degraded`, getter `degraded`): apart from the state, the
 * server says when the camera plays but badly (e.g. it sends B-frames: a few
 * frames per second while `playing`), with the reason in words.
 *
 * Every operation (start, quality switch, pause, resume) runs one at a time
 * in call order, so a wall can pause a tile while `auto` is switching it.
 */
import type { types } from 'mediasoup-client';
import type { CameraDegradedInfo, CameraDegradedReason, CameraLiveState, Quality } from '@vigil/protocol';
import { Emitter } from './emitter.ts';
import { AutoQualityPolicy, initialAutoQuality, type AutoQualityOptions } from './auto-quality.ts';
import { between, combineCounters, readCounters, type ReceiverCounters } from './stats.ts';

export type FeedState = 'connecting' | 'playing' | 'paused' | 'stalled' | 'reconnecting' | 'offline' | 'forbidden' | 'stopped';

/** `auto` lets the SDK pick `high` or `low` from the link; see auto-quality.ts. */
export type QualityMode = 'auto' | Quality;

export interface PlayOptions {
  /** `high` (main stream, default), `low` (sub stream; main if the camera has none) or `auto`. */
  quality?: QualityMode;
  /** Subscribe without media flowing yet (e.g. a wall tile outside the viewport); call resume() later. */
  paused?: boolean;
  /** Tuning of `auto` (defaults in DEFAULT_AUTO_QUALITY). */
  auto?: Partial<AutoQualityOptions>;
}

/** Why the camera plays badly: the server's reason and its wording for viewers. */
export interface FeedDegradation {
  reason: CameraDegradedReason;
  /** Short, for a status line, e.g. "camera sends B-frames, video stutters". */
  message: string;
}

/** Viewer wording per degradation reason (the server sends only the reason). */
const DEGRADED_MESSAGE: Record<CameraDegradedReason, string> = {
  b_frames: 'camera sends B-frames, video stutters',
};

export interface FeedEvents extends Record<string, unknown[]> {
  state: [state: FeedState];
  /** The camera became degraded (with why) or plays well again (undefined). */
  degraded: [degraded: FeedDegradation | undefined];
  /** The stream shown changed (`high` <-> `low`). */
  quality: [quality: Quality];
  /**
   * The browser refused to start the video without a user gesture (true;
   * e.g. iOS Low Power Mode), or it plays now (false). Call `feed.video.play()`
   * from a tap/click handler.
   */
  autoplay: [blocked: boolean];
}

/** Receive statistics of a feed (from RTCPeerConnection getStats, W3C webrtc-stats). */
export interface FeedStats {
  state: FeedState;
  /** The stream shown. */
  quality: Quality;
  /** What was asked for (`auto` or a fixed quality). */
  mode: QualityMode;
  /** play() (or the latest re-subscribe) to the first decoded frame, ms; undefined until then. */
  ttffMs: number | undefined;
  /** Media bitrate received since the previous getStats() call (or since the stream started), bps. */
  bitrate: number;
  /** Decoded frames per second. */
  fps: number;
  framesDecoded: number;
  framesDropped: number;
  /** Video freezes the renderer saw (Chromium). */
  freezeCount: number;
  frameWidth: number | undefined;
  frameHeight: number | undefined;
  packetsReceived: number;
  /** Cumulative packets lost on the current stream (RFC 3550 §6.4.1). */
  packetsLost: number;
  /** Interarrival jitter, s (RFC 3550 §6.4.1; webrtc-stats unit). */
  jitter: number;
  /** Mean time frames spent in the jitter buffer, ms. */
  jitterBufferDelayMs: number | undefined;
  bytesReceived: number;
  /** Receive-side bandwidth estimate, bps, where the browser reports one. */
  availableIncomingBitrate: number | undefined;
}

/** A feed consumer's tracks: its video, plus the camera audio paired with it (appData.audio). */
function tracksOf(consumer: types.Consumer): MediaStreamTrack[] {
  const audio = (consumer.appData as { audio?: types.Consumer }).audio;
  return audio && !audio.closed ? [consumer.track, audio.track] : [consumer.track];
}

/**
 * Instant start: the consumer's primer (the camera's picture since its last
 * keyframe, then live until the live consumer's first frame), while it is open.
 */
function primerOf(consumer: types.Consumer): types.Consumer | undefined {
  const primer = (consumer.appData as { primer?: types.Consumer }).primer;
  return primer && !primer.closed ? primer : undefined;
}

/** The tracks to show first: the primer's video (when there is one) with the consumer's audio. */
function firstTracksOf(consumer: types.Consumer): MediaStreamTrack[] {
  const primer = primerOf(consumer);
  if (!primer) return tracksOf(consumer);
  const audio = (consumer.appData as { audio?: types.Consumer }).audio;
  return audio && !audio.closed ? [primer.track, audio.track] : [primer.track];
}

/** Internal hooks the client gives a feed. */
export interface FeedHost {
  /** Consumes the feed's camera at `feed.quality`; resumes it unless `feed.paused`. */
  subscribe(feed: Feed): Promise<types.Consumer>;
  /** A second, resumed consumer of the feed's camera at `quality`. */
  switchQuality(feed: Feed, quality: Quality): Promise<types.Consumer>;
  pauseConsumer(consumer: types.Consumer): Promise<void>;
  resumeConsumer(consumer: types.Consumer): Promise<void>;
  closeConsumer(consumer: types.Consumer): void;
  unsubscribe(feed: Feed): void;
  /** Reports the feed's time to first frame to the server (fire and forget). */
  reportTtff(feed: Feed, ttffMs: number): void;
}

/** How long a quality switch waits for the new stream's first decoded frame, ms (a few GOPs). */
const SWITCH_TIMEOUT_MS = 10_000;
/** Poll period of the first-frame fallback (when requestVideoFrameCallback does not run), ms. */
const FRAME_POLL_MS = 500;

/**
 * Resolves with the first of `consumers` whose receiver has decoded a frame
 * (checked every 50 ms); rejects on timeout, when all are closed, or when `cancelled()`.
 */
async function waitForDecodedFrame(consumers: types.Consumer | types.Consumer[], timeoutMs: number, cancelled: () => boolean): Promise<types.Consumer> {
  const list = Array.isArray(consumers) ? consumers : [consumers];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && list.some((c) => !c.closed) && !cancelled()) {
    for (const consumer of list) {
      if (consumer.closed) continue;
      const c = await readCounters(consumer).catch(() => undefined);
      if (c && c.framesDecoded > 0) return consumer;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no frame from the new stream in time');
}

type VideoWithFrameCallback = HTMLVideoElement & { requestVideoFrameCallback?: (cb: () => void) => number };

export class Feed extends Emitter<FeedEvents> {
  readonly cameraId: string;
  readonly video: HTMLVideoElement;
  readonly #host: FeedHost;
  #state: FeedState = 'connecting';
  #consumer: types.Consumer | undefined;
  #quality: Quality;
  #mode: QualityMode;
  #qualities: Quality[] = ['high'];
  #ops: Promise<unknown> = Promise.resolve();

  // Facts the state is derived from (see #derive).
  #stopped = false;
  #forbidden = false;
  #paused: boolean;
  #resubscribing = false;
  #iceTrouble = false;
  #recovering = false;
  #camera: CameraLiveState | 'gone' | undefined;
  #degraded: FeedDegradation | undefined;
  #hasFrame = false;
  #autoplayBlocked = false;

  #startedAt = 0;
  #ttffMs: number | undefined;
  #frameWatch = 0;
  #statsPrev: { consumerId: string; counters: ReceiverCounters } | undefined;
  /** The last counters of the current consumer's primer once it closed (instant start). */
  #primerFinal: { consumerId: string; counters: ReceiverCounters } | undefined;
  #consumerSince = 0;

  readonly #autoOptions: Partial<AutoQualityOptions>;
  #auto: AutoQualityPolicy | undefined;
  #autoTimer: ReturnType<typeof setInterval> | undefined;
  #autoPrev: { consumerId: string; counters: ReceiverCounters } | undefined;
  #switching = false;

  /** @internal created by VigilClient.play() */
  constructor(host: FeedHost, cameraId: string, video: HTMLVideoElement, opts: PlayOptions = {}) {
    super();
    this.#host = host;
    this.cameraId = cameraId;
    this.video = video;
    this.#mode = opts.quality ?? 'high';
    this.#quality = this.#mode === 'auto' ? initialAutoQuality(typeof navigator === 'undefined' ? undefined : (navigator as never)) : this.#mode;
    this.#paused = opts.paused ?? false;
    this.#autoOptions = opts.auto ?? {};
    // Autoplay policies allow muted inline playback; iOS needs playsinline.
    video.muted = true;
    video.playsInline = true;
    video.autoplay = true;
    video.addEventListener('playing', this.#onPlaying);
  }

  readonly #onPlaying = (): void => this.#setAutoplayBlocked(false);

  get state(): FeedState {
    return this.#state;
  }

  /** Why the camera plays badly (reason and words), or undefined while it plays well. */
  get degraded(): FeedDegradation | undefined {
    return this.#degraded;
  }

  /** Time from play() (or the latest re-subscribe) to the first decoded frame, ms; undefined until then. */
  get ttffMs(): number | undefined {
    return this.#ttffMs;
  }

  /** The stream being shown (`high` main, `low` sub). */
  get quality(): Quality {
    return this.#quality;
  }

  /** What was asked for: `auto`, `high` or `low`. */
  get mode(): QualityMode {
    return this.#mode;
  }

  /** Streams the camera offers. */
  get qualities(): Quality[] {
    return this.#qualities;
  }

  /** True after pause() until resume(). */
  get paused(): boolean {
    return this.#paused;
  }

  /** True while the browser refuses to start the video without a user gesture. */
  get autoplayBlocked(): boolean {
    return this.#autoplayBlocked;
  }

  /** The mediasoup-client consumer currently feeding the element. */
  get consumer(): types.Consumer | undefined {
    return this.#consumer;
  }

  /**
   * Chooses the stream: `high`, `low`, or `auto` (the SDK switches between
   * them from the link's loss, frame rate, jitter buffer and bandwidth
   * estimate). A switch never reconnects and never shows black: the new
   * stream is received in the background and shown once it decoded a frame
   * (at once from the server's GOP cache with instant start, else at most one
   * GOP later), then the old consumer closes.
   * @throws ProtocolError if the server refuses; Error if the new stream sends no frame within 10 s (the old one stays)
   */
  async setQuality(mode: QualityMode): Promise<void> {
    if (this.#stopped) return;
    this.#mode = mode;
    if (mode === 'auto') {
      this.#startAuto();
      return;
    }
    this.#stopAuto();
    await this.#switch(mode, false);
  }

  /**
   * Pauses the feed on the server (no media is sent; saves bandwidth and
   * battery); the element keeps showing the last frame. State `paused`.
   */
  pause(): Promise<void> {
    return this.#serial(async () => {
      if (this.#paused || this.#stopped) return;
      this.#paused = true;
      this.#update();
      const c = this.#consumer;
      if (c && !c.closed) await this.#host.pauseConsumer(c).catch(() => {});
    });
  }

  /**
   * Resumes a paused feed (the server asks the camera for a keyframe; the picture moves again within one GOP).
   * A feed started paused (`play(..., { paused: true })`) and resumed within a minute is primed from the GOP cache.
   */
  resume(): Promise<void> {
    return this.#serial(async () => {
      if (!this.#paused || this.#stopped) return;
      this.#paused = false;
      this.#hasFrame = false;
      this.#update();
      const c = this.#consumer;
      if (c && !c.closed) {
        this.#auto?.reset(performance.now());
        await this.#host.resumeConsumer(c).catch(() => {});
        this.#watchFrame();
        this.#watchHandover(c);
      }
    });
  }

  /** Current receive statistics (see {@link FeedStats} for units). */
  async getStats(): Promise<FeedStats> {
    const out: FeedStats = {
      state: this.#state,
      quality: this.#quality,
      mode: this.#mode,
      ttffMs: this.#ttffMs,
      bitrate: 0,
      fps: 0,
      framesDecoded: 0,
      framesDropped: 0,
      freezeCount: 0,
      frameWidth: undefined,
      frameHeight: undefined,
      packetsReceived: 0,
      packetsLost: 0,
      jitter: 0,
      jitterBufferDelayMs: undefined,
      bytesReceived: 0,
      availableIncomingBitrate: undefined,
    };
    const consumer = this.#consumer;
    if (!consumer || consumer.closed) return out;
    const c = await this.#counters(consumer);
    if (!c) return out;
    const prev = this.#statsPrev?.consumerId === consumer.id && c.at - this.#statsPrev.counters.at >= 200 ? this.#statsPrev.counters : undefined;
    const since = prev ?? { ...c, at: this.#consumerSince, bytesReceived: 0, framesDecoded: 0 };
    const rates = between(since, c);
    if (!prev || c.at - prev.at >= 200) this.#statsPrev = { consumerId: consumer.id, counters: c };
    return {
      ...out,
      bitrate: rates.bitrate,
      fps: c.framesPerSecond ?? Math.round(rates.fps),
      framesDecoded: c.framesDecoded,
      framesDropped: c.framesDropped,
      freezeCount: c.freezeCount,
      frameWidth: c.frameWidth,
      frameHeight: c.frameHeight,
      packetsReceived: c.packetsReceived,
      packetsLost: c.packetsLost,
      jitter: c.jitter,
      jitterBufferDelayMs: c.jitterBufferEmittedCount > 0 ? Math.round((c.jitterBufferDelay * 1000) / c.jitterBufferEmittedCount) : undefined,
      bytesReceived: c.bytesReceived,
      availableIncomingBitrate: c.availableIncomingBitrate,
    };
  }

  /** Stops the feed: closes its consumer on the server and detaches the element. Final. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stopAuto();
    this.#host.unsubscribe(this);
    this.#consumer?.close();
    this.#consumer = undefined;
    this.video.removeEventListener('playing', this.#onPlaying);
    this.video.srcObject = null;
    this.#update();
  }

  // ---- called by the client ------------------------------------------------

  /** @internal (re)subscribes and attaches the track. Throws ProtocolError on refusal. */
  start(): Promise<void> {
    return this.#serial(async () => {
      if (this.#stopped) return;
      this.#startedAt = performance.now();
      this.#ttffMs = undefined;
      this.#hasFrame = false;
      this.#update();
      const consumer = await this.#host.subscribe(this);
      if (this.#stopped) {
        this.#host.closeConsumer(consumer);
        return;
      }
      const old = this.#consumer;
      if (old && old !== consumer && !old.closed) this.#host.closeConsumer(old);
      this.#resubscribing = false;
      this.#show(consumer);
      this.#auto?.reset(performance.now());
      this.#update();
      if (this.#mode === 'auto') this.#startAuto();
    });
  }

  /** @internal the camera's streams, and (from a fresh subscribe) the stream the server gave. */
  setQualities(qualities: Quality[], current?: Quality): void {
    this.#qualities = qualities;
    if (current && current !== this.#quality) {
      this.#quality = current;
      this.emit('quality', current);
    }
  }

  /** @internal the token does not cover the camera. */
  markForbidden(): void {
    this.#forbidden = true;
    this.#update();
  }

  /** @internal the camera's state (from the consume answer or a `cameraState` notification). */
  setCameraState(state: CameraLiveState): void {
    const prev = this.#camera;
    this.#camera = state;
    if (state === 'live' && prev !== undefined && prev !== 'live') {
      // Media resumes on the same consumer: wait for its next frame (`connecting` until then).
      this.#hasFrame = false;
      this.#recovering = false;
      this.#auto?.reset(performance.now());
      this.#watchFrame();
    } else if ((state === 'stalled' || state === 'offline') && prev !== state && this.#hasFrame) {
      // No RTP for seconds, so nothing is in flight: the next decoded frame proves the camera is back
      // (a safety net should a `live` notification be missed).
      this.#hasFrame = false;
      this.#watchFrame();
    }
    this.#update();
  }

  /** @internal the camera's degradation (from the consume answer, absent = none, or a `cameraDegraded` notification). */
  setDegraded(info: CameraDegradedInfo | null | undefined): void {
    if ((info?.reason ?? undefined) === this.#degraded?.reason) return;
    this.#degraded = info ? { reason: info.reason, message: DEGRADED_MESSAGE[info.reason] ?? info.reason } : undefined;
    this.emit('degraded', this.#degraded);
  }

  /** @internal signaling was lost, or the consumer must be re-created: the client re-subscribes. */
  linkLost(forgetCamera: boolean): void {
    this.#resubscribing = true;
    this.#recovering = true;
    this.#iceTrouble = false; // the transport goes with it
    if (forgetCamera) this.#camera = undefined;
    this.#consumer?.close();
    this.#consumer = undefined;
    this.#update();
  }

  /** @internal ICE is disconnected/failed (true) or connected again (false). */
  iceTrouble(trouble: boolean): void {
    this.#iceTrouble = trouble;
    if (trouble) this.#recovering = true;
    this.#update();
  }

  /** @internal the server closed this feed's consumer. */
  consumerClosed(consumerId: string, reason: string): void {
    if (this.#consumer?.id !== consumerId) return;
    this.#consumer.close();
    this.#consumer = undefined;
    if (reason === 'camera_gone') this.#camera = 'gone';
    // A refreshed token no longer covers this camera.
    else if (reason === 'scope_changed') this.#forbidden = true;
    else this.#resubscribing = this.#recovering = true;
    this.#update();
  }

  // ---- internals -------------------------------------------------------------

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#ops.then(fn, fn);
    this.#ops = run.catch(() => {});
    return run;
  }

  #derive(): FeedState {
    if (this.#stopped) return 'stopped';
    if (this.#forbidden) return 'forbidden';
    if (this.#paused) return 'paused';
    if (this.#camera === 'offline' || this.#camera === 'gone') return 'offline';
    if (this.#resubscribing || this.#iceTrouble) return 'reconnecting';
    if (this.#camera === 'stalled') return 'stalled';
    if (this.#hasFrame) return 'playing';
    return this.#recovering ? 'reconnecting' : 'connecting';
  }

  #update(): void {
    const state = this.#derive();
    if (state === this.#state) return;
    this.#state = state;
    this.emit('state', state);
  }

  #show(consumer: types.Consumer): void {
    this.#consumer = consumer;
    this.#consumerSince = performance.now();
    this.video.srcObject = new MediaStream(firstTracksOf(consumer));
    this.#playVideo();
    if (!this.#paused) {
      this.#watchFrame();
      this.#watchHandover(consumer);
    }
  }

  /**
   * The feed's receive counters on `consumer`: with instant start, its
   * primer's added (the primer is what shows until the hand-over).
   */
  async #counters(consumer: types.Consumer): Promise<ReceiverCounters | undefined> {
    const primer = primerOf(consumer);
    const [live, early] = await Promise.all([
      readCounters(consumer).catch(() => undefined),
      primer ? readCounters(primer).catch(() => undefined) : this.#primerFinal?.consumerId === consumer.id ? this.#primerFinal.counters : undefined,
    ]);
    if (!early) return live;
    if (!live) return primer ? early : undefined;
    return primer ? combineCounters(early, live) : combineCounters(live, early);
  }

  /**
   * Instant start: while the element shows `consumer`'s primer, decodes the
   * live consumer in a hidden element and, at its first frame, shows it
   * instead and drops the primer (the quality switch's seamless swap). Gives
   * up waiting after SWITCH_TIMEOUT_MS and shows the live consumer anyway.
   */
  #watchHandover(consumer: types.Consumer): void {
    const primer = primerOf(consumer);
    if (!primer) return;
    const probe = document.createElement('video');
    probe.muted = true;
    probe.playsInline = true;
    probe.srcObject = new MediaStream([consumer.track]);
    void probe.play().catch(() => {});
    const gone = (): boolean => this.#stopped || consumer.closed || consumer !== this.#consumer;
    void waitForDecodedFrame(consumer, SWITCH_TIMEOUT_MS, gone)
      .catch(() => {})
      .then(async () => {
        probe.srcObject = null;
        if (gone() || primer.closed) return;
        const last = await readCounters(primer).catch(() => undefined);
        if (gone() || primer.closed) return;
        if (last) this.#primerFinal = { consumerId: consumer.id, counters: last };
        this.video.srcObject = new MediaStream(tracksOf(consumer));
        this.#playVideo();
        primer.close();
      });
  }

  #playVideo(): void {
    this.video.play().then(
      () => this.#setAutoplayBlocked(false),
      (err: unknown) => {
        // NotAllowedError: autoplay refused (e.g. iOS Low Power Mode); AbortError: a newer srcObject replaced this one.
        if ((err as { name?: string })?.name === 'NotAllowedError') this.#setAutoplayBlocked(true);
      },
    );
  }

  #setAutoplayBlocked(blocked: boolean): void {
    if (blocked === this.#autoplayBlocked) return;
    this.#autoplayBlocked = blocked;
    this.emit('autoplay', blocked);
  }

  /** Marks the next decoded frame (requestVideoFrameCallback where present, stats polling as a fallback). */
  #watchFrame(): void {
    const watch = ++this.#frameWatch;
    const consumer = this.#consumer;
    if (!consumer) return;
    const startedAt = this.#startedAt;
    let baseline: number | undefined;
    const onFrame = (): void => {
      if (watch !== this.#frameWatch || this.#stopped || this.#hasFrame) return;
      // A closed or replaced consumer's track ending can present a last frame: not a sign of life.
      if (consumer.closed || consumer !== this.#consumer) return;
      this.#frameWatch++;
      if (this.#ttffMs === undefined && startedAt === this.#startedAt) {
        this.#ttffMs = Math.round(performance.now() - startedAt);
        this.#host.reportTtff(this, this.#ttffMs);
      }
      this.#hasFrame = true;
      this.#recovering = false;
      if (this.#camera === 'stalled' || this.#camera === 'offline') this.#camera = 'live';
      this.#update();
    };
    const v = this.video as VideoWithFrameCallback;
    if (typeof v.requestVideoFrameCallback === 'function') v.requestVideoFrameCallback(onFrame);
    else v.addEventListener('loadeddata', onFrame, { once: true });
    // rVFC does not run for a video that is not rendered (hidden tab, off-screen, autoplay refused).
    const poll = async (): Promise<void> => {
      while (watch === this.#frameWatch && !this.#stopped && !consumer.closed) {
        await new Promise((r) => setTimeout(r, FRAME_POLL_MS));
        if (watch !== this.#frameWatch) return;
        const c = await this.#counters(consumer);
        if (!c) continue;
        if (baseline === undefined) baseline = c.framesDecoded;
        else if (c.framesDecoded > baseline) return onFrame();
      }
    };
    void poll();
  }

  /**
   * Switches to `quality`. With `pauseOld` (stepping down on a congested
   * link) the old stream is paused at once so the new one gets the bandwidth;
   * the element keeps the old stream's last frame until the new one decodes.
   */
  #switch(quality: Quality, pauseOld: boolean): Promise<void> {
    return this.#serial(async () => {
      if (quality === this.#quality || this.#stopped) return;
      const old = this.#consumer;
      // The camera has one stream: the server would send the same one again.
      if (old && !this.#qualities.includes(quality)) return;
      if (!old || old.closed || this.#paused) {
        // Nothing shown: just subscribe to the other stream (or remember it for the re-subscribe).
        this.#quality = quality;
        this.emit('quality', quality);
        if (old && !old.closed && !this.#resubscribing) {
          this.#host.closeConsumer(old);
          this.#consumer = undefined;
          const next = await this.#host.subscribe(this);
          if (this.#stopped) return this.#host.closeConsumer(next);
          this.#show(next);
        }
        return;
      }
      this.#switching = true;
      try {
        if (pauseOld) await this.#host.pauseConsumer(old).catch(() => {});
        let next: types.Consumer;
        try {
          next = await this.#host.switchQuality(this, quality);
        } catch (err) {
          if (pauseOld && !old.closed) await this.#host.resumeConsumer(old).catch(() => {});
          throw err;
        }
        // With a primer (instant start) whichever decodes first is enough: the live stream takes over later.
        const candidates = [next, primerOf(next)].filter((c): c is types.Consumer => c !== undefined);
        const probes = candidates.map((c) => {
          const probe = document.createElement('video');
          probe.muted = true;
          probe.playsInline = true;
          probe.srcObject = new MediaStream([c.track]);
          void probe.play().catch(() => {});
          return probe;
        });
        let first: types.Consumer;
        try {
          first = await waitForDecodedFrame(candidates, SWITCH_TIMEOUT_MS, () => this.#stopped || old.closed);
        } catch (err) {
          this.#host.closeConsumer(next);
          if (pauseOld && !old.closed) await this.#host.resumeConsumer(old).catch(() => {});
          throw err;
        } finally {
          for (const probe of probes) probe.srcObject = null;
        }
        if (first === next) primerOf(next)?.close();
        if (this.#stopped || old.closed || this.#consumer !== old) {
          this.#host.closeConsumer(next);
          return;
        }
        this.#consumer = next;
        this.#consumerSince = performance.now();
        this.#quality = quality;
        this.video.srcObject = new MediaStream(firstTracksOf(next));
        this.#playVideo();
        this.#host.closeConsumer(old);
        this.#watchHandover(next);
        this.emit('quality', quality);
      } finally {
        this.#switching = false;
        this.#auto?.reset(performance.now());
      }
    });
  }

  #startAuto(): void {
    if (this.#autoTimer !== undefined || this.#stopped) return;
    this.#auto ??= new AutoQualityPolicy(this.#autoOptions);
    this.#auto.reset(performance.now());
    this.#autoPrev = undefined;
    this.#autoTimer = setInterval(() => void this.#autoTick(), this.#auto.options.intervalMs);
  }

  #stopAuto(): void {
    clearInterval(this.#autoTimer);
    this.#autoTimer = undefined;
  }

  async #autoTick(): Promise<void> {
    const policy = this.#auto;
    const consumer = this.#consumer;
    if (!policy || this.#mode !== 'auto' || this.#switching || this.#state !== 'playing' || !consumer || consumer.closed) {
      this.#autoPrev = undefined;
      return;
    }
    const c = await this.#counters(consumer);
    if (!c) return;
    const prev = this.#autoPrev?.consumerId === consumer.id ? this.#autoPrev.counters : undefined;
    this.#autoPrev = { consumerId: consumer.id, counters: c };
    if (!prev) return;
    const target = policy.observe(this.#quality, between(prev, c), c.at);
    if (!target || target === this.#quality || !this.#qualities.includes(target)) return;
    this.#switch(target, target === 'low').catch(() => {
      // The other stream sent nothing in time: stay, and let the policy judge again after settling.
    });
  }
}
