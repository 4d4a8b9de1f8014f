/**
 * One viewer's signaling session (one WebSocket connection): its grant, its
 * receive transports and consumers, as media API handles (@vigil/gateway).
 * Owns them: `close()` closes the transports, which closes their consumers
 * (the media API's ownership cascade).
 *
 * Scope is checked on every `consume` against the camera's current config,
 * not cached from `join`. `refresh` swaps in a fresh token of the same
 * subject (new scope, quota and expiry; consumers the new scope no longer
 * covers are closed); without one the session ends at `exp` + clock tolerance.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { CameraView, MediaApi, MediaJson, ViewerConsumer, ViewerTransport } from '@vigil/gateway';
import {
  ErrorCode,
  PROTOCOL_VERSION,
  ProtocolError,
  type Notification,
  type ConsumeData,
  type Quality,
  type RequestOf,
  type RequestType,
  type ResponseData,
} from '@vigil/protocol';
import type { ViewerGrant } from '../auth/tokens.ts';
import type { AccessControl } from '../auth/access-control.ts';
import { entryMatches, type DenyEntry } from '../auth/deny-list.ts';
import { VIEWING_COALESCE_MS, type ConsumerEndReason, type SessionEndReason, type SessionObserver } from './session-observer.ts';
import { CameraStateWatch, liveState, viewerDegradation } from './camera-state-watch.ts';

export interface SessionLimits {
  maxTransportsPerConnection: number;
  maxConsumersPerConnection: number;
}

export interface ViewerSessionOptions {
  /** The media API (cameras, viewer transports and consumers). */
  media: MediaApi;
  /** Token checks, deny list, rate limits, stream quota, TURN credentials. */
  access: AccessControl;
  limits: SessionLimits;
  logger: Logger;
  /** Where session facts are published (metrics, audit). */
  observer: SessionObserver;
  /**
   * Set when the client dictates payload types (a WHEP session: the RTP
   * capabilities of its SDP offer); transports are then created for them
   * (see MediaApi.createViewerTransport). Omitted for SDK clients.
   */
  clientRtpCapabilities?: MediaJson | undefined;
  /** Client address and User-Agent as seen at the WebSocket upgrade (or the WHEP request). */
  remoteAddress: string | undefined;
  userAgent: string | undefined;
  /** Sends a notification to the client. */
  notify: (n: Notification) => void;
  /** Ends the connection (called once, after `sessionClosed` was sent). */
  end: () => void;
}

/**
 * One camera watched by this session: its consumers (a quality switch briefly
 * holds two) count as one viewing, audited as one row, and a viewing that
 * ended less than VIEWING_COALESCE_MS ago is continued rather than started anew.
 */
interface Viewing {
  /** The id of its first consumer (the audit row's key). */
  id: string;
  open: number;
  /** When its last consumer closed, ms since epoch (undefined while open). */
  endedAt: number | undefined;
  /** Gives back its stream-quota slot (held while it is open). */
  release: (() => void) | undefined;
}

/** Token ids a session remembers for revocation (a long session refreshes many times). */
const MAX_TOKEN_IDS = 256;

type Handler<T extends RequestType> = (req: RequestOf<T>) => Promise<ResponseData[T]>;

export class ViewerSession {
  readonly id = randomUUID();
  readonly #o: ViewerSessionOptions;
  readonly #log: Logger;
  readonly #transports = new Map<string, ViewerTransport>();
  readonly #consumers = new Map<string, ViewerConsumer>();
  /** Why each consumer is being closed, recorded just before closing it. */
  readonly #closeReasons = new Map<string, ConsumerEndReason>();
  /** Viewings by camera id: open ones and those that ended within VIEWING_COALESCE_MS. */
  readonly #viewings = new Map<string, Viewing>();
  /** Consumers whose time to first frame was reported (one report each). */
  readonly #ttffReported = new Set<string>();
  #endReason: SessionEndReason | undefined;
  #grant: ViewerGrant | undefined;
  /** Every token id presented on this session (join and refreshes), for revocation. */
  readonly #tokenIds = new Set<string>();
  #expiryTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Sends `cameraState` and `cameraDegraded` for the cameras this session consumes. */
  readonly #cameraWatch: CameraStateWatch;

  constructor(opts: ViewerSessionOptions) {
    this.#o = opts;
    this.#log = opts.logger.child({ sessionId: this.id });
    this.#cameraWatch = new CameraStateWatch((cameraId, change) => {
      if (this.#closed) return;
      opts.notify(
        change.kind === 'state'
          ? { notification: 'cameraState', cameraId, state: change.state }
          : { notification: 'cameraDegraded', cameraId, degraded: change.degraded },
      );
    });
  }

  /** The verified grant, once joined. */
  get grant(): ViewerGrant | undefined {
    return this.#grant;
  }

  /** Token ids presented on this session (join and refreshes). */
  get tokenIds(): ReadonlySet<string> {
    return this.#tokenIds;
  }

  /** Open consumers (viewings) of this session. */
  get consumerCount(): number {
    return this.#consumers.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** True when the session's subject or one of its token ids is what `entry` revokes. */
  holdsDenied(entry: DenyEntry): boolean {
    return this.#grant !== undefined && entryMatches(entry, { subject: this.#grant.subject, tokenIds: this.#tokenIds });
  }

  /**
   * Handles one validated request.
   * @returns the response payload for its type
   * @throws ProtocolError with a typed code; any other error is a bug the caller reports as `internal`
   */
  async handle<T extends RequestType>(req: RequestOf<T>): Promise<ResponseData[T]> {
    if (this.#closed) throw new ProtocolError(ErrorCode.NotJoined, 'session is closed');
    if (req.type !== 'join' && !this.#grant) throw new ProtocolError(ErrorCode.NotJoined, 'send join first');
    const handler = this.#handlers[req.type] as unknown as Handler<T>;
    return handler(req);
  }

  readonly #handlers: { [T in RequestType]: Handler<T> } = {
    join: async (req) => {
      if (this.#grant) throw new ProtocolError(ErrorCode.AlreadyJoined, 'already joined');
      if (req.protocolVersion !== PROTOCOL_VERSION) {
        throw new ProtocolError(ErrorCode.UnsupportedVersion, `server speaks protocol version ${PROTOCOL_VERSION}`);
      }
      const grant = await this.#o.access.admitToken(req.token, this.#o.remoteAddress);
      if (this.#closed) throw new ProtocolError(ErrorCode.NotJoined, 'session is closed');
      if (this.#grant) throw new ProtocolError(ErrorCode.AlreadyJoined, 'already joined');
      if (this.#o.access.isDenied(grant.subject, [grant.tokenId])) throw new ProtocolError(ErrorCode.Unauthorized, 'token revoked');
      // Every check is done: from here on nothing throws, so a refused join leaves the session unjoined (all or nothing).
      this.#install(grant);
      this.#log.info({ subject: grant.subject, expiresAt: grant.expiresAt }, 'viewer joined');
      this.#o.observer.emit('join', {
        sessionId: this.id,
        subject: grant.subject,
        tokenId: grant.tokenId,
        remoteAddress: this.#o.remoteAddress,
        userAgent: this.#o.userAgent,
        at: Date.now(),
      });
      return { sessionId: this.id, protocolVersion: PROTOCOL_VERSION, expiresAt: grant.expiresAt };
    },

    getRouterRtpCapabilities: async () => ({
      rtpCapabilities: await this.#o.media.routerRtpCapabilities(),
    }),

    createRecvTransport: async (req) => {
      if (this.#transports.size >= this.#o.limits.maxTransportsPerConnection) {
        throw new ProtocolError(ErrorCode.LimitExceeded, 'too many transports on this connection');
      }
      // The hint only places the transport near a camera the viewer may see; it reveals nothing.
      const near = req.cameraId ? this.#visibleCamera(req.cameraId) : undefined;
      // A transport for client-dictated payload types is made for one camera: it must be visible.
      if (this.#o.clientRtpCapabilities && !near) throw new ProtocolError(ErrorCode.Forbidden, 'camera not available to this token');
      const clientRtpCapabilities = this.#o.clientRtpCapabilities;
      const transport = await this.#o.media.createViewerTransport({ owner: this.id, nearCameraId: near?.id, clientRtpCapabilities });
      if (this.#closed) {
        transport.close();
        throw new ProtocolError(ErrorCode.NotJoined, 'session is closed');
      }
      this.#transports.set(transport.id, transport);
      const iceServers = this.#o.access.iceServers(this.#grant!);
      transport.once('close', (reason) => {
        this.#transports.delete(transport.id);
        // Its worker died: the client must create a new transport and consume again.
        if (reason === 'worker_died' && !this.#closed) this.#o.notify({ notification: 'transportClosed', transportId: transport.id });
      });
      return { id: transport.id, ...transport.params, ...(iceServers ? { iceServers } : {}) };
    },

    connectTransport: async (req) => {
      await this.#transport(req.transportId).connect(req.dtlsParameters as MediaJson);
      return {};
    },

    consume: async (req) => {
      const transport = this.#transport(req.transportId);
      await this.#o.access.admitConsume(this.#o.remoteAddress, this.#grant!.subject);
      const camera = this.#visibleCamera(req.cameraId);
      if (!camera) {
        this.#log.info({ cameraId: req.cameraId }, 'consume refused: forbidden');
        throw new ProtocolError(ErrorCode.Forbidden, 'camera not available to this token');
      }
      // A new viewing (an audit row) costs the subject's viewing budget; continuing one does not.
      if (!this.#viewingOf(camera.id)) await this.#o.access.admitViewing(this.#grant!.subject);
      return this.#consume(transport, camera, req.quality ?? 'high', req.rtpCapabilities);
    },

    setQuality: async (req) => {
      const old = this.#consumer(req.consumerId);
      await this.#o.access.admitConsume(this.#o.remoteAddress, this.#grant!.subject);
      const transport = this.#transport(old.transportId);
      // Scope is checked again: the camera may have left the token's scope since.
      const camera = this.#visibleCamera(old.cameraId);
      if (!camera) throw new ProtocolError(ErrorCode.Forbidden, 'camera not available to this token');
      return this.#consume(transport, camera, req.quality, req.rtpCapabilities, true);
    },

    pauseConsumer: async (req) => {
      await this.#consumer(req.consumerId).pause();
      return {};
    },

    resumeConsumer: async (req) => {
      const consumer = this.#consumer(req.consumerId);
      await consumer.resume();
      // A new viewer needs a keyframe; mediasoup sends PLI/FIR upstream (RFC 4585, RFC 5104)
      // and the source answers if it honours them (otherwise the next GOP serves).
      await consumer.requestKeyFrame();
      return {};
    },

    restartIce: async (req) => {
      // New local ICE credentials; mediasoup keeps accepting the previous ones until the client uses the new.
      return { iceParameters: await this.#transport(req.transportId).restartIce() };
    },

    closeConsumer: async (req) => {
      const consumer = this.#consumer(req.consumerId);
      this.#closeReasons.set(consumer.id, 'left');
      consumer.close();
      return {};
    },

    reportTtff: async (req) => {
      const consumer = this.#consumer(req.consumerId);
      if (this.#ttffReported.has(consumer.id)) return {};
      this.#ttffReported.add(consumer.id);
      consumer.once('close', () => this.#ttffReported.delete(consumer.id));
      this.#o.observer.emit('ttff', { sessionId: this.id, consumerId: consumer.id, cameraId: consumer.cameraId, ttffMs: req.ttffMs, at: Date.now() });
      return {};
    },

    refresh: async (req) => {
      const grant = await this.#o.access.admitToken(req.token, this.#o.remoteAddress);
      if (this.#closed) throw new ProtocolError(ErrorCode.NotJoined, 'session is closed');
      if (grant.subject !== this.#grant!.subject) throw new ProtocolError(ErrorCode.Unauthorized, 'token is for another subject');
      if (this.#o.access.isDenied(grant.subject, [grant.tokenId, ...this.#tokenIds])) {
        throw new ProtocolError(ErrorCode.Unauthorized, 'token revoked');
      }
      // Checks done; installing the new grant cannot fail half-way.
      this.#install(grant);
      this.#closeOutOfScope();
      await this.#closeOverQuota();
      this.#log.info({ subject: grant.subject, expiresAt: grant.expiresAt }, 'token refreshed');
      // TURN credentials end with the token they were issued for: hand out ones that last as long as the new token.
      const iceServers = this.#transports.size > 0 ? this.#o.access.iceServers(grant) : undefined;
      return { expiresAt: grant.expiresAt, ...(iceServers ? { iceServers } : {}) };
    },

    leave: async () => {
      // Close once the answer is out: the signaling server sends it when this
      // promise settles, which is later than a queued microtask would run.
      setImmediate(() => this.close('left'));
      return {};
    },
  };

  /** The camera if it exists AND is in scope; undefined otherwise (the two are indistinguishable to callers). */
  #visibleCamera(cameraId: string): CameraView | undefined {
    const camera = this.#o.media.camera(cameraId);
    if (!camera || !this.#grant!.scope.allows({ id: camera.id, site: camera.config.site })) return undefined;
    return camera;
  }

  /**
   * Creates a paused consumer and wires its lifecycle to this session.
   * @param replacing true for a quality switch (the old consumer stays until the client closes it)
   */
  async #consume(
    transport: ViewerTransport,
    camera: CameraView,
    quality: Quality,
    rtpCapabilities: Record<string, unknown>,
    replacing = false,
  ): Promise<ConsumeData> {
    // A quality switch briefly holds two consumers; allow one over the cap for it.
    if (this.#consumers.size >= this.#o.limits.maxConsumersPerConnection + (replacing ? 1 : 0)) {
      throw new ProtocolError(ErrorCode.LimitExceeded, 'too many consumers on this connection');
    }
    // The subject's concurrent-stream quota (`maxStreams`) counts viewings (cameras watched), one slot
    // each however it is held: a first consume takes the slot, a quality switch or a re-subscribe of a
    // camera this session is watching shares it, and it is given back when the viewing's last consumer closes.
    const held = this.#viewingOf(camera.id);
    let release = held && held.open > 0 ? undefined : await this.#o.access.acquireStream(this.#grant!);
    let consumer: ViewerConsumer;
    try {
      consumer = await transport.consume({ cameraId: camera.id, quality, rtpCapabilities });
    } catch (err) {
      release?.();
      throw err;
    }
    if (this.#closed || consumer.closed) {
      release?.();
      consumer.close();
      if (this.#closed) throw new ProtocolError(ErrorCode.NotJoined, 'session is closed');
      throw new ProtocolError(ErrorCode.CameraOffline, 'camera stream is restarting');
    }
    this.#consumers.set(consumer.id, consumer);
    this.#cameraWatch.add(camera);
    const continuing = this.#viewingOf(camera.id);
    const viewing: Viewing = continuing ?? { id: consumer.id, open: 0, endedAt: undefined, release: undefined };
    viewing.open++;
    viewing.endedAt = undefined;
    // Two first consumes of one camera raced: the viewing keeps one slot.
    if (viewing.release && release) release();
    else if (release) viewing.release = release;
    release = undefined;
    this.#viewings.set(camera.id, viewing);
    consumer.once('close', (why) => {
      this.#consumers.delete(consumer.id);
      this.#cameraWatch.remove(camera);
      const at = Date.now();
      viewing.open--;
      if (viewing.open === 0) {
        viewing.endedAt = at;
        viewing.release?.();
        viewing.release = undefined;
      }
      let reason: ConsumerEndReason;
      if (why === 'camera_gone' || why === 'resubscribe') reason = why;
      else if (why === 'transport_closed' && !this.#closed) reason = 'resubscribe';
      else reason = this.#closeReasons.get(consumer.id) ?? this.#endReason ?? 'left';
      this.#closeReasons.delete(consumer.id);
      this.#o.observer.emit('consumerclose', {
        sessionId: this.id,
        consumerId: consumer.id,
        cameraId: camera.id,
        viewingId: viewing.id,
        viewingEnded: viewing.open === 0,
        reason,
        at,
      });
      // The camera went away or was re-ingested (restart, worker replaced, config
      // update), or the consumer's transport died with its worker: the client
      // re-creates what it needs and consumes again.
      if (why === 'camera_gone' || why === 'resubscribe') {
        this.#o.notify({ notification: 'consumerClosed', consumerId: consumer.id, reason: why });
      } else if (why === 'transport_closed' && !this.#closed) {
        this.#o.notify({ notification: 'consumerClosed', consumerId: consumer.id, reason: 'transport_closed' });
      }
    });
    this.#o.observer.emit('consume', {
      sessionId: this.id,
      subject: this.#grant!.subject,
      consumerId: consumer.id,
      cameraId: camera.id,
      viewingId: viewing.id,
      continued: continuing !== undefined,
      at: Date.now(),
    });
    this.#log.info({ cameraId: camera.id, consumerId: consumer.id, quality }, 'consumer created');
    return {
      consumerId: consumer.id,
      producerId: consumer.producerId,
      kind: consumer.kind,
      rtpParameters: consumer.rtpParameters,
      quality: consumer.quality,
      qualities: camera.qualities,
      ...camera.frameSize(consumer.quality),
      ...(consumer.audio ? { audio: { consumerId: consumer.audio.id, producerId: consumer.audio.producerId, rtpParameters: consumer.audio.rtpParameters } } : {}),
      ...(consumer.primer ? { primer: { consumerId: consumer.primer.id, producerId: consumer.primer.producerId, rtpParameters: consumer.primer.rtpParameters } } : {}),
      ...(liveState(camera.state) ? { cameraState: liveState(camera.state) } : {}),
      ...(camera.degraded ? { degraded: viewerDegradation(camera.degraded)! } : {}),
    };
  }

  /**
   * The camera's viewing in this session if it is open or ended less than
   * VIEWING_COALESCE_MS ago (a new consumer then continues it); forgets
   * viewings older than that.
   */
  #viewingOf(cameraId: string, now = Date.now()): Viewing | undefined {
    for (const [id, v] of this.#viewings) {
      if (v.endedAt !== undefined && now - v.endedAt >= VIEWING_COALESCE_MS) this.#viewings.delete(id);
    }
    return this.#viewings.get(cameraId);
  }

  #transport(id: string): ViewerTransport {
    const t = this.#transports.get(id);
    if (!t) throw new ProtocolError(ErrorCode.NotFound, 'no such transport in this session');
    return t;
  }

  #consumer(id: string): ViewerConsumer {
    const c = this.#consumers.get(id);
    if (!c) throw new ProtocolError(ErrorCode.NotFound, 'no such consumer in this session');
    return c;
  }

  /** Makes `grant` the session's (join, refresh): remembers its token id and arms its expiry. Never throws. */
  #install(grant: ViewerGrant): void {
    this.#grant = grant;
    this.#rememberTokenId(grant.tokenId);
    this.#armExpiry(grant.validUntil);
  }

  /** Keeps the most recent MAX_TOKEN_IDS token ids presented on this session. */
  #rememberTokenId(jti: string | undefined): void {
    if (jti === undefined) return;
    this.#tokenIds.delete(jti);
    this.#tokenIds.add(jti);
    if (this.#tokenIds.size > MAX_TOKEN_IDS) this.#tokenIds.delete(this.#tokenIds.values().next().value!);
  }

  /** Closes consumers of cameras the current grant no longer covers (after a refresh narrowed it). */
  #closeOutOfScope(): void {
    for (const consumer of [...this.#consumers.values()]) {
      const camera = this.#o.media.camera(consumer.cameraId);
      if (camera && this.#grant!.scope.allows({ id: camera.id, site: camera.config.site })) continue;
      this.#closeReasons.set(consumer.id, 'scope_changed');
      consumer.close();
      this.#o.notify({ notification: 'consumerClosed', consumerId: consumer.id, reason: 'scope_changed' });
    }
  }

  /**
   * After a refresh lowered `maxStreams`: closes this session's newest
   * viewings (all their consumers) until the subject is within the new limit
   * or this session holds none (`consumerClosed: scope_changed`).
   */
  async #closeOverQuota(): Promise<void> {
    const max = this.#grant!.maxStreams;
    if (max === undefined) return;
    const subject = this.#grant!.subject;
    const open = [...this.#viewings.entries()].filter(([, v]) => v.open > 0).reverse();
    for (const [cameraId] of open) {
      if ((await this.#o.access.streams.count(subject)) <= max) return;
      for (const consumer of [...this.#consumers.values()]) {
        if (consumer.cameraId !== cameraId) continue;
        this.#closeReasons.set(consumer.id, 'scope_changed');
        consumer.close();
        this.#o.notify({ notification: 'consumerClosed', consumerId: consumer.id, reason: 'scope_changed' });
      }
    }
  }

  #armExpiry(expiresAt: number): void {
    clearTimeout(this.#expiryTimer);
    // setTimeout's limit is 2^31-1 ms (~24.8 days); re-arm for longer lifetimes.
    const delay = Math.min(Math.max(0, expiresAt - Date.now()), 2 ** 31 - 1);
    this.#expiryTimer = setTimeout(() => {
      if (Date.now() >= expiresAt) this.close('token_expired');
      else this.#armExpiry(expiresAt);
    }, delay);
    this.#expiryTimer.unref();
  }

  /**
   * Ends the session: closes its transports (and so its consumers), tells the
   * client why (unless the socket is already gone) and ends the connection.
   */
  close(reason: SessionEndReason): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#endReason = reason;
    clearTimeout(this.#expiryTimer);
    this.#cameraWatch.close();
    for (const t of this.#transports.values()) t.close();
    this.#log.info({ reason, subject: this.#grant?.subject }, 'session closed');
    this.#o.observer.emit('sessionclose', { sessionId: this.id, subject: this.#grant?.subject, reason, at: Date.now() });
    if (reason !== 'disconnected') {
      this.#o.notify({ notification: 'sessionClosed', reason });
      this.#o.end();
    }
  }
}
