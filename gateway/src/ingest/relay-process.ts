/**
 * Supervises one ingest relay process (ffmpeg) that sends RTP into a camera's
 * PlainTransport: restarts it with capped exponential backoff when it exits,
 * stops it with SIGTERM then SIGKILL. Its stderr is logged line by line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';

export interface RelayProcessOptions {
  /** Executable, e.g. `ffmpeg`. */
  command: string;
  /** Arguments; must not contain secrets (they are visible in the process list). */
  args: string[];
  logger: Logger;
  /** First restart delay, ms (default 500). */
  minBackoffMs?: number;
  /** Restart delay cap, ms (default 10_000). */
  maxBackoffMs?: number;
  /**
   * Applied to stderr before it is logged, e.g. `(t) => scrubCredentials(t, source)`
   * for an RTSP relay (ffmpeg quotes the input URL, credentials included, in its errors).
   */
  redact?: (text: string) => string;
}

/** A supervised child process; `stop()` ends it for good. */
export class RelayProcess {
  readonly #opts: Required<RelayProcessOptions>;
  #child: ChildProcess | undefined;
  #stopped = false;
  #restartTimer: NodeJS.Timeout | undefined;
  #failures = 0;

  /** Spawns the process immediately. */
  constructor(opts: RelayProcessOptions) {
    this.#opts = { minBackoffMs: 500, maxBackoffMs: 10_000, ...opts, redact: opts.redact ?? ((t) => t) };
    this.#spawn();
  }

  /** OS pid of the current child, if one is running. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  #spawn(): void {
    const { command, args, logger } = this.#opts;
    const startedAt = Date.now();
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    logger.debug({ pid: child.pid }, 'relay process started');
    let tail = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      tail = (tail + chunk).slice(-2000);
    });
    child.on('error', (err) => logger.error({ err: err.message }, 'relay process failed to start'));
    child.on('exit', (code, signal) => {
      if (this.#child === child) this.#child = undefined;
      if (this.#stopped) return;
      // A process that ran for a while resets the backoff.
      if (Date.now() - startedAt > 30_000) this.#failures = 0;
      const delayMs = Math.min(this.#opts.maxBackoffMs, this.#opts.minBackoffMs * 2 ** this.#failures);
      this.#failures++;
      logger.warn({ code, signal, restartInMs: delayMs, stderr: this.#opts.redact(tail).trim().split('\n').slice(-3) }, 'relay process exited');
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
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}
