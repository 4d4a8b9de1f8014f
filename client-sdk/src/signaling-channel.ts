/**
 * Request/response over the signaling WebSocket (see @vigil/protocol): numbered
 * requests, one response each, server notifications passed to a callback.
 */
import {
  ErrorCode,
  ProtocolError,
  type Notification,
  type Request,
  type ResponseData,
  type ServerMessage,
} from '@vigil/protocol';

/** Default time a request may wait for its response, ms. */
const REQUEST_TIMEOUT_MS = 10_000;

type Pending = { resolve: (d: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> };

/** A request without its `id` (the channel numbers requests itself); distributes over the union. */
export type Outgoing = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;

export class SignalingChannel {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;

  private constructor(ws: WebSocket, onNotification: (n: Notification) => void, onClose: (code: number) => void) {
    this.#ws = ws;
    ws.onmessage = (ev: MessageEvent) => {
      let msg: ServerMessage;
      try {
        msg = JSON.parse(String(ev.data)) as ServerMessage;
      } catch {
        return;
      }
      if ('notification' in msg) return onNotification(msg);
      if (msg.id === null) return;
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.data);
      else p.reject(new ProtocolError(msg.error.code, msg.error.message));
    };
    ws.onclose = (ev: CloseEvent) => {
      this.#failAll(new Error('signaling connection closed'));
      if (!this.#closed) {
        this.#closed = true;
        onClose(ev.code);
      }
    };
  }

  /**
   * Opens the WebSocket.
   * @param url ws:// or wss:// URL of the signaling endpoint
   * @throws ProtocolError `origin_not_allowed` when the server refused this
   *   page's origin (see {@link originRefused}); Error when the connection
   *   cannot be opened otherwise (server down, network)
   */
  static open(url: string, onNotification: (n: Notification) => void, onClose: (code: number) => void): Promise<SignalingChannel> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.onopen = () => resolve(new SignalingChannel(ws, onNotification, onClose));
      ws.onerror = () => {
        originRefused(url).then(
          (refused) =>
            reject(
              refused
                ? new ProtocolError(ErrorCode.OriginNotAllowed, `the Vigil server does not accept pages from ${location.origin} (add it to http.allowedOrigins)`)
                : new Error(`cannot connect to ${url}`),
            ),
          () => reject(new Error(`cannot connect to ${url}`)),
        );
      };
    });
  }

  /**
   * Sends a request and waits for its response.
   * @throws ProtocolError when the server refuses (typed code), Error on timeout or disconnect
   */
  request<R extends Outgoing>(req: R, timeoutMs = REQUEST_TIMEOUT_MS): Promise<ResponseData[R['type']]> {
    if (this.#closed || this.#ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new Error('signaling connection closed'));
    }
    const id = this.#nextId++;
    return new Promise<ResponseData[R['type']]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new ProtocolError(ErrorCode.Internal, `${req.type} timed out`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (d: unknown) => void, reject, timer });
      this.#ws.send(JSON.stringify({ ...req, id }));
    });
  }

  /** Closes the socket without triggering the close callback. */
  close(): void {
    this.#closed = true;
    this.#failAll(new Error('signaling connection closed'));
    this.#ws.close(1000);
  }

  #failAll(err: Error): void {
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.#pending.clear();
  }
}

/**
 * Why did the upgrade fail? A browser does not say (a 403 and a dead server
 * both close with 1006, WHATWG WebSockets). Vigil answers a plain GET of the
 * signaling URL with `{ originAllowed }`, readable cross-origin (CORS).
 * Only that positive answer counts: a server that cannot be reached, or
 * anything in front of it that answers otherwise, is retried as before.
 * @param url the ws:// or wss:// signaling URL
 * @returns true when the server says it refuses this page's origin
 */
export async function originRefused(url: string): Promise<boolean> {
  try {
    const res = await fetch(url.replace(/^ws/, 'http'), { mode: 'cors', cache: 'no-store', credentials: 'omit' });
    const body = (await res.json()) as { originAllowed?: unknown };
    return res.status === 426 && body.originAllowed === false;
  } catch {
    return false;
  }
}
