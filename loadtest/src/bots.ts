/**
 * Runs the Pion media bots (loadtest/bots, `$VIGIL_BOTS_BIN`) and reads their
 * JSON lines; samples a server process's CPU time at the exact start and end
 * of each measurement window the bots announce, so bots' delivery and the
 * server's CPU cover the same interval.
 */
import { createInterface } from 'node:readline';
import type { Netns } from './netns.ts';
import { cpuSeconds, type ProcessSet } from './processes.ts';

/** One step's counters as the bots print them (see loadtest/README.md). */
export interface BotStep {
  step: number;
  bots: number;
  connected: number;
  failed: number;
  botsWithFrames: number;
  windowMs: number;
  packets: number;
  bytes: number;
  frames: number;
  keyframes: number;
  expected: number;
  lost: number;
  lossPct: number;
  bitrateBps: number;
  fpsPerBot: number;
  freezes: number;
  freezeMs: number;
  frozenNow: number;
  ttffMs: { count: number; p50?: number; p95?: number; max?: number };
  errors?: Record<string, number>;
  /** Server CPU over the window, % of one core (when a server pid was given). */
  serverCpuPct?: number;
  /** The bots' own CPU over the window, % of one core (is the instrument saturated?). */
  botsCpuPct?: number;
}

export interface BotRun {
  /** Bot arguments (see loadtest/README.md), e.g. ['--mode', 'vigil', '--url', ...]. */
  args: string[];
  /** Extra environment (VIGIL_SECRET / VIGIL_TOKEN). */
  env?: Record<string, string>;
  /** The server process whose CPU is sampled per window (mediasoup worker, Janus). */
  serverPid?: number;
  core?: number;
  netns?: Netns;
  /** Called with each step as it completes. */
  onStep?: (s: BotStep) => void;
  /** Called when a step's measurement window starts, with that step's bot count. */
  onWindow?: (step: number) => void;
}

/** The bots binary set-up built (scripts/setup.sh exports VIGIL_BOTS_BIN). */
export function botsBin(): string {
  const bin = process.env['VIGIL_BOTS_BIN'];
  if (!bin) throw new Error('VIGIL_BOTS_BIN is not set: run through `sh scripts/run.sh` (or npm run)');
  return bin;
}

/**
 * Runs the bots to completion.
 * @returns every step, in order
 * @throws Error when the bots exit with an error (their stderr tail in the message)
 */
export async function runBots(procs: ProcessSet, run: BotRun): Promise<BotStep[]> {
  const child = procs.spawn(botsBin(), run.args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...run.env },
    ...(run.core === undefined ? {} : { core: run.core }),
    ...(run.netns ? { netns: run.netns } : {}),
  });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const steps: BotStep[] = [];
  let cpuAt: { cpu: number; bots: number; t: number } | undefined;
  const sample = (): { cpu: number; bots: number; t: number } => ({
    cpu: run.serverPid === undefined ? NaN : cpuSeconds(run.serverPid),
    bots: cpuSeconds(child.pid!),
    t: performance.now(),
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for await (const line of createInterface({ input: child.stdout! })) {
    if (!line.startsWith('{')) continue;
    const msg = JSON.parse(line) as { event: string } & BotStep;
    if (msg.event === 'window') {
      cpuAt = sample();
      run.onWindow?.(msg.step);
    }
    else if (msg.event === 'step') {
      const end = sample();
      if (cpuAt) {
        const secs = (end.t - cpuAt.t) / 1000;
        if (run.serverPid !== undefined) msg.serverCpuPct = (100 * (end.cpu - cpuAt.cpu)) / secs;
        msg.botsCpuPct = (100 * (end.bots - cpuAt.bots)) / secs;
      }
      steps.push(msg);
      run.onStep?.(msg);
    }
  }
  const code = await exited;
  if (code !== 0) throw new Error(`vigil-bots exited with ${code}:\n${stderr}`);
  return steps;
}
