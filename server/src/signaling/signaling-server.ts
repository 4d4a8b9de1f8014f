/**
 * The signaling WebSocket endpoint (ws library, RFC 6455) on the fastify
 * HTTP server: origin check at upgrade, one {@link ViewerSession} per
 * connection, JSON text frames of at most MAX_MESSAGE_BYTES, every request
 * schema-validated, requests of one connection handled strictly in order.
 *
 * Connection hygiene: at most `maxConnectionsPerIp` sockets per client
 * address (HTTP 429 at upgrade), ping/pong keep-alive, a connection that has
 * not joined within `joinTimeoutMs` is closed, and one that queues more than
 * `maxPendingRequests` unanswered requests is closed (1008, RFC 6455 §7.4.1).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import type { Logger } from 'pino';
import type { MediaApi } from '@vigil/gateway';
import { ErrorCode, MAX_MESSAGE_BYTES, ProtocolError, SIGNALING_PATH, type ServerMessage } from '@vigil/protocol';
import type { AccessControl } from '../auth/access-control.ts';
import { addressKey } from '../auth/rate-limiter.ts';
import { Heartbeat } from './heartbeat.ts';
import type { DenyEntry } from '../auth/deny-list.ts';
import { ViewerSession, type SessionLimits } from './viewer-session.ts';
import { isOriginAllowed } from './origin.ts';
import { parseRequest } from './parse-request.ts';
import { SessionObserver, type SessionEndReason } from './session-observer.ts';
import type { ClientAddressResolver } from '../http/client-address.ts';

export interface SignalingServerOptions {
  /** The media API viewer sessions consume cameras through. */
  media: MediaApi;
  /** Token checks, deny list, rate limits, stream quota, TURN credentials. */
  access: AccessControl;
  limits: SignalingLimits;
  /** Extra allowed origins beyond same-origin. */
  allowedOrigins: readonly string[];
  logger: Logger;
  /** Where session facts go (default: a new one); the composition root shares one with audit, oversight and metrics. */
  observer?: SessionObserver | undefined;
  /** The client address of an upgrade request (behind trusted proxies: the one they pass); default: the socket's peer. */
  clientAddress?: ClientAddressResolver | undefined;
}

/** Per-connection limits (config `limits`). */
export interface SignalingLimits extends SessionLimits {
  maxConnectionsPerIp: number;
  maxPendingRequests: number;
  /** ms */
  pingIntervalMs: number;
  /** ms */
  joinTimeoutMs: number;
}

/** Close codes (RFC 6455 §7.4). */
const CLOSE_NORMAL = 1000;
const CLOSE_GOING_AWAY = 1001;
const CLOSE_POLICY_VIOLATION = 1008;

export class SignalingServer {
  readonly #o: SignalingServerOptions;
  readonly #wss: WebSocketServer;
  readonly #sessions = new Set<ViewerSession>();
  readonly #log: Logger;
  #accepting = true;
  readonly #heartbeat: Heartbeat;
  /** Open sockets per client address key (see addressKey). */
  readonly #perAddress = new Map<string, number>();
  /** Session facts for metrics, oversight and audit (join, consume, consumerclose, sessionclose, refused). */
  readonly observer: SessionObserver;

  constructor(opts: SignalingServerOptions) {
    this.#o = opts;
    this.observer = opts.observer ?? new SessionObserver();
    this.#log = opts.logger.child({ component: 'signaling' });
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false });
    this.#heartbeat = new Heartbeat(opts.limits.pingIntervalMs);
    // A revocation ends the live sessions it names at once.
    opts.access.denyList.on('added', this.#onRevoked);
  }

  readonly #onRevoked = (entry: DenyEntry): void => {
    const n = this.endSessions((s) => s.holdsDenied(entry), 'revoked');
    if (n > 0) this.#log.info({ kind: entry.kind, sessions: n }, 'sessions ended by revocation');
  };

  /**
   * Ends every session `predicate` selects, telling each client `reason`.
   * @returns how many sessions were ended
   */
  endSessions(predicate: (s: ViewerSession) => boolean, reason: Exclude<SessionEndReason, 'disconnected'>): number {
    let n = 0;
    for (const s of [...this.#sessions]) {
      if (s.closed || !predicate(s)) continue;
      s.close(reason);
      n++;
    }
    return n;
  }

  /** Live sessions. */
  get sessions(): ReadonlySet<ViewerSession> {
    return this.#sessions;
  }

  /** Handles HTTP upgrades on `server` for SIGNALING_PATH; other paths get 404. */
  attach(server: Pick<Server, 'on'>): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head));
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node hands an upgrading socket over without an 'error' listener (Node docs, http 'upgrade'
    // event): a peer resetting it while it is refused (a balancer does) would be an uncaught exception.
    socket.on('error', (err) => this.#log.debug({ err: err.message }, 'upgrade socket error'));
    const path = (req.url ?? '').split('?')[0];
    if (path !== SIGNALING_PATH) return reject(socket, 404, 'Not Found');
    if (!this.#accepting) return reject(socket, 503, 'Service Unavailable');
    const remoteAddress = this.#o.clientAddress ? this.#o.clientAddress(req) : req.socket.remoteAddress;
    if (!isOriginAllowed(req.headers.origin, req.headers.host, this.#o.allowedOrigins)) {
      this.#log.warn({ origin: req.headers.origin?.slice(0, 256), remoteAddress }, 'websocket origin refused');
      return reject(socket, 403, 'Forbidden');
    }
    const address = addressKey(remoteAddress);
    const open = this.#perAddress.get(address) ?? 0;
    if (open >= this.#o.limits.maxConnectionsPerIp) {
      this.#log.warn({ remoteAddress }, 'websocket refused: too many connections from this address');
      return reject(socket, 429, 'Too Many Requests');
    }
    this.#perAddress.set(address, open + 1);
    socket.once('close', () => {
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left <= 0) this.#perAddress.delete(address);
      else this.#perAddress.set(address, left);
    });
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#connection(ws, req, remoteAddress));
  }

  #connection(ws: WebSocket, req: IncomingMessage, remoteAddress: string | undefined): void {
    const send = (msg: ServerMessage): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
    };
    const session = new ViewerSession({
      media: this.#o.media,
      access: this.#o.access,
      limits: this.#o.limits,
      logger: this.#log.child({ remoteAddress }),
      observer: this.observer,
      remoteAddress,
      userAgent: req.headers['user-agent']?.slice(0, 256),
      notify: send,
      // 1001 "going away" once the server is shutting down (RFC 6455 §7.4.1).
      end: () => ws.close(this.#accepting ? CLOSE_NORMAL : CLOSE_GOING_AWAY),
    });
    this.#sessions.add(session);
    this.#heartbeat.track(ws);
    const joinTimer = setTimeout(() => {
      if (!session.grant && !session.closed) ws.close(CLOSE_POLICY_VIOLATION, 'join timeout');
    }, this.#o.limits.joinTimeoutMs);
    joinTimer.unref();
    let queue: Promise<void> = Promise.resolve();
    let pending = 0;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (pending >= this.#o.limits.maxPendingRequests) {
        if (ws.readyState === ws.OPEN) {
          this.#log.warn({ sessionId: session.id }, 'too many pending requests; closing');
          ws.close(CLOSE_POLICY_VIOLATION, 'too many pending requests');
        }
        return;
      }
      pending++;
      queue = queue
        .then(() => this.#message(session, data, isBinary, send))
        .catch((err: unknown) => this.#log.error({ sessionId: session.id, err: (err as Error)?.message }, 'message handling failed'))
        .finally(() => {
          pending--;
        });
    });
    ws.on('error', (err) => this.#log.debug({ sessionId: session.id, err: err.message }, 'websocket error'));
    ws.on('close', () => {
      clearTimeout(joinTimer);
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
    this.#heartbeat.close();
    this.#o.access.denyList.off('added', this.#onRevoked);
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
