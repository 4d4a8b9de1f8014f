/**
 * Per-worker fan-out counts for /metrics, from the worker pool's own counters
 * (kept from mediasoup observer events, so a scrape is O(workers), never
 * O(consumers)), plus CPU from `worker.getResourceUsage()` (getrusage(2):
 * `ru_utime` / `ru_stime` in ms).
 */
import type { WorkerPool } from '@vigil/gateway';

/** Counts for one worker slot. */
export interface WorkerCounts {
  index: number;
  alive: boolean;
  routers: number;
  webRtcTransports: number;
  pipeTransports: number;
  consumers: number;
}

export class WorkerStats {
  readonly #pool: WorkerPool;

  /** Reads the pool's own per-slot counters (kept by the pool, replacement-aware). */
  constructor(pool: WorkerPool) {
    this.#pool = pool;
  }

  /** Current counts, one per slot (a replaced worker's slot reports its new worker). */
  counts(): WorkerCounts[] {
    return this.#pool.slots.map((slot) => ({
      index: slot.index,
      alive: !slot.worker.closed,
      routers: slot.router.closed ? 0 : 1,
      webRtcTransports: slot.webRtcTransports,
      pipeTransports: slot.pipeTransports,
      consumers: slot.consumers,
    }));
  }

  /**
   * CPU time of every live worker process, s (user and system), by slot index.
   * A worker that does not answer within `timeoutMs` is left out.
   */
  async cpu(timeoutMs: number): Promise<Map<number, { user: number; system: number }>> {
    const out = new Map<number, { user: number; system: number }>();
    await Promise.all(
      this.#pool.slots.map(async (slot) => {
        if (slot.worker.closed) return;
        let timer: NodeJS.Timeout | undefined;
        try {
          const ru = await Promise.race([
            slot.worker.getResourceUsage(),
            new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), timeoutMs))),
          ]);
          if (ru) out.set(slot.index, { user: ru.ru_utime / 1000, system: ru.ru_stime / 1000 });
        } catch {
          // worker closing; left out of this scrape
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return out;
  }
}
