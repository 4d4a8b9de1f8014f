/**
 * Supervises one ingest relay process (ffmpeg) that sends RTP into a camera's
 * PlainTransport: restarts it with capped exponential backoff when it exits,
 * can be retargeted (new argv) and restarted on demand, stops it with SIGTERM
 * then SIGKILL. Emits `exit` with the tail of its stderr so the owner can
 * classify failures (e.g. RTSP 401).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

export interface RelayProcessOptions {
  /** Executable, e.g. `ffmpeg`. */
  command: string;
  /**
   * Arguments, built again for every (re)start (e.g. a clock offset); must not
   * contain secrets (they are visible in the process list).
   */
  args: () => string[];
  logger: Logger;
  /** First restart delay, ms (default 300). */
  minBackoffMs?: number;
  /** Restart delay cap, ms (default 1500: a returning camera is live again within ~2 s). */
  maxBackoffMs?: number;
  /**
   * Applied to stderr before it is logged, e.g. `(t) => scrubCredentials(t, source)`
   * for an RTSP relay (ffmpeg quotes the input URL, credentials included, in its errors).
   */
  redact?: (text: string) => string;
}

export interface RelayProcessEvents {
  /** A child started. */
  spawn: [pid: number | undefined];
  /** A child exited; `stderr` holds its last lines (never logged verbatim by this class). */
  exit: [info: { code: number | null; signal: NodeJS.Signals | null; stderr: string; ranMs: number }];
}

/**
 * Whether a relay's stderr says it could not bind its fixed local UDP ports
 * because another socket holds them (FFmpeg libavformat/udp.c logs
 * `bind failed: <strerror(EADDRINUSE)>`). udp-ports.ts releases a pair until
 * the relay binds it, so another socket (e.g. a later PlainTransport in
 * mediasoup's port range) can take it meanwhile; the same ports then fail on
 * every restart, and only a new pair helps.
 */
export function localPortsTaken(stderr: string): boolean {
  return /bind failed: Address already in use/.test(stderr);
}

/** Whether util-linux's setpriv (with --pdeathsig) is on PATH (Linux). */
const PDEATHSIG = process.platform === 'linux' && spawnSync('setpriv', ['--help'], { stdio: 'ignore' }).status === 0;

/** A supervised child process; `stop()` ends it for good. */
export class RelayProcess extends EventEmitter<RelayProcessEvents> {
  readonly #opts: Required<RelayProcessOptions>;
  #args: () => string[];
  #child: ChildProcess | undefined;
  #stopped = false;
  #restartTimer: NodeJS.Timeout | undefined;
  #failures = 0;

  /** Spawns the process on the next tick (so listeners can be attached first). */
  constructor(opts: RelayProcessOptions) {
    super();
    this.#opts = { minBackoffMs: 300, maxBackoffMs: 1500, ...opts, redact: opts.redact ?? ((t) => t) };
    this.#args = opts.args;
    this.#restartTimer = setTimeout(() => this.#spawn(), 0);
  }

  /** OS pid of the current child, if one is running. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Replaces the argv builder used from the next (re)start on. */
  setArgs(args: () => string[]): void {
    this.#args = args;
  }

  /** Kills the current child (if any) and starts a new one now, resetting the backoff. */
  restartNow(): void {
    if (this.#stopped) return;
    this.#failures = 0;
    clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL'); // its exit handler schedules the restart at the minimum delay
    } else {
      this.#spawn();
    }
  }

  #spawn(): void {
    if (this.#stopped) return;
    const { command, logger } = this.#opts;
    const startedAt = Date.now();
    // setpriv(1) (util-linux) sets PR_SET_PDEATHSIG, kept across exec: the relay
    // gets SIGKILL when this process dies, even by kill -9, so no orphan relay
    // keeps sending into ports a restarted gateway may hand to another camera.
    const child = PDEATHSIG
      ? spawn('setpriv', ['--pdeathsig', 'KILL', '--', command, ...this.#args()], { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn(command, this.#args(), { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    this.emit('spawn', child.pid);
    let tail = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      tail = (tail + chunk).slice(-4000);
    });
    child.on('error', (err) => logger.error({ err: err.message }, 'relay process failed to start'));
    child.on('close', (code, signal) => {
      if (this.#child === child) this.#child = undefined;
      const ranMs = Date.now() - startedAt;
      this.emit('exit', { code, signal, stderr: this.#opts.redact(tail), ranMs });
      if (this.#stopped) return;
      // A process that ran for a while resets the backoff.
      if (ranMs > 10_000) this.#failures = 0;
      const delayMs = Math.min(this.#opts.maxBackoffMs, this.#opts.minBackoffMs * 2 ** this.#failures);
      this.#failures++;
      logger.warn({ code, signal, ranMs, restartInMs: delayMs, stderr: this.#opts.redact(tail).trim().split('\n').slice(-3) }, 'relay process exited');
      clearTimeout(this.#restartTimer);
      this.#restartTimer = setTimeout(() => this.#spawn(), delayMs);
    });
  }

  /**
   * Stops the process and any pending restart. Resolves when it has exited
   * (SIGKILL after `graceMs`, default 2000 ms).
   */
  async stop(graceMs = 2000): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.once('close', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}
