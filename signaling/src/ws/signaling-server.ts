/**
 * The signaling WebSocket endpoint (ws library, RFC 6455) on the fastify
 * HTTP server: origin check at upgrade, one {@link ViewerSession} per
 * connection, JSON text frames of at most MAX_MESSAGE_BYTES, every request
 * schema-validated, requests of one connection handled strictly in order.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import type { Logger } from 'pino';
import type { Gateway } from '@vigil/gateway';
import { ErrorCode, MAX_MESSAGE_BYTES, ProtocolError, SIGNALING_PATH, type ServerMessage } from '@vigil/protocol';
import type { TokenVerifier } from '../auth/tokens.ts';
import { ViewerSession, type SessionLimits } from '../session/viewer-session.ts';
import { isOriginAllowed } from './origin.ts';
import { parseRequest } from './parse-request.ts';
import { SessionObserver } from '../session/observer.ts';

export interface SignalingServerOptions {
  gateway: Gateway;
  verifier: TokenVerifier;
  limits: SessionLimits;
  /** Extra allowed origins beyond same-origin. */
  allowedOrigins: readonly string[];
  logger: Logger;
}

/** Close codes (RFC 6455 §7.4). */
const CLOSE_NORMAL = 1000;
const CLOSE_GOING_AWAY = 1001;

export class SignalingServer {
  readonly #o: SignalingServerOptions;
  readonly #wss: WebSocketServer;
  readonly #sessions = new Set<ViewerSession>();
  readonly #log: Logger;
  #accepting = true;
  /** Session facts for metrics and audit (join, consume, consumerclose, sessionclose, refused). */
  readonly observer = new SessionObserver();

  /** Open consumers per camera id (kept from observer events). */
  readonly #viewers = new Map<string, number>();

  constructor(opts: SignalingServerOptions) {
    this.#o = opts;
    this.observer.on('consume', ({ cameraId }) => this.#viewers.set(cameraId, (this.#viewers.get(cameraId) ?? 0) + 1));
    this.observer.on('consumerclose', ({ cameraId }) => {
      const n = (this.#viewers.get(cameraId) ?? 1) - 1;
      if (n > 0) this.#viewers.set(cameraId, n);
      else this.#viewers.delete(cameraId);
    });
    this.#log = opts.logger.child({ component: 'signaling' });
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false });
  }

  /** Open consumers (viewers) of a camera. */
  viewersOf(cameraId: string): number {
    return this.#viewers.get(cameraId) ?? 0;
  }

  /** Live sessions. */
  get sessions(): ReadonlySet<ViewerSession> {
    return this.#sessions;
  }

  /** Handles HTTP upgrades on `server` for SIGNALING_PATH; other paths get 404. */
  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head));
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    if (path !== SIGNALING_PATH) return reject(socket, 404, 'Not Found');
    if (!this.#accepting) return reject(socket, 503, 'Service Unavailable');
    if (!isOriginAllowed(req.headers.origin, req.headers.host, this.#o.allowedOrigins)) {
      this.#log.warn({ origin: req.headers.origin, remoteAddress: req.socket.remoteAddress }, 'websocket origin refused');
      return reject(socket, 403, 'Forbidden');
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#connection(ws, req));
  }

  #connection(ws: WebSocket, req: IncomingMessage): void {
    const send = (msg: ServerMessage): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
    };
    const session = new ViewerSession({
      gateway: this.#o.gateway,
      verifier: this.#o.verifier,
      limits: this.#o.limits,
      logger: this.#log.child({ remoteAddress: req.socket.remoteAddress }),
      observer: this.observer,
      remoteAddress: req.socket.remoteAddress,
      userAgent: req.headers['user-agent']?.slice(0, 256),
      notify: send,
      // 1001 "going away" once the server is shutting down (RFC 6455 §7.4.1).
      end: () => ws.close(this.#accepting ? CLOSE_NORMAL : CLOSE_GOING_AWAY),
    });
    this.#sessions.add(session);
    let queue: Promise<void> = Promise.resolve();
    ws.on('message', (data: RawData, isBinary: boolean) => {
      queue = queue.then(() => this.#message(session, data, isBinary, send));
    });
    ws.on('error', (err) => this.#log.debug({ sessionId: session.id, err: err.message }, 'websocket error'));
    ws.on('close', () => {
      this.#sessions.delete(session);
      session.close('disconnected');
    });
  }

  async #message(session: ViewerSession, data: RawData, isBinary: boolean, send: (m: ServerMessage) => void): Promise<void> {
    if (session.closed) return;
    const frame = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const parsed = parseRequest(frame, isBinary);
    if (!parsed.ok) {
      send({ id: parsed.id, ok: false, error: parsed.error });
      return;
    }
    const msg = parsed.request;
    const started = performance.now();
    const answered = (ok: boolean): void => {
      this.observer.emit('request', { sessionId: session.id, requestType: msg.type, ok, durationMs: performance.now() - started, at: Date.now() });
    };
    try {
      const data = await session.handle(msg);
      send({ id: msg.id, ok: true, data } as ServerMessage);
      answered(true);
    } catch (err) {
      answered(false);
      if (err instanceof ProtocolError) {
        this.observer.emit('refused', { sessionId: session.id, requestType: msg.type, code: err.code, at: Date.now() });
        send({ id: msg.id, ok: false, error: err.toBody() });
      } else {
        this.#log.error({ sessionId: session.id, type: msg.type, err: (err as Error)?.message }, 'request failed');
        send({ id: msg.id, ok: false, error: { code: ErrorCode.Internal, message: 'internal error' } });
      }
    }
  }

  /**
   * Stops taking viewers (first step of a graceful shutdown): new WebSocket
   * upgrades get HTTP 503 and connections that have not joined yet are ended
   * with `sessionClosed: server_shutdown`; joined sessions keep playing.
   */
  stopAccepting(): void {
    this.#accepting = false;
    for (const s of this.#sessions) if (!s.grant) s.close('server_shutdown');
  }

  /**
   * Ends every session (clients get `sessionClosed: server_shutdown`, then a
   * 1001 close) and stops accepting connections. Resolves once every socket
   * has closed, or after `graceMs` ms, when the remaining ones are terminated.
   */
  async close(graceMs = 2000): Promise<void> {
    this.stopAccepting();
    for (const s of this.#sessions) s.close('server_shutdown');
    const clients = [...this.#wss.clients];
    for (const ws of clients) ws.close(CLOSE_GOING_AWAY);
    this.#wss.close();
    const open = clients.filter((ws) => ws.readyState !== ws.CLOSED);
    if (open.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(open.map((ws) => new Promise<void>((resolve) => ws.once('close', () => resolve())))),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
    ]);
    clearTimeout(timer);
    for (const ws of open) if (ws.readyState !== ws.CLOSED) ws.terminate();
  }
}

function reject(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
