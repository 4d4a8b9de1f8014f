/**
 * Keeps a receive transport's ICE alive (RFC 8445 §9, ICE restart).
 *
 * mediasoup-client reports the RTCPeerConnection's connectionState on the
 * transport ('connectionstatechange'). `disconnected` often heals by itself
 * (consent checks resume), so it gets `disconnectedGraceMs` first; `failed`
 * does not, so it restarts at once. A restart asks the server for new ICE
 * parameters and hands them to the browser; if the transport is not
 * `connected` within `checkTimeoutMs` it tries again, and after `maxRestarts`
 * tries it gives up (the caller then starts over with a new session).
 */
import type { types } from 'mediasoup-client';

export interface IceSupervisorOptions {
  /** Requests new server ICE parameters and applies them (`transport.restartIce`). */
  restart: () => Promise<void>;
  /** Restarts did not bring the transport back. */
  giveUp: () => void;
  /** The link is in trouble (true) or connected again (false). */
  onTrouble: (trouble: boolean) => void;
  /** How long `disconnected` may last before a restart, ms (default 2000). */
  disconnectedGraceMs?: number;
  /** How long a restart may take to reach `connected`, ms (default 8000). */
  checkTimeoutMs?: number;
  /** Restarts before giving up (default 3). */
  maxRestarts?: number;
}

/**
 * Starts supervising `transport`.
 * @returns a function that stops supervising (idempotent)
 */
export function superviseIce(transport: types.Transport, o: IceSupervisorOptions): () => void {
  const grace = o.disconnectedGraceMs ?? 2000;
  const checkTimeout = o.checkTimeoutMs ?? 8000;
  const maxRestarts = o.maxRestarts ?? 3;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let attempts = 0;
  let restarting = false;
  let trouble = false;
  let stopped = false;

  const setTrouble = (t: boolean): void => {
    if (t === trouble) return;
    trouble = t;
    o.onTrouble(t);
  };

  const attempt = async (): Promise<void> => {
    clearTimeout(timer);
    if (stopped || restarting) return;
    if (attempts >= maxRestarts) {
      stop();
      o.giveUp();
      return;
    }
    attempts++;
    restarting = true;
    try {
      await o.restart();
    } catch {
      // Signaling down or the transport is gone: the check below tries again or gives up.
    } finally {
      restarting = false;
    }
    if (stopped) return;
    timer = setTimeout(() => {
      if (transport.connectionState !== 'connected') void attempt();
    }, checkTimeout);
  };

  const onState = (state: types.ConnectionState): void => {
    if (stopped) return;
    if (state === 'connected') {
      clearTimeout(timer);
      attempts = 0;
      setTrouble(false);
    } else if (state === 'disconnected') {
      setTrouble(true);
      if (!restarting) {
        clearTimeout(timer);
        timer = setTimeout(() => void attempt(), grace);
      }
    } else if (state === 'failed') {
      setTrouble(true);
      void attempt();
    } else if (state === 'closed') {
      stop();
    }
  };

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    transport.off('connectionstatechange', onState);
  };

  transport.on('connectionstatechange', onState);
  return stop;
}

/**
 * True when the transport's selected ICE candidate pair runs through a TURN
 * relay (its local candidate's `candidateType` is `relay`), from the
 * RTCPeerConnection's stats (W3C webrtc-stats: `transport.selectedCandidatePairId`,
 * `candidate-pair`, `local-candidate`). False when nothing is selected yet.
 */
export async function selectedPairIsRelayed(transport: types.Transport): Promise<boolean> {
  const stats = await transport.getStats();
  let pairId: string | undefined;
  stats.forEach((s: { type: string; selectedCandidatePairId?: string }) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
  });
  if (!pairId) {
    // Browsers without transport stats: the nominated, succeeded pair.
    stats.forEach((s: { type: string; id: string; nominated?: boolean; state?: string }) => {
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pairId ??= s.id;
    });
  }
  if (!pairId) return false;
  const pair = stats.get(pairId) as { localCandidateId?: string } | undefined;
  const local = pair?.localCandidateId ? (stats.get(pair.localCandidateId) as { candidateType?: string } | undefined) : undefined;
  return local?.candidateType === 'relay';
}
