/**
 * Primer: starts one viewer from its camera stream's {@link GopCache}.
 *
 * A per-viewer producer on a DirectTransport (on the viewer's router) is
 * consumed on the viewer's WebRtcTransport beside the viewer's live
 * consumer. When the viewer resumes and its DTLS is up, the primer sends the
 * cached packets (keyframe first) and then the live packets as they arrive,
 * until the camera's next keyframe: from there the live consumer (which
 * starts at a keyframe, mediasoup SimpleConsumer) carries the picture and the
 * SDK switches the element to it (its seamless switch between two
 * consumers), so the primer lives at most about one GOP.
 *
 *   resume + DTLS connected ─▶ replay K p p p … (paced at replayBps) ─▶ relay live p p …
 *                                                                        │ camera's next keyframe
 *                                                                        ▼
 *                                                         stop sending; closed after HANDOVER_GRACE_MS
 *
 * Keyframe requests from the browser (PLI/FIR, RFC 4585 §6.3.1, RFC 5104
 * §4.3.1; seen as the primer producer's `pli`/`fir` trace) are answered from
 * the cache: the replay starts again at the cached keyframe. That covers a
 * lost first packet (the browser may drop SRTP that arrives just before it
 * finished DTLS, and cannot NACK packets it never knew of).
 *
 * Packets are rewritten for the browser's jitter buffer (RFC 3550 §5.1):
 * one SSRC, consecutive sequence numbers, and timestamps that follow the
 * send time while replaying (each replayed frame is stamped "now", so the
 * receiver renders it on arrival and plays no backlog), then the source's
 * own spacing from the first live frame on (one fixed offset), so after the
 * catch-up the viewer is as live as its live consumer.
 */
import { randomInt } from 'node:crypto';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import type { CachedPacket, GopCache } from './gop-cache.ts';
import { rewriteRtpHeader } from './rtp-packet.ts';

/** How long a primer stays open after the handover (the browser decodes the live keyframe and switches), ms. */
const HANDOVER_GRACE_MS = 3000;
/** Upper bound on a primer's life whatever happens (no keyframe ever comes), ms. */
const MAX_LIFE_MS = 60_000;
/** Least time between two replays answering keyframe requests, ms. */
const REPLAY_AGAIN_MIN_MS = 300;
/** Pacer tick, ms. */
const TICK_MS = 2;

export interface PrimerOptions {
  cache: GopCache;
  /** The router the viewer's transport is on. */
  router: types.Router;
  /** The viewer's WebRtcTransport. */
  transport: types.WebRtcTransport;
  /** The browser's RTP capabilities. */
  rtpCapabilities: types.RtpCapabilities;
  /** Pace of the replay, bps. */
  replayBps: number;
  log: Logger;
}

/** What a primer did (tests, benchmark). */
export interface PrimerStats {
  /** Packets and bytes replayed from the cache. */
  replayedPackets: number;
  replayedBytes: number;
  /** Live packets relayed after the replay. */
  relayedPackets: number;
  /** ms from the start of the replay to the last replayed packet (the catch-up; undefined before). */
  catchUpMs: number | undefined;
  /** The camera's next keyframe came: the live consumer took over. */
  handedOver: boolean;
  /** Replays started again by keyframe requests from the browser. */
  replays: number;
}

export class Primer {
  readonly #o: PrimerOptions;
  readonly #direct: types.DirectTransport;
  readonly #producer: types.Producer;
  readonly #consumer: types.Consumer;
  readonly #ssrc: number;
  #seq = randomInt(0, 0x10000);
  #queue: CachedPacket[] = [];
  /** Replayed packets still queued (the rest of the queue is live). */
  #backlog = 0;
  #started = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #lifeTimer: NodeJS.Timeout | undefined;
  #startedAt = 0;
  #budget = 0;
  #lastTick = 0;
  /** Timestamp mapping: the frame being sent (source ts -> sent ts), the last sent ts, and the live offset once caught up. */
  #frameSrcTs: number | undefined;
  #frameOutTs = 0;
  #sentAny = false;
  #liveOffset: number | undefined;
  #clockBase = 0;
  #lastReplayAt = 0;
  readonly #stats: PrimerStats = { replayedPackets: 0, replayedBytes: 0, relayedPackets: 0, catchUpMs: undefined, handedOver: false, replays: 0 };
  readonly #onPacket = (p: CachedPacket): void => this.#enqueue(p, false);
  readonly #onKeyframe = (): void => this.#handover();
  readonly #onCacheClose = (): void => this.close();

  private constructor(o: PrimerOptions, direct: types.DirectTransport, producer: types.Producer, consumer: types.Consumer, ssrc: number) {
    this.#o = o;
    this.#direct = direct;
    this.#producer = producer;
    this.#consumer = consumer;
    this.#ssrc = ssrc;
    consumer.observer.once('close', () => this.close());
    direct.observer.once('close', () => this.close());
    producer.on('trace', (trace) => {
      if (trace.type === 'pli' || trace.type === 'fir') this.#replayAgain();
    });
    this.#lifeTimer = setTimeout(() => this.close(), MAX_LIFE_MS);
    this.#lifeTimer.unref();
  }

  /**
   * Opens a paused primer consumer on the viewer's transport.
   * @returns undefined when the cache holds no GOP start or the browser cannot receive the codec
   * @throws Error when mediasoup refuses (router or transport closed)
   */
  static async open(o: PrimerOptions): Promise<Primer | undefined> {
    if (!o.cache.snapshot()) return undefined;
    const codec = o.cache.codec;
    const ssrc = randomInt(1, 0xffffffff);
    const direct = await o.router.createDirectTransport();
    try {
      const producer = await direct.produce({
        kind: 'video',
        rtpParameters: {
          codecs: [{ ...codec, rtcpFeedback: codec.rtcpFeedback ?? [] }],
          encodings: [{ ssrc }],
          headerExtensions: [],
          rtcp: { cname: `primer-${ssrc}`, reducedSize: true },
        },
        appData: { primer: true },
      });
      await producer.enableTraceEvent(['pli', 'fir']);
      if (!o.router.canConsume({ producerId: producer.id, rtpCapabilities: o.rtpCapabilities })) {
        direct.close();
        return undefined;
      }
      const consumer = await o.transport.consume({ producerId: producer.id, rtpCapabilities: o.rtpCapabilities, paused: true, appData: { primer: true } });
      return new Primer(o, direct, producer, consumer, ssrc);
    } catch (err) {
      direct.close();
      throw err;
    }
  }

  /** The consumer the browser receives the primer on. */
  get consumer(): types.Consumer {
    return this.#consumer;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get stats(): PrimerStats {
    return { ...this.#stats };
  }

  /**
   * Resumes the primer consumer and starts the replay once the viewer's DTLS
   * is connected (packets sent before would be dropped by mediasoup).
   * A second call does nothing.
   */
  async start(): Promise<void> {
    if (this.#started || this.#closed) return;
    this.#started = true;
    await this.#consumer.resume().catch(() => {});
    const t = this.#o.transport;
    if (t.dtlsState !== 'connected') {
      await new Promise<void>((resolve) => {
        const onState = (s: types.DtlsState): void => {
          if (s === 'connected' || s === 'failed' || s === 'closed') done();
        };
        const done = (): void => {
          t.off('dtlsstatechange', onState);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(done, 10_000);
        t.on('dtlsstatechange', onState);
        this.#consumer.observer.once('close', done);
      });
    }
    if (this.#closed || t.dtlsState !== 'connected') return this.close();
    const snapshot = this.#o.cache.snapshot();
    if (!snapshot) return this.close();
    this.#startedAt = performance.now();
    this.#lastReplayAt = this.#startedAt;
    this.#lastTick = this.#startedAt;
    this.#clockBase = snapshot[snapshot.length - 1]!.timestamp;
    this.#queue = snapshot;
    this.#backlog = snapshot.length;
    this.#o.cache.on('packet', this.#onPacket);
    this.#o.cache.on('keyframe', this.#onKeyframe);
    this.#o.cache.once('close', this.#onCacheClose);
    this.#pump();
  }

  /** Stops sending and closes the per-viewer transport, producer and consumer. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#lifeTimer);
    this.#queue = [];
    this.#o.cache.off('packet', this.#onPacket);
    this.#o.cache.off('keyframe', this.#onKeyframe);
    this.#o.cache.off('close', this.#onCacheClose);
    this.#direct.close();
  }

  #enqueue(p: CachedPacket, replayed: boolean): void {
    if (this.#closed || this.#stats.handedOver) return;
    this.#queue.push(p);
    if (replayed) this.#backlog++;
    if (this.#timer === undefined) this.#pump();
  }

  /**
   * The browser asked for a keyframe: replay the cache again from its
   * keyframe (stamps keep increasing: they follow the send time again).
   */
  #replayAgain(): void {
    if (!this.#started || this.#startedAt === 0 || this.#closed || this.#stats.handedOver) return;
    const now = performance.now();
    if (now - this.#lastReplayAt < REPLAY_AGAIN_MIN_MS) return;
    const snapshot = this.#o.cache.snapshot();
    if (!snapshot) return;
    this.#lastReplayAt = now;
    this.#stats.replays++;
    this.#queue = snapshot;
    this.#backlog = snapshot.length;
    this.#liveOffset = undefined;
    this.#frameSrcTs = undefined;
    clearTimeout(this.#timer);
    this.#pump();
  }

  /** The camera's next keyframe: the live consumer starts with it. */
  #handover(): void {
    if (this.#stats.handedOver || this.#closed) return;
    this.#stats.handedOver = true;
    this.#queue = [];
    this.#backlog = 0;
    this.#o.log.debug({ ...this.#stats }, 'primer handed over to the live consumer');
    clearTimeout(this.#lifeTimer);
    this.#lifeTimer = setTimeout(() => this.close(), HANDOVER_GRACE_MS);
    this.#lifeTimer.unref();
  }

  /** Sends what the byte budget allows now; re-arms itself while packets are queued. */
  #pump(): void {
    this.#timer = undefined;
    if (this.#closed || this.#producer.closed) return;
    const now = performance.now();
    // Budget in bytes, refilled at replayBps, capped at 2 ticks' worth plus one packet (no unbounded burst after a stall).
    const perMs = this.#o.replayBps / 8 / 1000;
    this.#budget = Math.min(this.#budget + (now - this.#lastTick) * perMs, perMs * TICK_MS * 2 + 1500);
    this.#lastTick = now;
    while (this.#queue.length > 0 && (this.#budget > 0 || this.#backlog === 0)) {
      const p = this.#queue.shift()!;
      const replayed = this.#backlog > 0;
      if (replayed) this.#backlog--;
      this.#send(p, now, replayed);
      this.#budget -= p.buf.length;
      if (replayed && this.#backlog === 0) this.#stats.catchUpMs = Math.round(performance.now() - this.#startedAt);
    }
    if (this.#queue.length > 0) this.#timer = setTimeout(() => this.#pump(), TICK_MS);
  }

  #send(p: CachedPacket, now: number, replayed: boolean): void {
    if (p.timestamp !== this.#frameSrcTs) {
      // A new frame: stamp it.
      const clockRate = this.#o.cache.codec.clockRate;
      let ts: number;
      if (this.#liveOffset !== undefined) ts = (p.timestamp + this.#liveOffset) >>> 0;
      else {
        // While replaying: the send time on the RTP clock, so the receiver renders each frame on arrival.
        ts = (this.#clockBase + Math.round(((now - this.#startedAt) * clockRate) / 1000)) >>> 0;
        if (!replayed) this.#liveOffset = (ts - p.timestamp) >>> 0;
      }
      // Strictly increasing (mod 2^32) per frame.
      if (this.#sentAny && ((ts - this.#frameOutTs) | 0) <= 0) ts = (this.#frameOutTs + 1) >>> 0;
      this.#sentAny = true;
      this.#frameSrcTs = p.timestamp;
      this.#frameOutTs = ts;
    }
    const out = Buffer.from(p.buf);
    rewriteRtpHeader(out, this.#ssrc, this.#seq, this.#frameOutTs);
    this.#seq = (this.#seq + 1) & 0xffff;
    if (replayed) {
      this.#stats.replayedPackets++;
      this.#stats.replayedBytes += out.length;
    } else this.#stats.relayedPackets++;
    this.#producer.send(out);
  }
}
