/**
 * WebSocket keep-alive (RFC 6455 §5.5.2-3): every `intervalMs` each tracked
 * socket that answered the previous ping with a pong is pinged again; one
 * that did not is terminated (no close handshake: the peer is gone or
 * stalling). One timer serves every socket (the ws library's own pattern).
 * A dead peer is dropped within 2 x intervalMs.
 */
import type { WebSocket } from 'ws';

export class Heartbeat {
  readonly #alive = new Map<WebSocket, boolean>();
  readonly #timer: NodeJS.Timeout;

  /** @param intervalMs ping interval, ms */
  constructor(intervalMs: number) {
    this.#timer = setInterval(() => this.#tick(), intervalMs);
    this.#timer.unref();
  }

  /** Starts watching `ws` until it closes. */
  track(ws: WebSocket): void {
    this.#alive.set(ws, true);
    ws.on('pong', () => {
      if (this.#alive.has(ws)) this.#alive.set(ws, true);
    });
    ws.once('close', () => this.#alive.delete(ws));
  }

  #tick(): void {
    for (const [ws, alive] of this.#alive) {
      if (!alive) {
        this.#alive.delete(ws);
        ws.terminate();
        continue;
      }
      this.#alive.set(ws, false);
      try {
        ws.ping();
      } catch {
        // Socket not open any more; its 'close' untracks it.
      }
    }
  }

  /** Stops the timer. */
  close(): void {
    clearInterval(this.#timer);
    this.#alive.clear();
  }
}
