/**
 * One camera feed playing in one <video> element.
 *
 * States: `connecting` (consumer being set up) -> `playing` (first frame
 * decoded) -> `offline` (camera went away) / `reconnecting` (signaling lost,
 * the client re-subscribes by itself) / `stopped` (feed.stop() or client.close()).
 * `forbidden` when the token does not cover the camera (play() also rejects).
 */
import type { types } from 'mediasoup-client';
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

/** Internal hooks the client gives a feed. */
export interface FeedHost {
  subscribe(feed: Feed): Promise<types.Consumer>;
  unsubscribe(feed: Feed): void;
}

export class Feed extends Emitter<FeedEvents> {
  readonly cameraId: string;
  readonly video: HTMLVideoElement;
  readonly #host: FeedHost;
  #state: FeedState = 'connecting';
  #consumer: types.Consumer | undefined;
  #ttffMs: number | undefined;
  #startedAt = 0;

  /** @internal created by VigilClient.play() */
  constructor(host: FeedHost, cameraId: string, video: HTMLVideoElement) {
    super();
    this.#host = host;
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
  consumerClosed(reason: string): void {
    this.#consumer?.close();
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
