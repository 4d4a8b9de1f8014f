/**
 * Outside watchers of viewer sessions (metrics, audit trail) subscribe here,
 * apart from the control flow (mediasoup's `observer` pattern). Events carry
 * ids and facts only: never tokens.
 */
import { EventEmitter } from 'node:events';

/** Why a session ended. */
export type SessionEndReason = 'left' | 'disconnected' | 'token_expired' | 'server_shutdown' | 'revoked' | 'kicked';

/**
 * Why a consumer (one viewing of one camera) ended. `resubscribe`: the
 * camera's stream was re-ingested and the client consumes it again (the
 * viewing goes on); `scope_changed`: a refreshed token no longer covers it.
 */
export type ConsumerEndReason = 'left' | 'camera_gone' | 'resubscribe' | 'scope_changed' | SessionEndReason;

export interface SessionObserverEvents {
  /** A viewer joined with a valid token. `at`: ms since epoch. */
  join: [e: { sessionId: string; subject: string; tokenId: string | undefined; remoteAddress: string | undefined; userAgent: string | undefined; at: number }];
  /** A request was refused with a typed code. */
  refused: [e: { sessionId: string; requestType: string; code: string; at: number }];
  /**
   * A consumer was created. `viewingId` names the viewing it belongs to (one
   * session watching one camera: the id of its first consumer); `continued`
   * is true when it joins a viewing that is open or ended less than
   * VIEWING_COALESCE_MS ago (quality switch, re-subscribe), false for a new viewing.
   */
  consume: [e: { sessionId: string; subject: string; consumerId: string; cameraId: string; viewingId: string; continued: boolean; at: number }];
  /** A consumer closed; `viewingEnded` when it was the viewing's last open consumer. */
  consumerclose: [
    e: { sessionId: string; consumerId: string; cameraId: string; viewingId: string; viewingEnded: boolean; reason: ConsumerEndReason; at: number },
  ];
  /** A request was answered (accepted or refused); `durationMs` from frame parsed to response sent. */
  request: [e: { sessionId: string; requestType: string; ok: boolean; durationMs: number; at: number }];
  /** The SDK reported a consumer's time to first decoded frame (once per consumer). */
  ttff: [e: { sessionId: string; consumerId: string; cameraId: string; ttffMs: number; at: number }];
  /** A session ended; `subject` is undefined if it never joined. */
  sessionclose: [e: { sessionId: string; subject: string | undefined; reason: SessionEndReason; at: number }];
}

/**
 * A new consumer of a camera whose viewing (same session) ended less than
 * this long ago continues that viewing (re-subscribe after a re-ingest,
 * a quick close and reopen), ms.
 */
export const VIEWING_COALESCE_MS = 10_000;

/** One per SignalingServer; `signaling.observer.on('consume', ...)`. */
export class SessionObserver extends EventEmitter<SessionObserverEvents> {}
