/**
 * One camera feed playing in one <video> element.
 *
 * States: `connecting` (consumer being set up) -> `playing` (first frame
 * decoded) -> `offline` (camera went away) / `reconnecting` (signaling lost,
 * the client re-subscribes by itself) / `stopped` (feed.stop() or client.close()).
 * `forbidden` when the token does not cover the camera (play() also rejects).
 */
import type { types } from 'mediasoup-client';
import type { Quality } from '@vigil/protocol';
import { Emitter } from './emitter.ts';

export type FeedState = 'connecting' | 'playing' | 'reconnecting' | 'offline' | 'forbidden' | 'stopped';

export interface FeedEvents extends Record<string, unknown[]> {
  state: [state: FeedState];
}

/** Receive-side statistics of a feed (from RTCPeerConnection getStats, W3C webrtc-stats). */
export interface FeedStats {
  /** play() to first decoded frame, ms (undefined until then). */
  ttffMs: number | undefined;
  framesDecoded: number;
  frameWidth: number | undefined;
  frameHeight: number | undefined;
  packetsReceived: number;
  packetsLost: number;
  /** Jitter, s (RFC 3550 §6.4.1 interarrival jitter). */
  jitter: number;
  bytesReceived: number;
}

/** Resolves when the consumer's receiver has decoded a frame (W3C webrtc-stats framesDecoded). */
async function waitForDecodedFrame(consumer: types.Consumer, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let decoded = 0;
    (await consumer.getStats()).forEach((s: Record<string, unknown>) => {
      if (s['type'] === 'inbound-rtp') decoded = Number(s['framesDecoded'] ?? 0);
    });
    if (decoded > 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no frame from the new stream in time');
}

/** Internal hooks the client gives a feed. */
export interface FeedHost {
  subscribe(feed: Feed): Promise<types.Consumer>;
  switchQuality(feed: Feed, quality: Quality): Promise<types.Consumer>;
  closeConsumer(consumer: types.Consumer): void;
  unsubscribe(feed: Feed): void;
  /** Reports the feed's time to first frame to the server (fire and forget). */
  reportTtff(feed: Feed, ttffMs: number): void;
}

/** How long a quality switch waits for the new stream's first decoded frame, ms (a few GOPs). */
const SWITCH_TIMEOUT_MS = 10_000;

export class Feed extends Emitter<FeedEvents> {
  readonly cameraId: string;
  readonly video: HTMLVideoElement;
  readonly #host: FeedHost;
  #state: FeedState = 'connecting';
  #consumer: types.Consumer | undefined;
  #ttffMs: number | undefined;
  #startedAt = 0;
  #quality: Quality;
  #qualities: Quality[] = ['high'];

  /** @internal created by VigilClient.play() */
  constructor(host: FeedHost, cameraId: string, video: HTMLVideoElement, quality: Quality = 'high') {
    super();
    this.#host = host;
    this.#quality = quality;
    this.cameraId = cameraId;
    this.video = video;
    // Autoplay policies allow muted inline playback; iOS needs playsinline.
    video.muted = true;
    video.playsInline = true;
    video.autoplay = true;
  }

  get state(): FeedState {
    return this.#state;
  }

  /** Time from play() to the first decoded frame, ms; undefined until the first frame. */
  get ttffMs(): number | undefined {
    return this.#ttffMs;
  }

  /** The stream being shown (`high` main, `low` sub). */
  get quality(): Quality {
    return this.#quality;
  }

  /** Streams the camera offers. */
  get qualities(): Quality[] {
    return this.#qualities;
  }

  /** @internal */
  setQualities(qualities: Quality[]): void {
    this.#qualities = qualities;
  }

  /**
   * Switches to the camera's other stream without reconnecting: the new
   * stream is received in the background and shown once it has decoded a
   * frame (at most one GOP later), so the picture never goes black; then the
   * old consumer is closed.
   * @throws ProtocolError if the server refuses; Error if no frame arrives within 10 s (the old stream stays)
   */
  async setQuality(quality: Quality): Promise<void> {
    if (quality === this.#quality || this.#state === 'stopped') return;
    const old = this.#consumer;
    const next = await this.#host.switchQuality(this, quality);
    const probe = document.createElement('video');
    probe.muted = true;
    probe.playsInline = true;
    probe.srcObject = new MediaStream([next.track]);
    void probe.play().catch(() => {});
    try {
      await waitForDecodedFrame(next, SWITCH_TIMEOUT_MS);
    } catch (err) {
      probe.srcObject = null;
      this.#host.closeConsumer(next);
      throw err;
    }
    probe.srcObject = null;
    if ((this.#state as FeedState) === 'stopped') {
      this.#host.closeConsumer(next);
      return;
    }
    this.#consumer = next;
    this.#quality = quality;
    this.video.srcObject = new MediaStream([next.track]);
    void this.video.play().catch(() => {});
    if (old) this.#host.closeConsumer(old);
  }

  /** The mediasoup-client consumer currently feeding the element. */
  get consumer(): types.Consumer | undefined {
    return this.#consumer;
  }

  /** @internal (re)subscribes and attaches the track. Throws ProtocolError on refusal. */
  async start(): Promise<void> {
    this.#startedAt = performance.now();
    this.#ttffMs = undefined;
    this.setState(this.#state === 'reconnecting' ? 'reconnecting' : 'connecting');
    const consumer = await this.#host.subscribe(this);
    if (this.#state === 'stopped') return;
    this.#consumer = consumer;
    this.video.srcObject = new MediaStream([consumer.track]);
    this.#watchFirstFrame();
    this.video.play().catch(() => {
      // Autoplay refused (should not happen for muted video); the page can call video.play() on a gesture.
    });
  }

  #watchFirstFrame(): void {
    const startedAt = this.#startedAt;
    const onFrame = (): void => {
      if (startedAt !== this.#startedAt || this.#state === 'stopped') return;
      this.#ttffMs = Math.round(performance.now() - startedAt);
      this.#host.reportTtff(this, this.#ttffMs);
      this.setState('playing');
    };
    const v = this.video as HTMLVideoElement & { requestVideoFrameCallback?: (cb: () => void) => number };
    if (typeof v.requestVideoFrameCallback === 'function') v.requestVideoFrameCallback(onFrame);
    else v.addEventListener('loadeddata', onFrame, { once: true });
  }

  /** @internal */
  setState(state: FeedState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.emit('state', state);
  }

  /** @internal the server closed this feed's consumer. */
  consumerClosed(consumerId: string, reason: string): void {
    if (this.#consumer?.id !== consumerId) return;
    this.#consumer.close();
    this.#consumer = undefined;
    if (this.#state === 'stopped') return;
    // scope_changed: a refreshed token no longer covers this camera.
    this.setState(reason === 'camera_gone' ? 'offline' : reason === 'scope_changed' ? 'forbidden' : 'reconnecting');
  }

  /** Current receive statistics. */
  async getStats(): Promise<FeedStats> {
    const out: FeedStats = {
      ttffMs: this.#ttffMs,
      framesDecoded: 0,
      frameWidth: undefined,
      frameHeight: undefined,
      packetsReceived: 0,
      packetsLost: 0,
      jitter: 0,
      bytesReceived: 0,
    };
    if (!this.#consumer) return out;
    const report = await this.#consumer.getStats();
    report.forEach((s: Record<string, unknown>) => {
      if (s['type'] !== 'inbound-rtp') return;
      out.framesDecoded = Number(s['framesDecoded'] ?? 0);
      out.frameWidth = s['frameWidth'] as number | undefined;
      out.frameHeight = s['frameHeight'] as number | undefined;
      out.packetsReceived = Number(s['packetsReceived'] ?? 0);
      out.packetsLost = Number(s['packetsLost'] ?? 0);
      out.jitter = Number(s['jitter'] ?? 0);
      out.bytesReceived = Number(s['bytesReceived'] ?? 0);
    });
    return out;
  }

  /** Stops the feed: closes its consumer on the server and detaches the element. */
  stop(): void {
    if (this.#state === 'stopped') return;
    this.setState('stopped');
    this.#host.unsubscribe(this);
    this.#consumer?.close();
    this.#consumer = undefined;
    this.video.srcObject = null;
  }
}
