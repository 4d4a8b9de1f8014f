/**
 * GOP cache: one camera stream's RTP packets since its last keyframe, so a
 * new viewer can be sent a decodable picture at once instead of waiting for
 * the camera's next keyframe (cameras send one every 1-10 s and RTSP cameras
 * ignore keyframe requests).
 *
 * The packets are tapped from the stream's producer by a consumer on a
 * DirectTransport (mediasoup docs: DirectTransport, Consumer event `rtp`),
 * on the producer's own router. That consumer starts at a keyframe
 * (mediasoup's SimpleConsumer syncs on one), so the cache is never mid-GOP.
 *
 *   keyframe ──▶ reset: [K] ──▶ [K p p p …] ──▶ next keyframe ──▶ reset: [K']
 *                                  │ bytes > maxBytes or media age > maxAgeMs
 *                                  ▼
 *                              invalid until the next keyframe (viewers wait, as without the cache)
 *
 * Bound per stream: `maxBytes` of packets (the payload bytes counted) and
 * `maxAgeMs` of media (RTP timestamps since the keyframe). Every packet is
 * also emitted (`packet`) so a {@link Primer} can relay the live stream
 * after its replay, and `keyframe` tells it the camera's next keyframe came
 * (its viewer's live consumer starts there).
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import type { InstantStartConfig } from '../config/schema.ts';
import { parseRtpHeader, startsKeyframe, type KeyframeCodec } from './rtp-packet.ts';

/** One cached RTP packet (as the tap consumer sent it: its SSRC, payload type and sequence numbers). */
export interface CachedPacket {
  buf: Buffer;
  timestamp: number;
  /** The first packet of a keyframe (the replay starts here). */
  keyframe: boolean;
}

export interface GopCacheEvents {
  /** A packet arrived (after it was cached). */
  packet: [packet: CachedPacket];
  /** A keyframe started (emitted before its first `packet`). */
  keyframe: [];
  close: [];
}

/** What one cache holds now (admin API, benchmark). */
export interface GopCacheStats {
  /** bytes of RTP held */
  bytes: number;
  packets: number;
  /** ms of media since the keyframe (RTP timestamps) */
  ageMs: number;
  /** A complete GOP start is held (a viewer can be primed). */
  ready: boolean;
}

export class GopCache extends EventEmitter<GopCacheEvents> {
  readonly #transport: types.DirectTransport;
  readonly #consumer: types.Consumer;
  readonly #codec: KeyframeCodec;
  readonly #cfg: InstantStartConfig;
  readonly #log: Logger;
  #packets: CachedPacket[] = [];
  #bytes = 0;
  #valid = false;
  #keyTimestamp = 0;
  #lastTimestamp = 0;
  #closed = false;

  private constructor(transport: types.DirectTransport, consumer: types.Consumer, codec: KeyframeCodec, cfg: InstantStartConfig, log: Logger) {
    super();
    this.#transport = transport;
    this.#consumer = consumer;
    this.#codec = codec;
    this.#cfg = cfg;
    this.#log = log;
    consumer.on('rtp', (buf) => this.#onRtp(buf));
    consumer.observer.once('close', () => this.close());
    transport.observer.once('close', () => this.close());
  }

  /**
   * Taps `producer` (a video producer on `router`).
   * @returns undefined for a codec the cache cannot parse keyframes of (only H.264 and VP8 are)
   * @throws Error when mediasoup refuses the transport or consumer (router or producer closed)
   */
  static async open(router: types.Router, producer: types.Producer, cfg: InstantStartConfig, log: Logger): Promise<GopCache | undefined> {
    const mime = producer.rtpParameters.codecs[0]?.mimeType.toLowerCase();
    if (mime !== 'video/h264' && mime !== 'video/vp8') return undefined;
    const transport = await router.createDirectTransport();
    try {
      const consumer = await transport.consume({
        producerId: producer.id,
        // Header extensions are not wanted: the replay goes through a producer that declares none.
        rtpCapabilities: { codecs: router.rtpCapabilities.codecs ?? [], headerExtensions: [] },
        appData: { gopCache: true },
      });
      return new GopCache(transport, consumer, mime, cfg, log);
    } catch (err) {
      transport.close();
      throw err;
    }
  }

  /** The media codec of the cached packets (payload type as the router assigned it). */
  get codec(): types.RtpCodecParameters {
    return this.#consumer.rtpParameters.codecs.find((c) => !c.mimeType.toLowerCase().endsWith('/rtx'))!;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The id of the producer tapped. */
  get producerId(): string {
    return this.#consumer.producerId;
  }

  get stats(): GopCacheStats {
    return { bytes: this.#bytes, packets: this.#packets.length, ageMs: this.#ageMs(), ready: this.#valid && this.#packets.length > 0 };
  }

  /**
   * The packets since the last keyframe, oldest first (the array is a copy;
   * the buffers are shared: copy before rewriting).
   * @returns undefined when no complete GOP start is held
   */
  snapshot(): CachedPacket[] | undefined {
    return this.#valid && this.#packets.length > 0 ? [...this.#packets] : undefined;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#drop();
    this.#transport.close();
    this.emit('close');
    this.removeAllListeners();
  }

  #ageMs(): number {
    if (this.#packets.length === 0) return 0;
    return (((this.#lastTimestamp - this.#keyTimestamp) >>> 0) * 1000) / this.codec.clockRate;
  }

  #drop(): void {
    this.#packets = [];
    this.#bytes = 0;
  }

  #onRtp(buf: Buffer): void {
    const h = parseRtpHeader(buf);
    if (!h || this.#closed) return;
    const keyframe =
      startsKeyframe(this.#codec, buf.subarray(h.payloadOffset, h.payloadEnd)) && !(this.#valid && this.#packets.length > 0 && h.timestamp === this.#keyTimestamp);
    const packet: CachedPacket = { buf, timestamp: h.timestamp, keyframe };
    if (keyframe) {
      this.#drop();
      this.#valid = true;
      this.#keyTimestamp = h.timestamp;
      this.emit('keyframe');
    }
    if (this.#valid) {
      this.#packets.push(packet);
      this.#bytes += buf.length;
      this.#lastTimestamp = h.timestamp;
      if (this.#bytes > this.#cfg.maxBytes || this.#ageMs() > this.#cfg.maxAgeMs) {
        this.#log.debug({ bytes: this.#bytes, ageMs: Math.round(this.#ageMs()) }, 'GOP longer than the cache bound: not cached until the next keyframe');
        this.#valid = false;
        this.#drop();
      }
    }
    this.emit('packet', packet);
  }
}
