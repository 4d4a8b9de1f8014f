/**
 * The `auto` quality policy: picks a camera's `high` (main) or `low` (sub)
 * stream from what the receiver sees, interval by interval (see stats.ts).
 *
 * Step DOWN (high -> low) after `downAfter` consecutive bad intervals. An
 * interval is bad when the link no longer carries the stream: packet loss over
 * `maxLossRate`, a freeze, the decoded frame rate under `minFpsRatio` of its
 * usual peak, the jitter buffer over `maxJitterBufferMs` or growing three
 * intervals in a row, or a receive-side bandwidth estimate
 * (availableIncomingBitrate, where the browser gives one) under the bitrate
 * `high` needs and not climbing. Frame rate and jitter-buffer growth move
 * seconds before the renderer counts a freeze, which is what lets it step
 * down before video freezes.
 *
 * Step UP (low -> high) only after `upAfterMs` of good intervals at `low`
 * (and, when the browser gives an estimate that could show it, 1.2x the
 * bitrate `high` needed).
 *
 * What the browser's estimate can say: Chromium reports
 * availableIncomingBitrate only from its receive-side estimator (viewer
 * consumers negotiate no transport-cc, gateway/src/fanout/viewer-capabilities.ts;
 * with transport-cc it reports none). libwebrtc's rate control
 * (AimdRateControl) lowers that estimate on overuse and raises it step by step
 * after, never above 1.5x the received bitrate + 10 kbit/s. So while `low`
 * plays it cannot show room for `high` (it is then ignored for stepping up),
 * and after a switch to `high` it climbs for tens of seconds from where `low`
 * left it (a climbing estimate counts as no shortage). Measured in Chromium
 * 156 (test/e2e/sdk-auto-quality.test.ts): ~80-250 kbit/s while `low`
 * received ~110 kbit/s; +8 %/s after the switch to `high`.
 * A try at `high` that goes bad within `probeWindowMs` doubles the wait (up to
 * `maxUpAfterMs`); staying good that long resets it. Intervals within
 * `settleMs` of a switch, resume or re-subscribe are ignored (the new stream
 * waits for a keyframe; queues drain).
 *
 * Pure: no timers, no browser APIs; the caller passes `now` (ms).
 */
import type { Quality } from '@vigil/protocol';
import type { IntervalStats } from './stats.ts';

export interface AutoQualityOptions {
  /** Sampling period, ms. */
  intervalMs: number;
  /** Consecutive bad intervals at `high` before stepping down. */
  downAfter: number;
  /** Good time at `low` before trying `high`, ms. */
  upAfterMs: number;
  /** Cap of `upAfterMs` after repeated failed tries, ms. */
  maxUpAfterMs: number;
  /** A try at `high` going bad within this time counts as failed, ms. */
  probeWindowMs: number;
  /** Intervals this soon after a switch/resume/re-subscribe are ignored, ms. */
  settleMs: number;
  /** Loss above this (0..1) makes an interval bad. */
  maxLossRate: number;
  /** Frame rate under this fraction of the stream's peak makes an interval bad. */
  minFpsRatio: number;
  /** Mean jitter-buffer delay above this makes an interval bad, ms. */
  maxJitterBufferMs: number;
}

export const DEFAULT_AUTO_QUALITY: Readonly<AutoQualityOptions> = {
  intervalMs: 1000,
  downAfter: 2,
  upAfterMs: 15_000,
  maxUpAfterMs: 240_000,
  probeWindowMs: 30_000,
  settleMs: 3000,
  maxLossRate: 0.05,
  minFpsRatio: 0.6,
  maxJitterBufferMs: 400,
};

/**
 * Whether a receive-side bandwidth estimate can reach `bar` (bps) while
 * `received` bps arrive. Browsers report only a receive-side estimate as
 * availableIncomingBitrate (libwebrtc's RemoteBitrateEstimator, which also
 * drives REMB), and its rate control never raises it above 1.5x the received
 * bitrate + 10 kbit/s (libwebrtc AimdRateControl::ClampBitrate): while the
 * small `low` stream plays, an estimate that could show room for `high`
 * cannot occur, so it says nothing about that room.
 */
function canShowRoom(received: number, bar: number): boolean {
  return received * 1.5 + 10_000 >= bar;
}

/** Below this peak frame rate the frame-rate rule is off (slideshow cameras). */
const MIN_PEAK_FPS = 5;
/** Jitter-buffer delay that must be exceeded for growth to count, ms. */
const JB_GROWTH_FLOOR_MS = 150;

export class AutoQualityPolicy {
  readonly options: AutoQualityOptions;
  #settleUntil = 0;
  #badStreak = 0;
  #goodSince: number | undefined;
  #upAfterMs: number;
  #upAt: number | undefined;
  readonly #peakFps = new Map<Quality, number>();
  #highBitrate: number | undefined;
  #jb: number[] = [];
  #lastQuality: Quality | undefined;
  /** The previous interval's availableIncomingBitrate, bps. */
  #prevAib: number | undefined;

  constructor(options: Partial<AutoQualityOptions> = {}) {
    this.options = { ...DEFAULT_AUTO_QUALITY, ...options };
    this.#upAfterMs = this.options.upAfterMs;
  }

  /** Current wait before trying `high` again, ms (grows after failed tries). */
  get upAfterMs(): number {
    return this.#upAfterMs;
  }

  /** Bitrate `high` carried while it was good (EWMA), bps; undefined until seen. */
  get highBitrate(): number | undefined {
    return this.#highBitrate;
  }

  /** The stream changed or restarted at `now` (ms): start a settle period. */
  reset(now: number): void {
    this.#settleUntil = now + this.options.settleMs;
    this.#badStreak = 0;
    this.#goodSince = undefined;
    this.#jb = [];
  }

  /**
   * Judges one interval of the stream `quality` ending at `now` (ms).
   * @returns the quality to switch to, or undefined to stay
   */
  observe(quality: Quality, s: IntervalStats, now: number): Quality | undefined {
    if (quality !== this.#lastQuality) {
      // A switch the caller did not announce with reset(): start counting afresh.
      this.#lastQuality = quality;
      this.#badStreak = 0;
      this.#goodSince = undefined;
      this.#jb = [];
    }
    const aib = s.availableIncomingBitrate;
    const climbing = aib !== undefined && this.#prevAib !== undefined && aib > this.#prevAib;
    this.#prevAib = aib;
    if (now < this.#settleUntil) return undefined;
    const o = this.options;
    const prevPeak = this.#peakFps.get(quality) ?? 0;
    // The peak decays slowly (1 % per interval) so one burst does not set the bar forever.
    this.#peakFps.set(quality, Math.max(prevPeak * 0.99, s.fps));
    const peak = prevPeak;

    const jb = s.jitterBufferMs ?? 0;
    this.#jb.push(jb);
    if (this.#jb.length > 4) this.#jb.shift();
    const growing = this.#jb.length === 4 && this.#jb.every((v, i, a) => i === 0 || v > a[i - 1]!) && jb > JB_GROWTH_FLOOR_MS;
    const fpsLow = peak >= MIN_PEAK_FPS && s.fps < peak * o.minFpsRatio;
    // A climbing estimate is catching up (after a switch to high or an opened link), not a shortage.
    const short = aib !== undefined && this.#highBitrate !== undefined && aib < this.#highBitrate && !climbing;
    const bad = s.lossRate > o.maxLossRate || s.freezes > 0 || fpsLow || jb > o.maxJitterBufferMs || growing || (quality === 'high' && short);
    const good = !bad && s.lossRate <= 0.01 && jb <= JB_GROWTH_FLOOR_MS && !(peak >= MIN_PEAK_FPS && s.fps < peak * 0.85);

    if (quality === 'high') {
      if (good) this.#highBitrate = this.#highBitrate === undefined ? s.bitrate : Math.round(this.#highBitrate * 0.8 + s.bitrate * 0.2);
      this.#badStreak = bad ? this.#badStreak + 1 : 0;
      if (this.#badStreak >= o.downAfter) {
        if (this.#upAt !== undefined && now - this.#upAt < o.probeWindowMs) {
          this.#upAfterMs = Math.min(o.maxUpAfterMs, this.#upAfterMs * 2);
        }
        this.#upAt = undefined;
        return 'low';
      }
      if (this.#upAt !== undefined && now - this.#upAt >= o.probeWindowMs) {
        this.#upAt = undefined;
        this.#upAfterMs = o.upAfterMs;
      }
      return undefined;
    }

    if (!good) {
      this.#goodSince = undefined;
      return undefined;
    }
    this.#goodSince ??= now - s.durationMs;
    const roomForHigh = aib === undefined || this.#highBitrate === undefined || aib >= this.#highBitrate * 1.2 || !canShowRoom(s.bitrate, this.#highBitrate * 1.2);
    if (now - this.#goodSince >= this.#upAfterMs && roomForHigh) {
      this.#upAt = now;
      return 'high';
    }
    return undefined;
  }
}

/**
 * The quality to start `auto` with, from the Network Information API where
 * the browser has it (Chromium; WICG netinfo): `low` with Save-Data or a
 * 2G/3G effective type (Chromium: RTT over 270 ms or downlink under 700 kbit/s),
 * otherwise `high`. `downlink` alone is not used: without measurements
 * Chromium reports a default of about 1.45 Mbit/s with random noise.
 */
export function initialAutoQuality(nav: { connection?: { saveData?: boolean; effectiveType?: string } } | undefined): Quality {
  const c = nav?.connection;
  if (!c) return 'high';
  if (c.saveData) return 'low';
  if (c.effectiveType && /(^|-)([23]g)$/.test(c.effectiveType)) return 'low';
  return 'high';
}
