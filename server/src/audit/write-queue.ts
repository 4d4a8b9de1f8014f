/**
 * An ordered, bounded queue of writes to a store that may be unreachable for
 * a while. Writes run one at a time in the order they were pushed. A write
 * that fails with an "unavailable" error stays at the head and is retried
 * every `retryMs` (the ones behind it wait, so order holds); one that fails
 * otherwise is reported and dropped. When `max` writes wait, a new one is
 * dropped and counted (memory stays bounded however long the outage).
 *
 *   push ──► [w1 w2 w3 …] ──► run w1 ─ ok ──────────► next
 *                              │ unavailable ─► keep, retry after retryMs
 *                              └ other error ─► onError, next
 */

export interface WriteQueueOptions {
  /** Writes that may wait at once; beyond this new writes are dropped. */
  max: number;
  /** Retry period of a head write that found the store unavailable, ms. */
  retryMs: number;
  /** True when the error means "try again later". */
  isUnavailable: (err: unknown) => boolean;
  /** A write failed for good (`op` names it) and was dropped. */
  onError: (op: string, err: unknown) => void;
  /** The store became unavailable (`true`) or took writes again (`false`). */
  onAvailability?: (unavailable: boolean, waiting: number) => void;
}

interface Write {
  op: string;
  run: () => Promise<unknown>;
}

export class WriteQueue {
  readonly #o: WriteQueueOptions;
  readonly #writes: Write[] = [];
  #running = false;
  #unavailable = false;
  #dropped = 0;
  #retry: NodeJS.Timeout | undefined;
  #idle: (() => void)[] = [];
  #stopped = false;

  constructor(o: WriteQueueOptions) {
    this.#o = o;
  }

  /** Writes waiting (the one in flight included). */
  get waiting(): number {
    return this.#writes.length;
  }

  /** Writes dropped because the queue was full, since start. */
  get dropped(): number {
    return this.#dropped;
  }

  /** True while the head write found the store unavailable and waits for a retry. */
  get unavailable(): boolean {
    return this.#unavailable;
  }

  /**
   * Queues a write (run after every write pushed before it).
   * @returns false when the queue was full and the write was dropped
   */
  push(op: string, run: () => Promise<unknown>): boolean {
    if (this.#stopped) return false;
    if (this.#writes.length >= this.#o.max) {
      this.#dropped++;
      return false;
    }
    this.#writes.push({ op, run });
    if (!this.#unavailable) void this.#drain();
    return true;
  }

  async #drain(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#writes.length > 0 && !this.#stopped) {
        const w = this.#writes[0]!;
        try {
          await w.run();
        } catch (err) {
          if (this.#o.isUnavailable(err)) {
            if (!this.#unavailable) {
              this.#unavailable = true;
              this.#o.onAvailability?.(true, this.#writes.length);
            }
            this.#scheduleRetry();
            return;
          }
          this.#o.onError(w.op, err);
        }
        this.#writes.shift();
        if (this.#unavailable) {
          this.#unavailable = false;
          this.#o.onAvailability?.(false, this.#writes.length);
        }
      }
      for (const resolve of this.#idle.splice(0)) resolve();
    } finally {
      this.#running = false;
    }
  }

  #scheduleRetry(): void {
    if (this.#retry || this.#stopped) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.#drain();
    }, this.#o.retryMs);
    this.#retry.unref();
  }

  /**
   * Resolves when every queued write is done, or after `timeoutMs`.
   * @returns writes still waiting (0: all written)
   */
  async flush(timeoutMs: number): Promise<number> {
    if (this.#writes.length === 0) return 0;
    if (this.#unavailable && !this.#running) void this.#drain();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.#writes.length;
  }

  /** Stops running writes (what waits is abandoned); idempotent. */
  stop(): void {
    this.#stopped = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = undefined;
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}
