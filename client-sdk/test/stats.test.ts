/** Receiver counters from a webrtc-stats report and rates between two readings. */
import { describe, expect, it } from 'vitest';
import { between, parseCounters } from '../src/stats.ts';

function report(entries: Record<string, unknown>[]) {
  return { forEach: (cb: (s: Record<string, unknown>) => void) => entries.forEach(cb) };
}

const inbound = (o: Record<string, unknown>) => ({ type: 'inbound-rtp', kind: 'video', id: 'in', ...o });

describe('parseCounters', () => {
  it('reads the inbound video stream and the selected candidate pair', () => {
    const c = parseCounters(
      report([
        inbound({ bytesReceived: 1000, packetsReceived: 10, packetsLost: 1, framesDecoded: 5, framesPerSecond: 25, frameWidth: 640, frameHeight: 360, jitter: 0.004 }),
        { type: 'candidate-pair', id: 'p1', nominated: true, state: 'succeeded', availableIncomingBitrate: 111 },
        { type: 'candidate-pair', id: 'p2', nominated: true, state: 'succeeded', availableIncomingBitrate: 222 },
        { type: 'transport', selectedCandidatePairId: 'p2' },
      ]),
      1234,
    );
    expect(c).toMatchObject({ at: 1234, bytesReceived: 1000, packetsLost: 1, framesPerSecond: 25, frameWidth: 640, jitter: 0.004, availableIncomingBitrate: 222 });
    expect(c!.freezeCount).toBe(0);
  });

  it('is undefined before the receiver has stats', () => {
    expect(parseCounters(report([{ type: 'codec', id: 'c' }]), 0)).toBeUndefined();
  });
});

describe('between', () => {
  it('gives bitrate (bps), fps, loss rate and mean jitter-buffer delay (ms) over the interval', () => {
    const a = parseCounters(report([inbound({ bytesReceived: 0, packetsReceived: 0, packetsLost: 0, framesDecoded: 0, jitterBufferDelay: 0, jitterBufferEmittedCount: 0 })]), 1000)!;
    const b = parseCounters(
      report([inbound({ bytesReceived: 125_000, packetsReceived: 95, packetsLost: 5, framesDecoded: 25, freezeCount: 1, jitterBufferDelay: 2.5, jitterBufferEmittedCount: 25 })]),
      2000,
    )!;
    expect(between(a, b)).toEqual({
      durationMs: 1000,
      bitrate: 1_000_000,
      fps: 25,
      lossRate: 0.05,
      freezes: 1,
      framesDropped: 0,
      jitterBufferMs: 100,
      availableIncomingBitrate: undefined,
    });
  });

  it('treats counters that went backwards (a new receiver) as zero', () => {
    const a = parseCounters(report([inbound({ bytesReceived: 9999, framesDecoded: 500 })]), 0)!;
    const b = parseCounters(report([inbound({ bytesReceived: 100, framesDecoded: 3 })]), 1000)!;
    expect(between(a, b)).toMatchObject({ bitrate: 0, fps: 0, lossRate: 0, jitterBufferMs: undefined });
  });
});
