/** A bare protocol client over `ws` for signaling tests (no WebRTC). */
import WebSocket from 'ws';
import type { Notification, Response } from '@vigil/protocol';

export class WsClient {
  readonly ws: WebSocket;
  readonly notifications: Notification[] = [];
  readonly #waiting = new Map<number, (r: Response) => void>();
  #nextId = 1;
  /** The close code, once closed. */
  #closeCode: number | undefined;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.once('close', (code) => {
      this.#closeCode = code;
    });
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as Response | Notification;
      if ('notification' in msg) this.notifications.push(msg);
      else if (msg.id !== null) this.#waiting.get(msg.id)?.(msg);
      else this.#waiting.get(-1)?.(msg);
    });
  }

  /**
   * Opens `${baseUrl}/ws` (http -> ws), optionally with an Origin header and
   * other ws client options (e.g. `localAddress: '127.0.0.2'` to connect from
   * another loopback address, `ca` for wss, `autoPong: false`).
   */
  static open(baseUrl: string, origin?: string, options: WebSocket.ClientOptions = {}): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/ws`, { ...(origin ? { origin } : {}), ...options });
      ws.once('open', () => resolve(new WsClient(ws)));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }

  /** Sends a request (id added) and resolves with its response. */
  request(msg: Record<string, unknown>, timeoutMs = 5000): Promise<Response> {
    const id = this.#nextId++;
    return this.raw(JSON.stringify({ ...msg, id }), id, timeoutMs);
  }

  /** Sends a raw frame; resolves with the response carrying `expectId` (-1: id null). */
  raw(frame: string | Buffer, expectId: number, timeoutMs = 5000): Promise<Response> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no response to ${expectId}`)), timeoutMs);
      this.#waiting.set(expectId, (r) => {
        clearTimeout(timer);
        this.#waiting.delete(expectId);
        resolve(r);
      });
      this.ws.send(frame);
    });
  }

  /** Resolves with the close code. */
  closed(): Promise<number> {
    if (this.#closeCode !== undefined) return Promise.resolve(this.#closeCode);
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve(1006);
    return new Promise((resolve) => this.ws.once('close', (code) => resolve(code)));
  }

  close(): void {
    this.ws.close();
  }
}

/** The error code of a refused response (throws if it was accepted). */
export function errorCode(r: Response): string {
  if (r.ok) throw new Error(`expected a refusal, got ${JSON.stringify(r.data)}`);
  return r.error.code;
}
