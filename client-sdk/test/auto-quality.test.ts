/**
 * The `auto` quality policy, interval by interval: hysteresis down (two bad
 * intervals) and up (sustained good time, doubling after a failed try), the
 * settle period after a switch, and the signals that count as bad.
 */
import { describe, expect, it } from 'vitest';
import { AutoQualityPolicy, initialAutoQuality } from '../src/auto-quality.ts';
import type { IntervalStats } from '../src/stats.ts';

const good = (o: Partial<IntervalStats> = {}): IntervalStats => ({
  durationMs: 1000,
  bitrate: 900_000,
  fps: 25,
  lossRate: 0,
  freezes: 0,
  framesDropped: 0,
  jitterBufferMs: 40,
  availableIncomingBitrate: undefined,
  ...o,
});

/** Feeds `n` one-second intervals from `t` (ms); returns the first decision and when. */
function run(p: AutoQualityPolicy, quality: 'high' | 'low', n: number, s: IntervalStats | ((i: number) => IntervalStats), t: number) {
  for (let i = 0; i < n; i++) {
    const now = t + (i + 1) * 1000;
    const d = p.observe(quality, typeof s === 'function' ? s(i) : s, now);
    if (d) return { decision: d, at: now };
  }
  return { decision: undefined, at: t + n * 1000 };
}

describe('AutoQualityPolicy', () => {
  it('stays on high while the link is good', () => {
    const p = new AutoQualityPolicy();
    p.reset(0);
    expect(run(p, 'high', 60, good(), 0).decision).toBeUndefined();
  });

  it('steps down after two bad intervals in a row (frame rate collapsed), not after one', () => {
    const p = new AutoQualityPolicy();
    p.reset(0);
    run(p, 'high', 10, good(), 0);
    expect(p.observe('high', good({ fps: 9 }), 11_000)).toBeUndefined();
    expect(p.observe('high', good(), 12_000)).toBeUndefined();
    expect(p.observe('high', good({ fps: 9 }), 13_000)).toBeUndefined();
    expect(p.observe('high', good({ fps: 10 }), 14_000)).toBe('low');
  });

  it.each([
    ['loss over 5 %', good({ lossRate: 0.08 })],
    ['a freeze', good({ freezes: 1 })],
    ['jitter buffer over 400 ms', good({ jitterBufferMs: 650 })],
    ['bandwidth estimate under what high needed', good({ availableIncomingBitrate: 500_000 })],
  ])('counts %s as bad', (_name, bad) => {
    const p = new AutoQualityPolicy();
    p.reset(0);
    run(p, 'high', 10, good(), 0);
    expect(run(p, 'high', 2, bad, 10_000).decision).toBe('low');
  });

  it('steps down on a jitter buffer growing three intervals in a row, before it is large', () => {
    const p = new AutoQualityPolicy();
    p.reset(0);
    run(p, 'high', 10, good(), 0);
    // 40 (good) -> 60 -> 120 -> 180: growing three times, over 150 ms: bad; 240: bad again -> low.
    const jb = [60, 120, 180, 240, 300];
    expect(run(p, 'high', 5, (i) => good({ jitterBufferMs: jb[i]! }), 10_000)).toEqual({ decision: 'low', at: 14_000 });
  });

  it('ignores intervals within the settle period after a switch', () => {
    const p = new AutoQualityPolicy({ settleMs: 3000 });
    p.reset(100_000);
    expect(p.observe('high', good({ fps: 0, freezes: 3 }), 101_000)).toBeUndefined();
    expect(p.observe('high', good({ fps: 0, freezes: 3 }), 102_000)).toBeUndefined();
    expect(p.observe('high', good({ freezes: 1 }), 103_500)).toBeUndefined();
    expect(p.observe('high', good({ freezes: 1 }), 104_500)).toBe('low');
  });

  it('steps up after upAfterMs of good low; a try that fails soon doubles the wait, a try that holds resets it', () => {
    const p = new AutoQualityPolicy({ upAfterMs: 15_000, probeWindowMs: 30_000, settleMs: 0 });
    p.reset(0);
    run(p, 'high', 5, good(), 0);
    expect(run(p, 'high', 2, good({ lossRate: 0.2 }), 5000).decision).toBe('low');
    const up = run(p, 'low', 60, good({ bitrate: 100_000, fps: 15 }), 7000);
    expect(up).toEqual({ decision: 'high', at: 22_000 });
    // The try fails 5 s later: back down, and the next try waits twice as long.
    expect(run(p, 'high', 5, good({ fps: 5 }), 22_000).decision).toBe('low');
    expect(p.upAfterMs).toBe(30_000);
    const second = run(p, 'low', 60, good({ bitrate: 100_000, fps: 15 }), 30_000);
    expect(second.at - 30_000).toBe(30_000);
    // This try holds past the probe window: the wait is back to 15 s.
    run(p, 'high', 40, good(), second.at);
    expect(p.upAfterMs).toBe(15_000);
  });

  it('a bad interval at low restarts the count towards stepping up', () => {
    const p = new AutoQualityPolicy({ upAfterMs: 10_000, settleMs: 0 });
    p.reset(0);
    expect(run(p, 'low', 8, good(), 0).decision).toBeUndefined();
    expect(p.observe('low', good({ lossRate: 0.03 }), 9000)).toBeUndefined();
    expect(run(p, 'low', 9, good(), 9000).decision).toBeUndefined();
    expect(run(p, 'low', 2, good(), 18_000).decision).toBe('high');
  });

  it('does not step up while the bandwidth estimate is under 1.2x what high needed', () => {
    const p = new AutoQualityPolicy({ upAfterMs: 5000, settleMs: 0 });
    p.reset(0);
    run(p, 'high', 5, good({ bitrate: 1_000_000 }), 0);
    run(p, 'high', 2, good({ freezes: 1 }), 5000);
    expect(run(p, 'low', 20, good({ availableIncomingBitrate: 1_100_000 }), 7000).decision).toBeUndefined();
    expect(run(p, 'low', 20, good({ availableIncomingBitrate: 3_000_000 }), 27_000).decision).toBe('high');
  });

  it('steps up when the estimate cannot show room for high: a receive-side estimate stays under 1.5x what low brings + 10 kbit/s', () => {
    const p = new AutoQualityPolicy({ upAfterMs: 5000, settleMs: 0 });
    p.reset(0);
    run(p, 'high', 5, good({ bitrate: 900_000 }), 0);
    run(p, 'high', 2, good({ freezes: 1 }), 5000);
    // As Chromium showed without transport-cc: ~80 kbit/s estimated while low brought ~110 kbit/s.
    const low = good({ bitrate: 110_000, fps: 15, availableIncomingBitrate: 80_000 });
    expect(run(p, 'low', 4, low, 7000).decision).toBeUndefined();
    expect(run(p, 'low', 2, low, 11_000)).toEqual({ decision: 'high', at: 12_000 });
  });

  it('counts an estimate under what high needed as no shortage while it climbs, as a shortage once it stops', () => {
    const p = new AutoQualityPolicy({ settleMs: 0 });
    p.reset(0);
    run(p, 'high', 5, good({ bitrate: 900_000 }), 0);
    // After a switch to high the receive-side estimate climbs ~8 %/s from where low left it.
    expect(run(p, 'high', 20, (i) => good({ availableIncomingBitrate: Math.round(80_000 * 1.08 ** i) }), 5000).decision).toBeUndefined();
    expect(run(p, 'high', 3, good({ availableIncomingBitrate: 300_000 }), 25_000)).toEqual({ decision: 'low', at: 27_000 });
  });
});

describe('initialAutoQuality', () => {
  it('starts low with Save-Data or a 2G/3G effective type, high otherwise', () => {
    expect(initialAutoQuality(undefined)).toBe('high');
    expect(initialAutoQuality({})).toBe('high');
    expect(initialAutoQuality({ connection: { effectiveType: '4g' } })).toBe('high');
    expect(initialAutoQuality({ connection: { effectiveType: '3g' } })).toBe('low');
    expect(initialAutoQuality({ connection: { effectiveType: 'slow-2g' } })).toBe('low');
    expect(initialAutoQuality({ connection: { saveData: true, effectiveType: '4g' } })).toBe('low');
  });
});
