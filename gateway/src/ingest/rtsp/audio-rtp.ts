/**
 * mediasoup side of a relay's audio: router codecs and the audio producer's
 * RTP parameters for an {@link AudioPlan}.
 *
 * Sources: mediasoup supported RTP capabilities (PCMU/PCMA with static
 * payload types 0/8, RFC 3551 §6; Opus 48000/2, RFC 7587 §4.1).
 */
import type { types } from 'mediasoup';
import type { AudioPlan } from './decide.ts';

/** Audio codecs a router needs for relayed camera audio (add to the router's mediaCodecs). */
export const RELAY_AUDIO_ROUTER_CODECS: types.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'audio', mimeType: 'audio/PCMU', clockRate: 8000, channels: 1, preferredPayloadType: 0 },
  { kind: 'audio', mimeType: 'audio/PCMA', clockRate: 8000, channels: 1, preferredPayloadType: 8 },
];

/**
 * The payload type a relay should send audio with: 0 for PCMU, 8 for PCMA
 * (static, RFC 3551), `dynamic` (96-127) for Opus.
 */
export function relayAudioPayloadType(plan: AudioPlan, dynamic = 111): number {
  if (plan.mode === 'copy' && plan.codec === 'PCMU') return 0;
  if (plan.mode === 'copy' && plan.codec === 'PCMA') return 8;
  return dynamic;
}

/**
 * RTP parameters of the audio producer fed by a relay.
 *
 * @param plan a kept audio plan (mode 'copy' or 'opus')
 * @param ssrc the SSRC the relay's audio output sends with
 * @param payloadType the payload type it sends with (see relayAudioPayloadType)
 * @throws Error for `mode: 'off'`
 */
export function relayAudioRtpParameters(plan: AudioPlan, ssrc: number, payloadType: number): types.RtpParameters {
  if (plan.mode === 'off') throw new Error(`no audio to produce: ${plan.message}`);
  const codec: types.RtpCodecParameters =
    plan.mode === 'copy' && plan.codec !== 'opus'
      ? { mimeType: `audio/${plan.codec}`, payloadType, clockRate: 8000, channels: 1 }
      : { mimeType: 'audio/opus', payloadType, clockRate: 48000, channels: 2 };
  return { codecs: [codec], encodings: [{ ssrc }], rtcp: { reducedSize: true } };
}
