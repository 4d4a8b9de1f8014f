/**
 * VigilClient: one signaling connection and one WebRTC receive transport per
 * page, multiplexing any number of feeds (one consumer each).
 *
 * Recovers by itself:
 * - WebSocket drop: retries with capped exponential backoff (0.5 s doubling
 *   to 10 s), re-joins (asking the token callback again) and re-subscribes
 *   every feed that was not stopped (paused feeds stay paused); a re-join the
 *   server refuses for good (a revoked token: see {@link refusedForGood}) is
 *   not retried, its feeds show `forbidden`;
 * - ICE disconnected for 2 s or failed: ICE restart (`restartIce`), up to 3
 *   tries, then a fresh session (see ice-supervisor.ts);
 * - camera stalled/offline: feeds show it (`cameraState` notifications) and
 *   play again when the camera is live; a re-ingested stream is re-subscribed.
 * - token expiry: with a token callback, ahead of `expiresAt` (from the
 *   join/refresh answer) it asks the callback for a fresh token and sends
 *   `refresh`; feeds keep playing. TURN credentials end with the token: the
 *   refresh answer carries new ones, applied to the live transport (with an
 *   ICE restart when media flows through TURN or only relay is allowed).
 */
import { Device, type types } from 'mediasoup-client';
import { ErrorCode, PROTOCOL_VERSION, ProtocolError, SIGNALING_PATH, type ConsumeData, type Notification, type Quality } from '@vigil/protocol';
import { Emitter } from './emitter.ts';
import { Feed, type FeedHost, type PlayOptions } from './feed.ts';
import { SignalingChannel } from './signaling-channel.ts';
import { selectedPairIsRelayed, superviseIce } from './ice-supervisor.ts';

export type TokenSource = string | (() => string | Promise<string>);

export interface ConnectOptions {
  /** Vigil base URL (`https://vigil.example`), or the signaling URL itself (`wss://.../ws`). */
  url: string;
  /**
   * Viewer JWT, or a callback returning a fresh one (called on every (re)join
   * and ahead of each token's expiry, to refresh the live session).
   */
  token: TokenSource;
  /** Reconnect after a dropped connection (default true). */
  reconnect?: boolean;
  /**
   * `relay` sends all media through the TURN servers Vigil hands out (W3C
   * webrtc-pc RTCIceTransportPolicy), e.g. where direct UDP is not allowed. Default `all`.
   */
  iceTransportPolicy?: 'all' | 'relay';
}

export type ClientState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface ClientEvents extends Record<string, unknown[]> {
  state: [state: ClientState];
  /** A non-fatal error (e.g. a feed failed to re-subscribe). */
  error: [error: Error];
}

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10_000;
/** Refresh this long before expiry: a fifth of the remaining lifetime, clamped to [1 s, 30 s]. */
const REFRESH_LEAD_MIN_MS = 1000;
const REFRESH_LEAD_MAX_MS = 30_000;
/** Retry a failed refresh after this long (while the token is still valid), ms. */
const REFRESH_RETRY_MS = 2000;

/** Turns `http(s)://host` into `ws(s)://host/ws`; leaves ws(s) URLs alone. */
export function signalingUrl(url: string): string {
  const u = new URL(url, typeof location === 'undefined' ? undefined : location.href);
  if (u.protocol === 'http:' || u.protocol === 'https:') {
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.pathname = u.pathname.replace(/\/$/, '') + SIGNALING_PATH;
  }
  return u.toString();
}

export class VigilClient extends Emitter<ClientEvents> implements FeedHost {
  readonly #opts: ConnectOptions;
  #device = new Device();
  /** Router RTP capabilities the device was loaded with (JSON), to notice a different server after a reconnect. */
  #deviceCaps: string | undefined;
  readonly #feeds = new Set<Feed>();
  #channel: SignalingChannel | undefined;
  #transport: types.Transport | undefined;
  #transportPending: Promise<types.Transport> | undefined;
  /** Stops the ICE supervision of #transport. */
  #stopIce: (() => void) | undefined;
  #consumerFeeds = new Map<string, Feed>();
  #state: ClientState = 'connecting';
  #retry = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;

  /** @internal use {@link connect} */
  constructor(opts: ConnectOptions) {
    super();
    this.#opts = opts;
  }

  get state(): ClientState {
    return this.#state;
  }

  /** @internal opens the connection and joins. Throws ProtocolError on refusal. */
  async open(): Promise<void> {
    const channel = await SignalingChannel.open(
      signalingUrl(this.#opts.url),
      (n) => this.#onNotification(n),
      () => this.#onDisconnect(),
    );
    this.#channel = channel;
    try {
      const token = typeof this.#opts.token === 'function' ? await this.#opts.token() : this.#opts.token;
      const joined = await channel.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token });
      this.#scheduleRefresh(channel, joined.expiresAt);
      const { rtpCapabilities } = await channel.request({ type: 'getRouterRtpCapabilities' });
      const caps = JSON.stringify(rtpCapabilities);
      if (caps !== this.#deviceCaps) {
        // First join, or a server with another codec set: a device loads only once (mediasoup-client).
        if (this.#device.loaded) this.#device = new Device();
        await this.#device.load({ routerRtpCapabilities: rtpCapabilities as unknown as types.RtpCapabilities });
        this.#deviceCaps = caps;
      }
    } catch (err) {
      channel.close();
      this.#channel = undefined;
      throw err;
    }
    this.#retry = 0;
    this.#setState('connected');
  }

  /** Arms the token refresh for `channel` ahead of `expiresAt` (ms since epoch); only with a token callback. */
  #scheduleRefresh(channel: SignalingChannel, expiresAt: number): void {
    const remaining = expiresAt - Date.now();
    const lead = Math.min(REFRESH_LEAD_MAX_MS, Math.max(REFRESH_LEAD_MIN_MS, remaining / 5));
    this.#refreshAfter(channel, Math.max(0, remaining - lead), expiresAt);
  }

  #refreshAfter(channel: SignalingChannel, delayMs: number, expiresAt: number): void {
    clearTimeout(this.#refreshTimer);
    const source = this.#opts.token;
    if (typeof source !== 'function') return;
    this.#refreshTimer = setTimeout(() => {
      if (channel !== this.#channel) return;
      Promise.resolve()
        .then(() => source())
        .then((token) => channel.request({ type: 'refresh', token }))
        .then(
          ({ expiresAt: next, iceServers }) => {
            if (channel !== this.#channel) return;
            this.#scheduleRefresh(channel, next);
            if (iceServers) this.#renewIceServers(channel, iceServers).catch((err: unknown) => this.emit('error', err as Error));
          },
          (err: unknown) => {
            if (channel !== this.#channel) return;
            this.emit('error', err as Error);
            // Keep trying while the old token holds; past it the server ends the session and we reconnect.
            const left = expiresAt - Date.now();
            if (left > 0) this.#refreshAfter(channel, Math.min(REFRESH_RETRY_MS, left), expiresAt);
          },
        );
    }, delayMs);
  }

  /**
   * Applies TURN credentials from a refresh answer to the live receive
   * transport. `RTCPeerConnection.setConfiguration()` (mediasoup-client
   * `transport.updateIceServers`) only affects future candidate gathering
   * (W3C webrtc-pc §4.4.1.6), and a TURN server refuses to refresh an
   * allocation once its credentials have expired (RFC 8656 §7.3; coturn
   * checks the REST username's expiry): so when media flows through a relay,
   * or only relay is allowed, the transport restarts ICE, which allocates
   * with the new credentials while the old path keeps carrying media.
   */
  async #renewIceServers(channel: SignalingChannel, iceServers: RTCIceServer[]): Promise<void> {
    const transport = this.#transport;
    if (!transport || transport.closed) return;
    await transport.updateIceServers({ iceServers });
    if (this.#opts.iceTransportPolicy === 'relay' || (await selectedPairIsRelayed(transport))) {
      if (channel === this.#channel && transport === this.#transport) await this.#restartIce(channel, transport);
    }
  }

  /** ICE restart (RFC 8445 §9): new server ICE parameters (`restartIce`), applied with mediasoup-client `transport.restartIce`. */
  async #restartIce(channel: SignalingChannel, transport: types.Transport): Promise<void> {
    const { iceParameters } = await channel.request({ type: 'restartIce', transportId: transport.id });
    await transport.restartIce({ iceParameters: iceParameters as unknown as types.IceParameters });
  }

  /**
   * Plays a camera in a <video> element (muted, inline, autoplay), over this
   * client's one connection and one receive transport.
   * @param opts `quality`: `high` (default), `low` or `auto`; `paused`: subscribe
   *   without media (resume() later)
   * @returns the feed once its consumer is attached; its `state` becomes
   *   `playing` at the first decoded frame (`paused` when asked so)
   * @throws ProtocolError `forbidden` (camera unknown or outside the token's
   *   scope), `camera_offline` (stream being re-ingested right now),
   *   `unsupported_codec`, `limit_exceeded`
   */
  async play(cameraId: string, video: HTMLVideoElement, opts: PlayOptions = {}): Promise<Feed> {
    if (this.#state === 'closed') throw new Error('client is closed');
    const feed = new Feed(this, cameraId, video, opts);
    this.#feeds.add(feed);
    try {
      await feed.start();
    } catch (err) {
      this.#feeds.delete(feed);
      if (err instanceof ProtocolError && err.code === ErrorCode.Forbidden) feed.markForbidden();
      throw err;
    }
    return feed;
  }

  /** Feeds of this client that are not stopped. */
  get feeds(): ReadonlySet<Feed> {
    return this.#feeds;
  }

  /** @internal FeedHost: consume on the shared receive transport, then resume (unless the feed is paused). */
  async subscribe(feed: Feed): Promise<types.Consumer> {
    const channel = this.#requireChannel();
    const transport = await this.#recvTransport(channel, feed.cameraId);
    const res = await channel.request({
      type: 'consume',
      transportId: transport.id,
      cameraId: feed.cameraId,
      quality: feed.quality,
      rtpCapabilities: this.#device.recvRtpCapabilities as unknown as Record<string, unknown>,
    });
    // Now, before awaiting anything: a `cameraState` notification processed later is newer than this answer.
    if (res.cameraState) feed.setCameraState(res.cameraState);
    feed.setDegraded(res.degraded);
    const consumer = await this.#attach(channel, transport, feed, res, !feed.paused);
    feed.setQualities(res.qualities, res.quality);
    return consumer;
  }

  /** @internal FeedHost: a second consumer of the feed's camera at another quality. */
  async switchQuality(feed: Feed, quality: Quality): Promise<types.Consumer> {
    const channel = this.#requireChannel();
    const current = feed.consumer;
    if (!current || !this.#transport) throw new ProtocolError(ErrorCode.NotFound, 'feed is not playing');
    const res = await channel.request({
      type: 'setQuality',
      consumerId: current.id,
      quality,
      rtpCapabilities: this.#device.recvRtpCapabilities as unknown as Record<string, unknown>,
    });
    const consumer = await this.#attach(channel, this.#transport, feed, res, true);
    feed.setQualities(res.qualities);
    return consumer;
  }

  async #attach(channel: SignalingChannel, transport: types.Transport, feed: Feed, res: ConsumeData, resume: boolean): Promise<types.Consumer> {
    let consumer: types.Consumer;
    // The camera's audio (if any) arrives as a paired consumer the server
    // resumes, pauses and closes with the video one; its track joins the
    // video element's stream (muted until the page unmutes the element).
    let audio: types.Consumer | undefined;
    try {
      if (res.audio) {
        audio = await transport.consume({
          id: res.audio.consumerId,
          producerId: res.audio.producerId,
          kind: 'audio',
          rtpParameters: res.audio.rtpParameters as unknown as types.RtpParameters,
        });
      }
      consumer = await transport.consume({
        id: res.consumerId,
        producerId: res.producerId,
        kind: res.kind,
        rtpParameters: res.rtpParameters as unknown as types.RtpParameters,
        appData: { audio },
      });
    } catch (err) {
      audio?.close();
      channel.request({ type: 'closeConsumer', consumerId: res.consumerId }).catch(() => {});
      throw err;
    }
    if (audio) {
      const paired = audio;
      consumer.observer.on('close', () => paired.close());
    }
    if (res.primer) {
      // Instant start: the server replays the camera's picture since its last keyframe on this
      // consumer; the feed shows it until the live consumer decodes (feed.ts). The server closes
      // it, so a failure here just means waiting for the live keyframe.
      const primer = await transport
        .consume({
          id: res.primer.consumerId,
          producerId: res.primer.producerId,
          kind: 'video',
          rtpParameters: res.primer.rtpParameters as unknown as types.RtpParameters,
        })
        .catch(() => undefined);
      if (primer) {
        (consumer.appData as { primer?: types.Consumer }).primer = primer;
        consumer.observer.on('close', () => primer.close());
      }
    }
    this.#consumerFeeds.set(consumer.id, feed);
    consumer.observer.on('close', () => this.#consumerFeeds.delete(consumer.id));
    if (resume) await channel.request({ type: 'resumeConsumer', consumerId: consumer.id });
    return consumer;
  }

  /** @internal FeedHost: stop media of a consumer on the server (the browser keeps the last frame). */
  async pauseConsumer(consumer: types.Consumer): Promise<void> {
    await this.#requireChannel().request({ type: 'pauseConsumer', consumerId: consumer.id });
  }

  /** @internal FeedHost: restart media of a paused consumer (the server requests a keyframe). */
  async resumeConsumer(consumer: types.Consumer): Promise<void> {
    await this.#requireChannel().request({ type: 'resumeConsumer', consumerId: consumer.id });
  }

  /** @internal FeedHost: closes a consumer here and on the server. */
  closeConsumer(consumer: types.Consumer): void {
    consumer.close();
    this.#channel?.request({ type: 'closeConsumer', consumerId: consumer.id }).catch(() => {});
  }

  /** @internal FeedHost */
  unsubscribe(feed: Feed): void {
    this.#feeds.delete(feed);
    const consumerId = feed.consumer?.id;
    if (consumerId && this.#channel) this.#channel.request({ type: 'closeConsumer', consumerId }).catch(() => {});
  }

  /** @internal FeedHost: one `reportTtff` per consumer, for the server's TTFF histogram. */
  reportTtff(feed: Feed, ttffMs: number): void {
    const consumerId = feed.consumer?.id;
    if (consumerId && this.#channel) this.#channel.request({ type: 'reportTtff', consumerId, ttffMs }).catch(() => {});
  }

  #requireChannel(): SignalingChannel {
    if (!this.#channel) throw new ProtocolError(ErrorCode.NotJoined, 'not connected');
    return this.#channel;
  }

  #recvTransport(channel: SignalingChannel, cameraId: string): Promise<types.Transport> {
    if (this.#transport && !this.#transport.closed) return Promise.resolve(this.#transport);
    this.#transportPending ??= (async () => {
      const params = await channel.request({ type: 'createRecvTransport', cameraId });
      const transport = this.#device.createRecvTransport({
        id: params.id,
        iceParameters: params.iceParameters as unknown as types.IceParameters,
        iceCandidates: params.iceCandidates as unknown as types.IceCandidate[],
        dtlsParameters: params.dtlsParameters as unknown as types.DtlsParameters,
        // TURN with time-limited credentials, when the server hands them out.
        ...(params.iceServers ? { iceServers: params.iceServers } : {}),
        ...(this.#opts.iceTransportPolicy ? { iceTransportPolicy: this.#opts.iceTransportPolicy } : {}),
      });
      transport.on('connect', ({ dtlsParameters }, callback, errback) => {
        channel
          .request({ type: 'connectTransport', transportId: transport.id, dtlsParameters: dtlsParameters as never })
          .then(() => callback(), errback);
      });
      this.#stopIce?.();
      this.#stopIce = superviseIce(transport, {
        restart: () => this.#restartIce(this.#requireChannel(), transport),
        onTrouble: (trouble) => {
          if (this.#transport !== transport) return;
          for (const f of this.#feeds) f.iceTrouble(trouble);
        },
        giveUp: () => {
          // ICE restarts did not help: start over with a new session (the server drops the old one's transports).
          if (this.#transport !== transport || !this.#channel) return;
          this.#channel.close();
          this.#onDisconnect();
        },
      });
      this.#transport = transport;
      return transport;
    })().finally(() => {
      this.#transportPending = undefined;
    });
    return this.#transportPending;
  }

  #onNotification(n: Notification): void {
    if (n.notification === 'cameraState') {
      for (const f of this.#feeds) if (f.cameraId === n.cameraId) f.setCameraState(n.state);
    } else if (n.notification === 'cameraDegraded') {
      for (const f of this.#feeds) if (f.cameraId === n.cameraId) f.setDegraded(n.degraded);
    } else if (n.notification === 'consumerClosed') {
      const feed = this.#consumerFeeds.get(n.consumerId);
      // Only the consumer on screen matters; a quality switch's candidate times out by itself.
      if (!feed || feed.consumer?.id !== n.consumerId) return;
      feed.consumerClosed(n.consumerId, n.reason);
      // The camera's stream was re-ingested: consume it again (with backoff while it restarts).
      if (n.reason === 'resubscribe') this.#restart(feed, 0);
    } else if (n.notification === 'transportClosed') {
      if (this.#transport?.id === n.transportId) this.#resubscribeAll();
    }
    // sessionClosed (token_expired / server_shutdown): the socket closes next; reconnect handles it.
  }

  /** Re-subscribes one feed, retrying with backoff while the camera is restarting. */
  #restart(feed: Feed, attempt: number): void {
    if (this.#state === 'closed' || feed.state === 'stopped' || !this.#feeds.has(feed)) return;
    const delay = attempt === 0 ? 0 : Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (attempt - 1));
    setTimeout(() => {
      if (!this.#channel) return; // the reconnect path re-subscribes every feed
      feed.start().catch((err: unknown) => {
        if (err instanceof ProtocolError && err.code === ErrorCode.Forbidden) {
          feed.markForbidden();
          return;
        }
        this.emit('error', err as Error);
        this.#restart(feed, attempt + 1);
      });
    }, delay);
  }

  #onDisconnect(): void {
    this.#channel = undefined;
    clearTimeout(this.#refreshTimer);
    this.#closeTransport();
    if (this.#state === 'closed') return;
    if (this.#opts.reconnect === false) {
      this.close();
      return;
    }
    for (const f of this.#feeds) f.linkLost(true);
    this.#setState('reconnecting');
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.#retry++);
    this.#retryTimer = setTimeout(() => {
      this.open().then(
        () => this.#resubscribeAll(),
        (err: unknown) => {
          if (this.#state === 'closed') return;
          this.emit('error', err as Error);
          if (refusedForGood(err, typeof this.#opts.token === 'function')) return this.#refused();
          this.#scheduleReconnect();
        },
      );
    }, delay);
  }

  /**
   * The server refuses this viewer for good (a revoked or forged token, a
   * static token that expired, a refused origin): stop reconnecting; every
   * feed shows `forbidden` (the client ends `closed`). `connect()` again with
   * a valid token starts over.
   */
  #refused(): void {
    clearTimeout(this.#retryTimer);
    for (const f of this.#feeds) f.markForbidden();
    this.#setState('closed');
  }

  #resubscribeAll(): void {
    this.#closeTransport();
    for (const feed of this.#feeds) {
      feed.linkLost(false);
      this.#restart(feed, 0);
    }
  }

  #closeTransport(): void {
    this.#stopIce?.();
    this.#stopIce = undefined;
    this.#transport?.close();
    this.#transport = undefined;
  }

  #setState(state: ClientState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.emit('state', state);
  }

  /** Stops every feed and closes the connection. */
  close(): void {
    if (this.#state === 'closed') return;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#refreshTimer);
    for (const f of [...this.#feeds]) f.stop();
    this.#setState('closed');
    this.#channel?.request({ type: 'leave' }).catch(() => {});
    this.#channel?.close();
    this.#channel = undefined;
    this.#closeTransport();
  }
}

/**
 * Whether a failed re-join is final: `unauthorized` (revoked, forged, wrong
 * audience: the server's verdict on the token itself), `token_expired` when
 * the token is a fixed string (a callback may return a fresh one), and
 * `origin_not_allowed`. Anything else (network, server restarting, rate
 * limits) is retried with backoff.
 */
export function refusedForGood(err: unknown, tokenCallback: boolean): boolean {
  if (!(err instanceof ProtocolError)) return false;
  if (err.code === ErrorCode.Unauthorized || err.code === ErrorCode.OriginNotAllowed) return true;
  return err.code === ErrorCode.TokenExpired && !tokenCallback;
}

/**
 * Connects to Vigil and joins with the token.
 *
 * @example
 * const client = await connect({ url: 'https://vigil.example', token });
 * const feed = await client.play('cam-1', document.querySelector('video'));
 * feed.on('state', (s) => console.log(s));
 * @throws ProtocolError `unauthorized` / `token_expired` when the token is refused;
 *   Error when the server cannot be reached
 */
export async function connect(opts: ConnectOptions): Promise<VigilClient> {
  const client = new VigilClient(opts);
  await client.open();
  return client;
}
