/**
 * The process lifecycle: what the composition root started, closed as ONE
 * cascade in reverse order of start (the last thing started depends on the
 * earlier ones, so it closes first), whether the start failed half-way or the
 * process is shutting down. Each resource has one close path: its step here.
 *
 * Also the process's signals (it owns them; the mediasoup worker pool removes
 * the handlers mediasoup installs per worker, see gateway/src/workers):
 * SIGINT/SIGTERM run the graceful shutdown, bounded by a timeout; SIGHUP
 * reloads the camera set.
 */
import type { Logger } from 'pino';

interface Step {
  name: string;
  close: () => void | Promise<void>;
}

export class Lifecycle {
  readonly #steps: Step[] = [];
  readonly #log: Logger;
  #closing: Promise<void> | undefined;

  constructor(logger: Logger) {
    this.#log = logger.child({ component: 'lifecycle' });
  }

  /**
   * Registers a started resource's close step (run after every step registered later).
   * @returns `value`, so a start reads `const x = life.own('x', await X.start(), (x) => x.close())`
   */
  own<T>(name: string, value: T, close: (value: T) => void | Promise<void>): T {
    if (this.#closing) throw new Error(`cannot own ${name}: shutting down`);
    this.#steps.push({ name, close: () => close(value) });
    return value;
  }

  /** Whether close() has begun. */
  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Runs every close step, last registered first. A failing step is logged and
   * the cascade goes on (one bad part never leaves the others open).
   * Idempotent: later calls share the first one's promise.
   * @throws the first step's error, after every step ran
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      let first: unknown;
      for (const step of this.#steps.reverse()) {
        try {
          await step.close();
        } catch (err) {
          first ??= err;
          this.#log.error({ step: step.name, err: (err as Error).message }, 'close step failed');
        }
      }
      if (first !== undefined) throw first;
    })();
    return this.#closing;
  }
}

/**
 * Runs `start` with a fresh lifecycle; if it throws, what it had started is
 * closed (the same cascade as a shutdown) and the error is rethrown.
 */
export async function startOwned<T>(logger: Logger, start: (life: Lifecycle) => Promise<T>): Promise<T> {
  const life = new Lifecycle(logger);
  try {
    return await start(life);
  } catch (err) {
    await life.close().catch(() => {});
    throw err;
  }
}

export interface SignalOptions {
  logger: Logger;
  /** Graceful shutdown. */
  stop: () => Promise<void>;
  /** Past this the process exits with code 1, ms. */
  timeoutMs: number;
  /** SIGHUP: reload (e.g. the camera set); its result is logged. */
  reload?: (() => Promise<unknown>) | undefined;
}

/**
 * Installs the process's signal handlers: SIGINT/SIGTERM once run `stop`
 * (exit 0 when done, 1 when it fails or exceeds `timeoutMs`); SIGHUP runs `reload`.
 */
export function handleProcessSignals({ logger, stop, timeoutMs, reload }: SignalOptions): void {
  if (reload) {
    process.on('SIGHUP', () => {
      reload().then(
        (result) => logger.info({ result }, 'config reloaded'),
        (err: unknown) => logger.error({ err: (err as Error).message }, 'config reload failed'),
      );
    });
  }
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      const started = Date.now();
      logger.info({ signal, timeoutMs }, 'shutting down');
      const force = setTimeout(() => {
        logger.error({ timeoutMs }, 'shutdown timed out; exiting');
        process.exit(1);
      }, timeoutMs);
      force.unref();
      stop().then(
        () => {
          logger.info({ durationMs: Date.now() - started }, 'shutdown complete');
          process.exit(0);
        },
        (err: unknown) => {
          logger.error({ err: (err as Error).message }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}
