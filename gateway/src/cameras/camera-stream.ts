/**
 * One stream of a camera (main = `high` or sub = `low`): its ingest
 * (PlainTransport + producer on the camera's current router) and the driver
 * feeding it. Reports RTP activity, keyframes and source failures; can be
 * re-opened on another router (worker replaced).
 *
 * Every PlainTransport is connected to a fixed local sender (no comedia): a
 * relay's fixed ports, or for an RTP-push camera its push gate
 * (ingest/push-gate.ts), which owns the camera-facing port, accepts only the
 * camera, survives camera restarts, and counts strangers and reordered frames.
 *
 * RTP activity: a push gate's first packet marks it at once; otherwise the
 * producer's packet count is polled (`producer.getStats()`),
 * every 250 ms while the stream is inactive (a returning camera is seen
 * quickly) and every min(stallTimeoutMs / 3, 1000) ms while it is active.
 * mediasoup runs its own RTP inactivity check only for simulcast producers
 * with several encodings (worker src/RTC/Producer.cpp), and its score does not
 * drop when packets simply stop, so it cannot be used here.
 * Keyframes come from the producer's `keyframe` trace event.
 *
 * Degraded: a stream that plays but badly (frames out of order: B-frames over
 * RTP push) says why in {@link CameraStream.degraded}, while its lifecycle
 * state stays what RTP arrival makes it.
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import type { Quality } from '@vigil/protocol';
import type { CameraConfig, IngestConfig, SourceConfig } from '../config/schema.ts';
import { openPlainAudioIngest, openPlainIngest, type PlainIngest } from '../ingest/plain-ingest.ts';
import { relayAudioPayloadType, relayAudioRtpParameters } from '../ingest/rtsp/audio-rtp.ts';
import type { AudioPlan } from '../ingest/rtsp/decide.ts';
import { PushGate } from '../ingest/push-gate.ts';
import { SrtpReceiver } from '../ingest/srtp.ts';
import { loadSrtpMasterKey } from '../ingest/srtp-key.ts';
import { pushTranscodeDriver } from '../ingest/push-transcode.ts';
import type { udpSocketDrops } from '../ingest/socket-buffers.ts';
import { testPatternDriver, type AudioHost, type SourceDriver } from '../ingest/source-driver.ts';
import { RtspDriver } from '../ingest/rtsp-driver.ts';
import type { RtpTarget } from '../ingest/test-pattern.ts';
import { allocateUdpPortPair } from '../ingest/udp-ports.ts';

export interface CameraStreamEvents {
  /** RTP started (true) or has not arrived for stallTimeoutMs (false). */
  activity: [active: boolean];
  /** The source failed to deliver; reason is safe to show (no credentials). */
  failure: [reason: string];
  /** The producer was replaced (reopen): consumers of the old one are gone. */
  producerchange: [producer: types.Producer];
  /** The stream became degraded (with why) or recovered (undefined). */
  degraded: [degraded: StreamDegradation | undefined];
}

/** Why a stream that plays does not play well; `reason` is a closed set for metrics. */
export interface StreamDegradation {
  reason: 'b_frames';
  /** In words, safe to show operators (no addresses, no credentials). */
  message: string;
  /** ms since epoch */
  since: number;
}

/** Ingest counters of a stream (admin API, metrics). */
export interface StreamIngestCounters {
  /** Packets from senders other than the camera (RTP push), dropped. */
  foreignPackets: number;
  /** Times an RTP-push camera's stream restarted (new source port or sequence). */
  restarts: number;
  /** Frames received out of timestamp order (RTP push). */
  reorderedFrames: number;
  /** Datagrams the kernel dropped on the stream's ingest sockets (receive buffer full), since they opened. */
  socketDrops: number;
}

/** Reordered frames within {@link REORDER_WINDOW_MS} that make a stream degraded. */
const REORDER_THRESHOLD = 2;
/** Window for reordered frames; a stream recovers after this long without one, ms. */
const REORDER_WINDOW_MS = 10_000;

/** Loopback of the listen IP's family: where a push gate forwards to its PlainTransport. */
function loopbackOf(listenIp: string): string {
  return listenIp.includes(':') ? '::1' : '127.0.0.1';
}

/** SSRC base and payload type for relay-fed streams (the relay is told to send with them). */
const RELAY_SSRC = { high: 0x5649_4731, low: 0x5649_4732 } as const; // "VIG1", "VIG2"
const RELAY_AUDIO_SSRC = 0x5649_4741; // "VIGA"

/**
 * Where a relay on this host sends to, and so the source address mediasoup
 * sees: the ingest IP, or loopback when the ingest listens on a wildcard.
 */
function relayHost(listenIp: string): string {
  if (listenIp === '0.0.0.0') return '127.0.0.1';
  if (listenIp === '::') return '::1';
  return listenIp;
}

/** A stream's relayed audio: its own PlainTransport and producer, fed from fixed local ports. */
interface AudioIngest {
  ingest: PlainIngest;
  plan: AudioPlan;
  localRtpPort: number;
}
const RELAY_PAYLOAD_TYPE = 96;

/** Builds the driver for a relay-fed source kind; returns undefined for RTP push. */
export type DriverFactory = (
  camera: CameraConfig,
  source: SourceConfig,
  target: RtpTarget,
  ingest: IngestConfig,
  logger: Logger,
  audio: AudioHost,
) => SourceDriver | undefined;

/** Drivers for the built-in source kinds (RTP push needs none: the camera sends by itself). */
export const defaultDriverFactory: DriverFactory = (camera, source, target, ingest, logger, audio) => {
  switch (source.kind) {
    case 'test-pattern':
      return testPatternDriver(camera, source, target, ingest, logger);
    case 'rtsp':
      return new RtspDriver(camera, source, target, ingest, logger, audio);
    case 'rtp-push':
      return undefined;
  }
};

export interface CameraStreamOptions {
  camera: CameraConfig;
  source: SourceConfig;
  quality: Quality;
  ingest: IngestConfig;
  logger: Logger;
  driverFactory: DriverFactory;
}

export class CameraStream extends EventEmitter<CameraStreamEvents> {
  readonly quality: Quality;
  readonly source: SourceConfig;
  readonly #o: CameraStreamOptions;
  readonly #log: Logger;
  #router: types.Router;
  #ingest: PlainIngest;
  #driver: SourceDriver | undefined;
  #localRtpPort: number;
  #audio: AudioIngest | undefined;
  /** RTP push: the camera-facing front (owns the camera's ports; outlives transports). */
  #gate: PushGate | undefined;
  /** RTP push with `transcode`: the loopback port the transcoding relay listens on (the gate forwards there). */
  #transcodeInputPort: number | undefined;
  #reorderedAt: number[] = [];
  #degraded: StreamDegradation | undefined;
  #active = false;
  #lastKeyframeAt: number | undefined;
  #keyframeIntervalMs: number | undefined;
  #starts = 0;
  #resync = false;
  #closed = false;
  /** A move of the relay's local ports is under way (see #moveLocalPorts). */
  #movingPorts = false;
  #pollTimer: NodeJS.Timeout | undefined;
  #lastPackets = -1;
  #lastRtpAt = 0;
  /** The last producer stats the activity poll read (reused by metrics, see recentStats). */
  #lastStats: { producer: types.Producer; stats: types.ProducerStat[]; at: number } | undefined;
  /** fps measurements in progress per producer (they share its `rtp` trace). */
  readonly #rtpTracers = new WeakMap<types.Producer, number>();

  private constructor(
    o: CameraStreamOptions,
    router: types.Router,
    ingest: PlainIngest,
    localRtpPort: number,
    gate: PushGate | undefined,
  ) {
    super();
    this.#gate = gate;
    this.#o = o;
    this.quality = o.quality;
    this.source = o.source;
    this.#log = o.logger.child({ stream: o.quality });
    this.#router = router;
    this.#ingest = ingest;
    this.#localRtpPort = localRtpPort;
    this.#watch(ingest);
    this.#schedulePoll();
  }

  #schedulePoll(): void {
    const { stallTimeoutMs } = this.#o.ingest;
    const interval = this.#active ? Math.min(Math.floor(stallTimeoutMs / 3), 1000) : 250;
    this.#pollTimer = setTimeout(() => void this.#poll(), interval);
    this.#pollTimer.unref();
  }

  async #poll(): Promise<void> {
    const producer = this.#ingest.producer;
    try {
      if (!producer.closed) {
        const stats = await producer.getStats();
        const now = Date.now();
        this.#lastStats = { producer, stats, at: now };
        const packets = stats.reduce((n, st) => n + st.packetCount, 0);
        if (packets !== this.#lastPackets && packets > 0) {
          if (this.#ingest.producer === producer) this.#lastRtpAt = now;
          this.#setActive(true);
        } else if (this.#active && now - this.#lastRtpAt >= this.#o.ingest.stallTimeoutMs) {
          this.#setActive(false);
        }
        this.#lastPackets = packets;
      }
      this.#checkDegraded(Date.now());
    } catch {
      // producer closed under us (reopen / worker death): next poll sees the new one
    }
    if (!this.#closed) this.#schedulePoll();
  }

  /**
   * Opens the stream's ingest on `router` and starts its driver.
   * @throws Error when the ingest port is taken (nothing is left open)
   */
  static async open(o: CameraStreamOptions, router: types.Router): Promise<CameraStream> {
    const src = o.source;
    const gate =
      src.kind === 'rtp-push'
        ? await PushGate.open({
            listenIp: o.ingest.listenIp,
            port: src.port,
            ssrc: src.ssrc,
            sourceIp: src.sourceIp,
            forwardIp: loopbackOf(o.ingest.listenIp),
            recvBufferSize: o.ingest.recvBufferSize,
            sendBufferSize: 262_144,
            srtp: src.srtp ? new SrtpReceiver(src.srtp.cryptoSuite, await loadSrtpMasterKey(src.srtp, `camera.${o.quality === 'high' ? 'source' : 'subSource'}.srtp`)) : undefined,
            logger: o.logger.child({ stream: o.quality, role: 'push-gate' }),
          })
        : undefined;
    const transcoding = src.kind === 'rtp-push' && src.transcode === 'h264';
    const loopback = loopbackOf(o.ingest.listenIp);
    let ingest: PlainIngest;
    let localRtpPort: number;
    let transcodeInputPort: number | undefined;
    try {
      // A relay (test pattern, RTSP, push transcode) sends from fixed local ports; a plain push gate from its own.
      localRtpPort = gate && !transcoding ? gate.forwardSource.rtpPort : await allocateUdpPortPair(gate ? loopback : o.ingest.listenIp);
      if (transcoding) transcodeInputPort = await allocateUdpPortPair(loopback);
      ingest = await CameraStream.#openIngest(o, router, localRtpPort);
    } catch (err) {
      gate?.close();
      throw err;
    }
    gate?.retarget(transcodeInputPort ? { rtpPort: transcodeInputPort, rtcpPort: transcodeInputPort + 1 } : { rtpPort: ingest.rtpPort, rtcpPort: ingest.rtcpPort });
    const stream = new CameraStream(o, router, ingest, localRtpPort, gate);
    stream.#transcodeInputPort = transcodeInputPort;
    gate?.on('source', (restart) => stream.#onGateSource(restart));
    gate?.on('reordered', () => stream.#onReordered());
    const relayLog = stream.#log.child({ role: 'relay' });
    stream.#driver =
      src.kind === 'rtp-push' && transcodeInputPort !== undefined
        ? pushTranscodeDriver(o.camera, src, loopback, transcodeInputPort, stream.#target(), o.ingest, relayLog)
        : o.driverFactory(o.camera, o.source, stream.#target(), o.ingest, relayLog, {
            openAudio: (plan) => stream.#openAudio(plan),
          });
    stream.#driver?.on('failure', (reason) => {
      if (!stream.#closed) stream.emit('failure', reason);
    });
    stream.#driver?.on('localPortsTaken', () => void stream.#moveLocalPorts());
    stream.#driver?.on('start', () => {
      // A restarted relay starts new RTP sequence numbers and timestamps on the same SSRC.
      if (stream.#starts++ > 0) stream.#resync = true;
    });
    stream.#log.info(
      {
        rtpPort: stream.ports.rtpPort,
        rtcpPort: stream.ports.rtcpPort,
        kind: o.source.kind,
        ...(src.kind === 'rtp-push' && src.srtp ? { srtp: src.srtp.cryptoSuite } : {}),
        routerId: router.id,
        ...(gate ? { recvBufferSize: gate.recvBufferSize } : {}),
      },
      'camera stream ingest open',
    );
    return stream;
  }

  static #openIngest(o: CameraStreamOptions, router: types.Router, localRtpPort: number): Promise<PlainIngest> {
    const src = o.source;
    const { recvBufferSize } = o.ingest;
    if (src.kind === 'rtp-push' && src.transcode !== 'h264') {
      // Only the push gate sends here, over loopback: the transport is not reachable from outside.
      const ip = loopbackOf(o.ingest.listenIp);
      return openPlainIngest(router, o.camera, ip, 0, src.ssrc, src.payloadType, { ip, rtpPort: localRtpPort }, recvBufferSize);
    }
    if (src.kind === 'rtp-push') {
      // The push transcode relay sends here over loopback, as the relay's SSRC.
      const ip = loopbackOf(o.ingest.listenIp);
      return openPlainIngest(router, o.camera, ip, 0, RELAY_SSRC[o.quality], RELAY_PAYLOAD_TYPE, { ip, rtpPort: localRtpPort }, recvBufferSize);
    }
    return openPlainIngest(router, o.camera, o.ingest.listenIp, 0, RELAY_SSRC[o.quality], RELAY_PAYLOAD_TYPE, {
      ip: relayHost(o.ingest.listenIp),
      rtpPort: localRtpPort,
    }, recvBufferSize);
  }

  /** The push gate saw the camera's first packet, or the camera restarting (new port / sequence). */
  #onGateSource(restart: boolean): void {
    if (this.#closed) return;
    this.#lastRtpAt = Date.now();
    // The gate keeps sequence numbers and timestamps continuous, so consumers go
    // on as if nothing happened and the new stream's first keyframe (new SPS/PPS,
    // maybe a new size) reaches viewers at once. A pause/resume re-sync (as for
    // relays) would make consumers skip that keyframe and wait a GOP for the next.
    if (restart) this.#reorderedAt = [];
    this.#setActive(true);
  }

  #onReordered(): void {
    const now = Date.now();
    this.#reorderedAt.push(now);
    while (this.#reorderedAt.length > 0 && now - this.#reorderedAt[0]! > REORDER_WINDOW_MS) this.#reorderedAt.shift();
    this.#checkDegraded(now);
  }

  #checkDegraded(now: number): void {
    // Transcoding removes the reordering: nothing to warn about.
    if (this.#transcodeInputPort !== undefined) return;
    while (this.#reorderedAt.length > 0 && now - this.#reorderedAt[0]! > REORDER_WINDOW_MS) this.#reorderedAt.shift();
    const reordering = this.#reorderedAt.length >= REORDER_THRESHOLD;
    if (reordering && !this.#degraded) {
      this.#degraded = {
        reason: 'b_frames',
        message:
          'the camera sends frames out of order (H.264 B-frames), which WebRTC receivers play as freezes; ' +
          'turn B-frames off in the camera, or set transcode: "h264" on its source',
        since: now,
      };
      this.#log.warn({ reason: this.#degraded.reason }, this.#degraded.message);
      this.emit('degraded', this.#degraded);
    } else if (!reordering && this.#degraded && this.#reorderedAt.length === 0) {
      this.#degraded = undefined;
      this.#log.info('camera stream no longer degraded');
      this.emit('degraded', undefined);
    }
  }

  /** Why the stream plays badly, or undefined. */
  get degraded(): StreamDegradation | undefined {
    return this.#degraded;
  }

  /** Local UDP ports of the stream's video ingest sockets (push gate and PlainTransport), for kernel drop counts. */
  get ingestPorts(): number[] {
    return [this.#ingest.rtpPort, ...(this.#gate ? [this.#gate.ports.rtpPort] : [])];
  }

  /**
   * Ingest counters: the push gate's (strangers, restarts, reordered frames)
   * and the kernel's drops on the stream's ingest sockets.
   * @param drops kernel drops per local port, from {@link udpSocketDrops} (read once for many streams)
   */
  ingestCounters(drops: ReadonlyMap<number, number>): StreamIngestCounters {
    const g = this.#gate?.stats;
    return {
      foreignPackets: g?.foreignPackets ?? 0,
      restarts: g?.restarts ?? 0,
      reorderedFrames: g?.reorderedFrames ?? 0,
      socketDrops: this.ingestPorts.reduce((n, port) => n + (drops.get(port) ?? 0), 0),
    };
  }

  #target(): RtpTarget {
    return {
      // A push stream's transport listens on loopback (only the gate or its transcoder send to it).
      host: this.source.kind === 'rtp-push' ? loopbackOf(this.#o.ingest.listenIp) : relayHost(this.#o.ingest.listenIp),
      rtpPort: this.#ingest.rtpPort,
      rtcpPort: this.#ingest.rtcpPort,
      ssrc: RELAY_SSRC[this.quality],
      payloadType: RELAY_PAYLOAD_TYPE,
      localRtpPort: this.#localRtpPort,
    };
  }

  async #openAudio(plan: AudioPlan): Promise<RtpTarget> {
    if (this.#closed) throw new Error('stream is closed');
    const samePlan = this.#audio && JSON.stringify(this.#audio.plan) === JSON.stringify(plan) && !this.#audio.ingest.transport.closed;
    if (!samePlan) {
      this.#audio?.ingest.transport.close();
      const localRtpPort = this.#audio?.localRtpPort ?? (await allocateUdpPortPair(this.#o.ingest.listenIp));
      const ingest = await this.#openAudioIngest(plan, this.#router, localRtpPort);
      this.#audio = { ingest, plan, localRtpPort };
      this.#log.info({ rtpPort: ingest.rtpPort, audio: plan.mode }, 'camera audio ingest open');
    }
    return this.#audioTarget()!;
  }

  #openAudioIngest(plan: AudioPlan, router: types.Router, localRtpPort: number): Promise<PlainIngest> {
    const pt = relayAudioPayloadType(plan);
    const source = { ip: relayHost(this.#o.ingest.listenIp), rtpPort: localRtpPort };
    return openPlainAudioIngest(router, this.#o.camera.id, this.#o.ingest.listenIp, relayAudioRtpParameters(plan, RELAY_AUDIO_SSRC, pt), source, this.#o.ingest.recvBufferSize);
  }

  #audioTarget(): RtpTarget | undefined {
    const a = this.#audio;
    if (!a) return undefined;
    return {
      host: relayHost(this.#o.ingest.listenIp),
      rtpPort: a.ingest.rtpPort,
      rtcpPort: a.ingest.rtcpPort,
      ssrc: RELAY_AUDIO_SSRC,
      payloadType: relayAudioPayloadType(a.plan),
      localRtpPort: a.localRtpPort,
    };
  }

  /** The relayed audio producer, when the camera's audio is ingested. */
  get audioProducer(): types.Producer | undefined {
    const p = this.#audio?.ingest.producer;
    return p && !p.closed ? p : undefined;
  }

  #watch(ingest: PlainIngest): void {
    void ingest.producer.enableTraceEvent(['keyframe']).catch(() => {});
    ingest.producer.on('trace', (trace) => {
      if (trace.type !== 'keyframe') return;
      const now = Date.now();
      if (this.#lastKeyframeAt !== undefined) this.#keyframeIntervalMs = now - this.#lastKeyframeAt;
      this.#lastKeyframeAt = now;
    });
  }

  #setActive(active: boolean): void {
    if (active === this.#active || this.#closed) return;
    this.#active = active;
    if (active && this.#resync) {
      this.#resync = false;
      void this.#resyncConsumers();
    }
    this.emit('activity', active);
  }

  /**
   * After a relay restart the same producer carries a new RTP sequence and
   * timestamp space. Pausing and resuming the producer makes every consumer
   * re-sync at the next keyframe (mediasoup SimpleProducerStreamManager
   * OnResumed: syncRequired + keyframe request), so viewers continue with a
   * continuous sequence instead of a jump the browser may not recover from.
   */
  async #resyncConsumers(): Promise<void> {
    const producer = this.#ingest.producer;
    try {
      await producer.pause();
      await producer.resume();
    } catch {
      // producer closed meanwhile: its consumers are gone anyway
    }
  }

  /** The producer viewers consume. */
  get producer(): types.Producer {
    return this.#ingest.producer;
  }

  get router(): types.Router {
    return this.#router;
  }

  /**
   * The producer stats the activity poll read at most `maxAgeMs` ago, if they
   * are of `producer` (so readers such as /metrics need no IPC of their own).
   */
  recentStats(producer: types.Producer, maxAgeMs: number): types.ProducerStat[] | undefined {
    const last = this.#lastStats;
    return last && last.producer === producer && Date.now() - last.at <= maxAgeMs ? last.stats : undefined;
  }

  /** RTP is arriving. */
  get active(): boolean {
    return this.#active;
  }

  /** Local RTP/RTCP ports the source sends to (an RTP-push camera: its push gate's). */
  get ports(): { rtpPort: number; rtcpPort: number } {
    return this.#gate?.ports ?? { rtpPort: this.#ingest.rtpPort, rtcpPort: this.#ingest.rtcpPort };
  }

  /** Last keyframe seen, ms since epoch; measured keyframe interval (GOP), ms. */
  get keyframes(): { lastAt: number | undefined; intervalMs: number | undefined } {
    return { lastAt: this.#lastKeyframeAt, intervalMs: this.#keyframeIntervalMs };
  }

  /** Times the driver (re)started its relay (0 for RTP push). */
  get relayStarts(): number {
    return this.#starts;
  }

  /** The driver, for diagnostics and tests. */
  get driver(): SourceDriver | undefined {
    return this.#driver;
  }

  /** The video ingest's PlainTransport, for diagnostics and tests (its stats: what mediasoup received and ignored). */
  get ingestTransport(): types.PlainTransport {
    return this.#ingest.transport;
  }

  /**
   * Re-opens the ingest on `router` (its worker was replaced) and points the
   * driver (or push gate) at it. The old producer closes; `producerchange` fires.
   * @throws Error when the new ingest cannot open (the stream then has no producer until retried)
   */
  async reopen(router: types.Router): Promise<void> {
    if (this.#closed) return;
    if (!this.#ingest.transport.closed) this.#ingest.transport.close();
    this.#setActive(false);
    const ingest = await CameraStream.#openIngest(this.#o, router, this.#localRtpPort);
    if (this.#closed) {
      ingest.transport.close();
      return;
    }
    this.#router = router;
    this.#ingest = ingest;
    this.#lastPackets = -1;
    this.#watch(ingest);
    if (this.#transcodeInputPort === undefined) this.#gate?.retarget({ rtpPort: ingest.rtpPort, rtcpPort: ingest.rtcpPort });
    if (this.#audio) {
      if (!this.#audio.ingest.transport.closed) this.#audio.ingest.transport.close();
      this.#audio.ingest = await this.#openAudioIngest(this.#audio.plan, router, this.#audio.localRtpPort);
    }
    this.#driver?.retarget(this.#target(), this.#audioTarget());
    this.#log.info({ rtpPort: ingest.rtpPort, routerId: router.id }, 'camera stream ingest re-opened');
    this.emit('producerchange', ingest.producer);
  }

  /**
   * The relay's fixed local ports were taken by another socket since they were
   * chosen (its bind fails on every restart): choose new pairs (video, and
   * audio if any) and re-open the ingest connected to them, as {@link reopen}
   * does for a new worker; the driver restarts the relay from the new ports.
   * Viewers of the old producer resubscribe (`producerchange`). Not for a
   * push-transcode relay, whose ports the push gate knows.
   */
  async #moveLocalPorts(): Promise<void> {
    if (this.#closed || this.#movingPorts || this.#transcodeInputPort !== undefined) return;
    this.#movingPorts = true;
    const from = this.#localRtpPort;
    try {
      this.#localRtpPort = await allocateUdpPortPair(this.#gate ? loopbackOf(this.#o.ingest.listenIp) : this.#o.ingest.listenIp);
      if (this.#audio) this.#audio.localRtpPort = await allocateUdpPortPair(this.#o.ingest.listenIp);
      this.#log.warn({ from, to: this.#localRtpPort }, 'relay local ports taken by another socket: moving the relay to new ones');
      await this.reopen(this.#router);
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'moving the relay to new local ports failed');
    } finally {
      this.#movingPorts = false;
    }
  }

  /**
   * Measures the frame rate by counting distinct RTP timestamps (one per video
   * frame, RFC 6184 §5.1 / RFC 7741 §4.1) in the producer's `rtp` trace events
   * over `windowMs`. Costs one Node event per packet while it runs: for
   * on-demand stats, not for every scrape.
   * @returns frames per second (0 when no RTP arrived)
   */
  async measureFps(windowMs = 1000): Promise<number> {
    const producer = this.#ingest.producer;
    if (producer.closed) return 0;
    const stamps = new Set<number>();
    const onTrace = (trace: types.ProducerTraceEventData): void => {
      if (trace.type !== 'rtp') return;
      const ts = (trace.info['rtpPacket'] as { timestamp?: number } | undefined)?.timestamp;
      if (typeof ts === 'number') stamps.add(ts);
    };
    producer.on('trace', onTrace);
    // Concurrent measurements (admin API, metrics) share the `rtp` trace: it is
    // on while at least one runs.
    const tracers = (this.#rtpTracers.get(producer) ?? 0) + 1;
    this.#rtpTracers.set(producer, tracers);
    if (tracers === 1) await producer.enableTraceEvent(['keyframe', 'rtp']).catch(() => {});
    try {
      await new Promise((r) => setTimeout(r, windowMs));
    } finally {
      producer.off('trace', onTrace);
      const left = (this.#rtpTracers.get(producer) ?? 1) - 1;
      this.#rtpTracers.set(producer, left);
      if (left === 0 && !producer.closed) await producer.enableTraceEvent(['keyframe']).catch(() => {});
    }
    return Math.round((stamps.size * 1000) / windowMs);
  }

  /** Forces the source to reconnect (relay restart); no-op for RTP push. */
  restartSource(): void {
    this.#driver?.restartNow();
  }

  /** Stops the driver and closes the ingest. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#pollTimer);
    await this.#driver?.stop();
    this.#ingest.transport.close();
    this.#audio?.ingest.transport.close();
    this.#gate?.close();
  }
}
