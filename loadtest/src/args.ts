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

/**
 * One number option within [min, max].
 * @throws Error naming the option, the value and the range (not a number, or outside it)
 */
export function numberArg(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number in ${min}..${max}, got "${text}"`);
  return n;
}

/**
 * Runs a load-test CLI's argument parsing: a bad argument prints its message
 * (no stack trace) and exits with 2 before anything starts.
 */
export function cliArgs<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
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
  /** Where the viewers receive, one or more set-ups to compare (see FanoutOptions.viewers). */
  viewers: ('loopback' | 'veth')[];
  /** Whether the bots offer a browser's RTP header extensions (transport-wide-cc, abs-send-time, mid, ...) or none; one or more to compare. */
  headerExtensions: boolean[];
  /** mediasoup-worker builds to compare (`name=/path`; empty: the set-up's). */
  workers: { name: string; bin: string }[];
  /** Rounds over the set-ups (1..5; loadtest:media alternates them). */
  rounds: number;
  /** Sample the server with perf during the last step (see profile.ts). */
  profile: boolean;
}

/**
 * Parses `[--steps 25,50,100,200] [--window 10] [--mbps 1,3] [--rate 20]
 * [--viewers loopback,veth] [--header-extensions browser,none]` from process.argv
 * (the last two: one value, or a comma-separated list of set-ups to compare)
 * [--workers name=/path,...] [--rounds 1] [--profile].
 * @throws Error naming a bad list entry or option value, or steps that do not increase
 */
export function fanoutArgs(): FanoutArgs {
  const { values } = parseArgs({
    options: {
      steps: { type: 'string', default: '25,50,100,200' },
      window: { type: 'string', default: '10' },
      mbps: { type: 'string', default: '1,3' },
      rate: { type: 'string', default: '20' },
      viewers: { type: 'string', default: 'loopback' },
      'header-extensions': { type: 'string', default: 'browser' },
      rounds: { type: 'string', default: '1' },
      workers: { type: 'string', default: '' },
      profile: { type: 'boolean', default: false },
    },
  });
  const viewers = values.viewers.split(',').map((v) => {
    if (v !== 'loopback' && v !== 'veth') throw new Error(`--viewers: each must be loopback or veth, got "${v}"`);
    return v;
  });
  const headerExtensions = values['header-extensions'].split(',').map((v) => {
    if (v !== 'browser' && v !== 'none') throw new Error(`--header-extensions: each must be browser or none, got "${v}"`);
    return v === 'browser';
  });
  const steps = parseList(values.steps, 1, 2000);
  if (steps.some((n, i) => !Number.isInteger(n) || (i > 0 && n <= steps[i - 1]!))) throw new Error(`--steps must be increasing whole viewer counts, got "${values.steps}"`);
  return {
    steps,
    windowSec: numberArg('window', values.window, 2, 60),
    mbps: parseList(values.mbps, 0.1, 50),
    rate: numberArg('rate', values.rate, 0.1, 200),
    viewers,
    headerExtensions,
    workers: values.workers
      ? values.workers.split(',').map((w) => {
          const at = w.indexOf('=');
          if (at < 1 || at === w.length - 1) throw new Error(`--workers: expected name=/path/to/mediasoup-worker, got "${w}"`);
          return { name: w.slice(0, at), bin: w.slice(at + 1) };
        })
      : [],
    rounds: Math.trunc(numberArg('rounds', values.rounds, 1, 5)),
    profile: values.profile,
  };
}
