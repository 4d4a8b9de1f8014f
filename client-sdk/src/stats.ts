/**
 * Receive-side statistics of one feed, read from the browser's
 * RTCPeerConnection stats (W3C webrtc-stats: RTCInboundRtpStreamStats and the
 * selected RTCIceCandidatePairStats), and rates computed between two readings.
 * Pure functions apart from {@link readCounters}; no timers.
 */

/** Cumulative counters of one video receiver at one instant. */
export interface ReceiverCounters {
  /** When read, ms (performance.now() clock). */
  at: number;
  bytesReceived: number;
  packetsReceived: number;
  /** Cumulative packets lost (RFC 3550 §6.4.1; may dip when late packets arrive). */
  packetsLost: number;
  framesDecoded: number;
  framesDropped: number;
  /** Freezes seen by the renderer (webrtc-stats freezeCount; Chromium). */
  freezeCount: number;
  /** Sum of the time each emitted frame spent in the jitter buffer, s. */
  jitterBufferDelay: number;
  jitterBufferEmittedCount: number;
  /** Interarrival jitter, s (RFC 3550 §6.4.1). */
  jitter: number;
  /** Decoded frames per second as the browser reports it, when it does. */
  framesPerSecond: number | undefined;
  frameWidth: number | undefined;
  frameHeight: number | undefined;
  /**
   * Receive-side bandwidth estimate of the selected candidate pair, bps
   * (webrtc-stats availableIncomingBitrate); most browsers leave it unset.
   */
  availableIncomingBitrate: number | undefined;
}

/** Rates over the interval between two readings of the same receiver. */
export interface IntervalStats {
  durationMs: number;
  /** Media bitrate received, bps. */
  bitrate: number;
  /** Frames decoded per second. */
  fps: number;
  /** Packets lost / packets expected over the interval, 0..1. */
  lossRate: number;
  /** New freezes in the interval. */
  freezes: number;
  /** Frames dropped by the receiver in the interval. */
  framesDropped: number;
  /** Mean jitter-buffer delay of the frames emitted in the interval, ms (undefined: no frame emitted). */
  jitterBufferMs: number | undefined;
  /** See {@link ReceiverCounters.availableIncomingBitrate}, bps. */
  availableIncomingBitrate: number | undefined;
}

type StatsLike = { forEach(cb: (s: Record<string, unknown>) => void): void };

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const opt = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Extracts the counters of the (single) inbound video stream from a stats
 * report, e.g. `await consumer.getStats()` (RTCRtpReceiver.getStats()).
 * @returns undefined when the report has no inbound-rtp entry yet
 */
export function parseCounters(report: StatsLike, at: number): ReceiverCounters | undefined {
  let inbound: Record<string, unknown> | undefined;
  let pair: Record<string, unknown> | undefined;
  let selectedPairId: unknown;
  const pairs = new Map<unknown, Record<string, unknown>>();
  report.forEach((s) => {
    if (s['type'] === 'inbound-rtp' && (s['kind'] ?? 'video') === 'video') inbound = s;
    else if (s['type'] === 'transport') selectedPairId = s['selectedCandidatePairId'];
    else if (s['type'] === 'candidate-pair') {
      pairs.set(s['id'], s);
      if (s['nominated'] === true && s['state'] === 'succeeded') pair ??= s;
    }
  });
  if (!inbound) return undefined;
  pair = (selectedPairId !== undefined ? pairs.get(selectedPairId) : undefined) ?? pair;
  const i = inbound;
  return {
    at,
    bytesReceived: num(i['bytesReceived']),
    packetsReceived: num(i['packetsReceived']),
    packetsLost: num(i['packetsLost']),
    framesDecoded: num(i['framesDecoded']),
    framesDropped: num(i['framesDropped']),
    freezeCount: num(i['freezeCount']),
    jitterBufferDelay: num(i['jitterBufferDelay']),
    jitterBufferEmittedCount: num(i['jitterBufferEmittedCount']),
    jitter: num(i['jitter']),
    framesPerSecond: opt(i['framesPerSecond']),
    frameWidth: opt(i['frameWidth']),
    frameHeight: opt(i['frameHeight']),
    availableIncomingBitrate: opt(pair?.['availableIncomingBitrate']),
  };
}

/** Reads the counters of a mediasoup-client consumer's receiver. */
export async function readCounters(consumer: { getStats(): Promise<StatsLike> }): Promise<ReceiverCounters | undefined> {
  return parseCounters(await consumer.getStats(), performance.now());
}

/**
 * One feed's counters over two receivers that carried it one after the other
 * (instant start: the primer, then the live consumer): cumulative counts
 * summed, so they only grow across the hand-over; the instantaneous figures
 * (frame size, fps, jitter, bandwidth estimate) from `shown`, the receiver on screen.
 */
export function combineCounters(shown: ReceiverCounters, other: ReceiverCounters): ReceiverCounters {
  return {
    ...shown,
    at: Math.max(shown.at, other.at),
    bytesReceived: shown.bytesReceived + other.bytesReceived,
    packetsReceived: shown.packetsReceived + other.packetsReceived,
    packetsLost: shown.packetsLost + other.packetsLost,
    framesDecoded: shown.framesDecoded + other.framesDecoded,
    framesDropped: shown.framesDropped + other.framesDropped,
    freezeCount: shown.freezeCount + other.freezeCount,
    jitterBufferDelay: shown.jitterBufferDelay + other.jitterBufferDelay,
    jitterBufferEmittedCount: shown.jitterBufferEmittedCount + other.jitterBufferEmittedCount,
  };
}

/**
 * Rates between two readings `a` (earlier) and `b` of the same receiver.
 * Counters that went backwards (a new receiver) count as zero.
 */
export function between(a: ReceiverCounters, b: ReceiverCounters): IntervalStats {
  const durationMs = Math.max(1, b.at - a.at);
  const d = (k: keyof ReceiverCounters): number => Math.max(0, num(b[k]) - num(a[k]));
  const received = d('packetsReceived');
  const lost = d('packetsLost');
  const emitted = d('jitterBufferEmittedCount');
  return {
    durationMs,
    bitrate: Math.round((d('bytesReceived') * 8 * 1000) / durationMs),
    fps: (d('framesDecoded') * 1000) / durationMs,
    lossRate: received + lost > 0 ? lost / (received + lost) : 0,
    freezes: d('freezeCount'),
    framesDropped: d('framesDropped'),
    jitterBufferMs: emitted > 0 ? (d('jitterBufferDelay') * 1000) / emitted : undefined,
    availableIncomingBitrate: b.availableIncomingBitrate,
  };
}
