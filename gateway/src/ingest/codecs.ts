/**
 * Codec tables for ingest: what routers accept and what a camera's producer declares.
 *
 * Sources: mediasoup RTP parameters and capabilities
 * (https://mediasoup.org/documentation/v3/mediasoup/rtp-parameters-and-capabilities/),
 * H.264 RTP payload format RFC 6184 (packetization-mode, profile-level-id §8.1),
 * VP8 RTP payload format RFC 7741.
 */
import type { types } from 'mediasoup';
import type { CameraConfig } from '../config/schema.ts';
import { RELAY_AUDIO_ROUTER_CODECS } from './rtsp/audio-rtp.ts';

/**
 * H.264 profile-level-id per profile (RFC 6184 §8.1; level 3.1 = 0x1f as a
 * nominal value: mediasoup and browsers negotiate with level-asymmetry-allowed).
 * baseline is announced as Constrained Baseline (42e0), the profile browsers decode.
 */
export const H264_PROFILE_LEVEL_IDS = {
  baseline: '42e01f',
  main: '4d001f',
  high: '64001f',
} as const satisfies Record<CameraConfig['h264Profile'], string>;

/**
 * Media codecs every router is created with: VP8 and H.264 (pm=1)
 * baseline/main/high, plus relayed camera audio (Opus, PCMU, PCMA).
 */
export const ROUTER_MEDIA_CODECS: types.RouterRtpCodecCapability[] = [
  ...RELAY_AUDIO_ROUTER_CODECS,
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
  ...Object.values(H264_PROFILE_LEVEL_IDS).map(
    (profileLevelId): types.RouterRtpCodecCapability => ({
      kind: 'video',
      mimeType: 'video/H264',
      clockRate: 90000,
      parameters: { 'packetization-mode': 1, 'profile-level-id': profileLevelId, 'level-asymmetry-allowed': 1 },
    }),
  ),
];

/**
 * RTP parameters a camera's producer declares for its single video stream.
 * RTCP feedback: nack (RFC 4585), nack pli and ccm fir (RFC 5104) so mediasoup
 * can forward viewers' keyframe requests upstream when the source honours them.
 *
 * @param camera camera config (codec, h264Profile)
 * @param ssrc the SSRC the source sends with
 * @param payloadType the RTP payload type the source sends with (96-127)
 */
export function producerRtpParameters(
  camera: Pick<CameraConfig, 'codec' | 'h264Profile'>,
  ssrc: number,
  payloadType: number,
): types.RtpParameters {
  const rtcpFeedback: types.RtcpFeedback[] = [
    { type: 'nack' },
    { type: 'nack', parameter: 'pli' },
    { type: 'ccm', parameter: 'fir' },
  ];
  const codec: types.RtpCodecParameters =
    camera.codec === 'VP8'
      ? { mimeType: 'video/VP8', payloadType, clockRate: 90000, rtcpFeedback }
      : {
          mimeType: 'video/H264',
          payloadType,
          clockRate: 90000,
          rtcpFeedback,
          parameters: {
            'packetization-mode': 1,
            'profile-level-id': H264_PROFILE_LEVEL_IDS[camera.h264Profile],
            'level-asymmetry-allowed': 1,
          },
        };
  return { codecs: [codec], encodings: [{ ssrc }], rtcp: { reducedSize: true } };
}
