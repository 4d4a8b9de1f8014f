/**
 * Per-worker fan-out counts for /metrics, kept from mediasoup's observer
 * events (mediasoup docs, "Observer API": `worker.observer` newrouter,
 * `router.observer` newtransport, `transport.observer` newconsumer, and each
 * object's `observer` close), plus CPU from `worker.getResourceUsage()`
 * (getrusage(2): `ru_utime` / `ru_stime` in ms).
 *
 * Counting from events keeps a scrape O(workers), never O(consumers).
 */
import type { types } from 'mediasoup';
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
  readonly #counts = new Map<number, WorkerCounts>();

  /**
   * Attaches to every slot of `pool`. Call before viewers arrive: transports
   * and consumers created earlier are not counted (camera ingests are, by
   * design, not fan-out); the slot's own router is.
   */
  constructor(pool: WorkerPool) {
    this.#pool = pool;
    for (const slot of pool.slots) {
      const c: WorkerCounts = {
        index: slot.index,
        alive: !slot.worker.closed,
        routers: 0,
        webRtcTransports: 0,
        pipeTransports: 0,
        consumers: 0,
      };
      this.#counts.set(slot.index, c);
      slot.worker.observer.on('close', () => (c.alive = false));
      slot.worker.observer.on('newrouter', (router) => this.#router(c, router));
      this.#router(c, slot.router);
    }
  }

  #router(c: WorkerCounts, router: types.Router): void {
    if (router.closed) return;
    c.routers++;
    router.observer.once('close', () => c.routers--);
    router.observer.on('newtransport', (t) => this.#transport(c, t));
  }

  #transport(c: WorkerCounts, t: types.Transport): void {
    const key = t.type === 'webrtc' ? 'webRtcTransports' : t.type === 'pipe' ? 'pipeTransports' : undefined;
    if (key) {
      c[key]++;
      t.observer.once('close', () => c[key]--);
    }
    t.observer.on('newconsumer', (consumer) => {
      c.consumers++;
      consumer.observer.once('close', () => c.consumers--);
    });
  }

  /** Current counts, one per slot. */
  counts(): WorkerCounts[] {
    return [...this.#counts.values()];
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
