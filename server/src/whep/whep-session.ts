/**
 * One WHEP playback session (draft-ietf-wish-whep; the WHIP session model of
 * RFC 9725 §4): a {@link ViewerSession} driven by HTTP instead of a
 * WebSocket. The offer's POST is the SDK's `join`, `createRecvTransport`,
 * `consume`, `connectTransport` and `resumeConsumer` in one go; so scope,
 * rate limits, the stream quota, expiry, revocation and the audit trail are
 * the WebSocket viewer's, through the same code. The session is in the
 * signaling server's registry (revocation and shutdown end it, the admin API
 * lists it).
 *
 * Lifecycle:
 *
 *   POST offer ──▶ open ──PATCH (trickle: 204; ICE restart: 200 + fragment)──▶ open
 *                   │
 *                   ├─ DELETE ───────────────────────────────────────▶ ended ('left')
 *                   ├─ token expiry, revocation, shutdown ───────────▶ ended (the ViewerSession's reason)
 *                   ├─ camera removed / re-ingested, scope narrowed ─▶ ended ('left'; the player POSTs again)
 *                   └─ DTLS closed or failed, worker died ───────────▶ ended ('disconnected')
 *
 * WHEP has no way to tell a player why it ended or to add a stream later; a
 * player notices the media stop (DTLS close alert or ICE failure) and starts
 * a new session, as the draft expects.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode, PROTOCOL_VERSION, ProtocolError, type Notification, type Quality } from '@vigil/protocol';
import type { SignalingServer } from '../signaling/signaling-server.ts';
import type { ViewerSession } from '../signaling/viewer-session.ts';
import { buildAnswer, parseOffer, parseTrickle, restartFragment, WhepError, type WhepOffer } from './whep-sdp.ts';

export interface WhepSessionOptions {
  signaling: SignalingServer;
  /** The viewer JWT from `Authorization: Bearer` (never logged). */
  token: string;
  cameraId: string;
  quality: Quality;
  /** The player's SDP offer. */
  offerSdp: string;
  remoteAddress: string | undefined;
  userAgent: string | undefined;
  /** Called once when the session ends, however it ends. */
  onEnd: (s: WhepSession) => void;
}

export class WhepSession {
  /** The resource id in the session URL: 128 random bits, the capability PATCH and DELETE need (RFC 9725 §4.2). */
  readonly id = randomBytes(16).toString('base64url');
  readonly #session: ViewerSession;
  readonly #offer: WhepOffer;
  readonly #onEnd: (s: WhepSession) => void;
  #transportId = '';
  #iceCandidates: Record<string, unknown>[] = [];
  #etag = newEtag();
  /** The player's current ICE credentials (a PATCH with others is an ICE restart). */
  #remoteIce: { ufrag: string; pwd: string };
  #ended = false;
  /** The SDP answer (201 body). */
  answer = '';

  private constructor(o: WhepSessionOptions, offer: WhepOffer) {
    this.#offer = offer;
    this.#remoteIce = offer.ice;
    this.#onEnd = o.onEnd;
    this.#session = o.signaling.openSession({
      remoteAddress: o.remoteAddress,
      userAgent: o.userAgent,
      clientRtpCapabilities: offer.rtpCapabilities,
      notify: (n) => this.#onNotification(n, o.signaling),
      end: () => this.#markEnded(),
    });
  }

  /**
   * Opens a session from a player's offer: admits the token, consumes the
   * camera on a transport for the offer's payload types, connects DTLS with the
   * offer's fingerprint and writes the answer.
   * @throws WhepError 400 for an offer Vigil cannot answer; ProtocolError from
   *   the viewer session (`unauthorized`, `token_expired`, `forbidden`,
   *   `rate_limited`, `limit_exceeded`, `camera_offline`, `unsupported_codec`),
   *   mapped to HTTP by the endpoint. Nothing stays open when it throws.
   */
  static async open(o: WhepSessionOptions): Promise<WhepSession> {
    const offer = parseOffer(o.offerSdp);
    const s = new WhepSession(o, offer);
    try {
      await s.#start(o);
      return s;
    } catch (err) {
      s.#session.close('left');
      throw err;
    }
  }

  async #start(o: WhepSessionOptions): Promise<void> {
    const session = this.#session;
    await session.handle({ id: 0, type: 'join', protocolVersion: PROTOCOL_VERSION, token: o.token });
    const transport = await session.handle({ id: 1, type: 'createRecvTransport', cameraId: o.cameraId });
    this.#transportId = transport.id;
    this.#iceCandidates = transport.iceCandidates;
    const consumed = await session.handle({
      id: 2,
      type: 'consume',
      transportId: transport.id,
      cameraId: o.cameraId,
      quality: o.quality,
      rtpCapabilities: this.#offer.rtpCapabilities,
    });
    await session.handle({ id: 3, type: 'connectTransport', transportId: transport.id, dtlsParameters: this.#offer.dtlsParameters });
    this.answer = buildAnswer({
      offer: this.#offer,
      transport: { iceParameters: transport.iceParameters, iceCandidates: transport.iceCandidates, dtlsParameters: transport.dtlsParameters },
      rtpParameters: consumed.rtpParameters,
      streamId: `vigil-${consumed.producerId}`,
      trackId: consumed.consumerId,
    });
    // Resumed once the answer is written: media flows as soon as DTLS is up, with a keyframe asked for.
    await session.handle({ id: 4, type: 'resumeConsumer', consumerId: consumed.consumerId });
  }

  /** The current entity tag (RFC 9110 §8.8.3), quoted; it changes on an ICE restart (RFC 9725 §4.3.2). */
  get etag(): string {
    return `"${this.#etag}"`;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** The viewer session's id (the admin API's and the audit trail's session id). */
  get sessionId(): string {
    return this.#session.id;
  }

  /**
   * Applies a PATCH (RFC 9725 §4.3): a fragment with the player's current ICE
   * credentials is trickled candidates (Vigil is ICE-lite and needs none:
   * accepted, nothing to answer); one with new credentials is an ICE restart.
   * @param ifMatch the If-Match header: `*` or this session's entity tag
   * @returns undefined for trickle (204), or the restart's answer fragment (200, new entity tag)
   * @throws WhepError 412 when If-Match names another entity tag, 400 for a bad fragment
   */
  async patch(fragmentText: string, ifMatch: string | undefined): Promise<string | undefined> {
    if (ifMatch !== undefined && ifMatch.trim() !== '*' && ifMatch.trim() !== this.etag) {
      throw new WhepError(412, 'precondition_failed', 'If-Match does not name this session (an ICE restart happened since?)');
    }
    const frag = parseTrickle(fragmentText);
    if (frag.ufrag === this.#remoteIce.ufrag && frag.pwd === this.#remoteIce.pwd) return undefined;
    // New player credentials: an ICE restart (RFC 8445 §9). mediasoup answers with new local ones.
    const res = await this.#session.handle({ id: 5, type: 'restartIce', transportId: this.#transportId });
    this.#remoteIce = { ufrag: frag.ufrag, pwd: frag.pwd };
    this.#etag = newEtag();
    // The candidates stay: they are the worker's WebRtcServer's.
    return restartFragment(this.#offer, res.iceParameters as Record<string, unknown>, this.#iceCandidates);
  }

  /** Ends the session (DELETE): closes its transport and consumer; the audit row ends `left`. */
  close(): void {
    this.#session.close('left');
  }

  #onNotification(n: Notification, signaling: SignalingServer): void {
    if (this.#ended) return;
    if (n.notification === 'consumerClosed' || n.notification === 'transportClosed') {
      // WHEP cannot add a stream to a session: the player starts a new one.
      const gone = n.notification === 'transportClosed' || n.reason === 'transport_closed';
      if (gone) {
        this.#session.close('disconnected');
        signaling.forget(this.#session);
        this.#markEnded();
      } else {
        // After the current notification is delivered (the session is mid-close bookkeeping).
        setImmediate(() => this.#session.close('left'));
      }
    }
  }

  #markEnded(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#onEnd(this);
  }
}

function newEtag(): string {
  return randomBytes(9).toString('base64url');
}

/**
 * The HTTP status for a refusal of the viewer session (RFC 9110 §15; the
 * WHIP/WHEP drafts' choices where they make one).
 */
export function httpStatusOf(code: ProtocolError['code']): { status: number; retryAfterSec?: number } {
  switch (code) {
    case ErrorCode.BadRequest:
      return { status: 400 };
    case ErrorCode.Unauthorized:
    case ErrorCode.TokenExpired:
      return { status: 401 };
    // Unknown camera and camera outside the token's scope are one answer, as on the WebSocket.
    case ErrorCode.Forbidden:
      return { status: 404 };
    case ErrorCode.UnsupportedCodec:
      return { status: 406 };
    case ErrorCode.RateLimited:
    case ErrorCode.LimitExceeded:
      return { status: 429, retryAfterSec: 1 };
    case ErrorCode.CameraOffline:
    // The session closed (shutdown) or its transport went (worker died) while it was being set up.
    case ErrorCode.NotJoined:
    case ErrorCode.NotFound:
      return { status: 503, retryAfterSec: 2 };
    default:
      return { status: 500 };
  }
}
