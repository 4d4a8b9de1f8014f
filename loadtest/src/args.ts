/** Command-line helpers of the load-test CLIs. */
import { parseArgs } from 'node:util';

/**
 * Parses a comma-separated list of numbers, each within [min, max].
 * @throws Error naming the bad entry
 */
export function parseList(text: string, min: number, max: number): number[] {
  return text.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`"${s}" must be a number in ${min}..${max}`);
    return n;
  });
}

/** The arguments every fan-out runner takes (loadtest:media, loadtest:janus-vs-vigil). */
export interface FanoutArgs {
  /** Viewer counts, each 1..2000. */
  steps: number[];
  /** Measuring window per step, s (2..60). */
  windowSec: number;
  /** Stream bitrates, Mbps (0.1..50). */
  mbps: number[];
  /** Bots started per second. */
  rate: number;
}

/**
 * Parses `[--steps 25,50,100,200] [--window 10] [--mbps 1,3] [--rate 20]` from process.argv.
 * @throws Error naming a bad list entry
 */
export function fanoutArgs(): FanoutArgs {
  const { values } = parseArgs({
    options: {
      steps: { type: 'string', default: '25,50,100,200' },
      window: { type: 'string', default: '10' },
      mbps: { type: 'string', default: '1,3' },
      rate: { type: 'string', default: '20' },
    },
  });
  return {
    steps: parseList(values.steps, 1, 2000),
    windowSec: Math.min(60, Math.max(2, Number(values.window))),
    mbps: parseList(values.mbps, 0.1, 50),
    rate: Number(values.rate),
  };
}
