/**
 * What the relay does with a probed RTSP camera: pass video through, transcode
 * it to H.264, or refuse the camera; and what happens to its audio.
 *
 * Facts this rests on:
 * - mediasoup forwards only codecs in the router's capabilities; Vigil's
 *   routers have VP8 and H.264 (packetization-mode 1; baseline 42e01f, main
 *   4d001f, high 64001f) (gateway/src/ingest/codecs.ts). mediasoup cannot
 *   forward H.265 to browsers.
 * - The relay depacketizes and ffmpeg's RTP muxer repacketizes H.264 in
 *   packetization-mode 1 (RFC 6184 §5.8, FU-A), so the camera's own
 *   packetization mode does not matter.
 * - WebRTC receivers assume no frame reordering; B-frames (decode order !=
 *   display order) are refused or transcoded away.
 * - Browsers decode G.711 PCMU/PCMA (RFC 3551) and Opus (RFC 7587) over
 *   WebRTC (RFC 7874 §3), not AAC.
 */
import type { CameraConfig } from '../../config/schema.ts';
import type { RtspAudioInfo, RtspProbe } from './probe.ts';
import type { RtspSourceInput } from './source.ts';

/** Why video cannot pass through as is. */
export type VideoIncompatibility = 'hevc' | 'b_frames' | 'profile' | 'codec';

export type H264Profile = CameraConfig['h264Profile'];

/** Audio the relay sends, or why none. */
export type AudioPlan =
  | { mode: 'off'; reason: 'disabled' | 'no_audio' | 'not_passable'; message: string }
  | { mode: 'copy'; codec: 'PCMU' | 'PCMA' | 'opus'; clockRate: number; channels: number }
  | { mode: 'opus'; from: string };

export type RelayDecision =
  | {
      mode: 'copy';
      /** Codec the producer declares. */
      codec: 'H264' | 'VP8';
      /** For H.264: the router profile the producer declares (profile-level-id in codecs.ts). */
      h264Profile: H264Profile;
      audio: AudioPlan;
    }
  | {
      mode: 'transcode';
      reason: VideoIncompatibility;
      /** Why, in words (for logs and the camera's state). */
      message: string;
      codec: 'H264';
      /** Output is constrained baseline. */
      h264Profile: 'baseline';
      /** Output frame rate (the source's, rounded, 1-60; 25 when unknown), frames/s. */
      fps: number;
      /** Keyframe interval = 1 s of frames. */
      gopFrames: number;
      /** Target bitrate, bps. */
      bitrate: number;
      audio: AudioPlan;
    }
  | { mode: 'refuse'; reason: VideoIncompatibility; message: string };

/** ffmpeg's H.264 profile names (libavcodec profiles.c) that map to a router profile. */
const H264_PASSABLE: Record<string, H264Profile> = {
  'Constrained Baseline': 'baseline',
  Baseline: 'baseline',
  Main: 'main',
  High: 'high',
};

/** 8-bit 4:2:0, what the passable profiles carry (yuvj420p: full-range JPEG-style, common on cameras). */
const PASSABLE_PIX_FMTS = new Set(['yuv420p', 'yuvj420p']);

/** Transcode bitrate when not configured: ~0.07 bit per pixel per frame, 300 kbps to 8 Mbps. */
export function defaultTranscodeBitrate(width: number, height: number, fps: number): number {
  return Math.min(8_000_000, Math.max(300_000, Math.round((width * height * fps * 0.07) / 1000) * 1000));
}

function videoIncompatibility(probe: RtspProbe): { reason: VideoIncompatibility; message: string } | undefined {
  const v = probe.video;
  if (v.codec === 'hevc') {
    return { reason: 'hevc', message: 'the camera sends H.265, which mediasoup cannot forward to browsers' };
  }
  if (v.codec === 'vp8') return undefined;
  if (v.codec !== 'h264') {
    return { reason: 'codec', message: `the camera sends ${v.codec}; only H.264 and VP8 pass through` };
  }
  if (!v.profile || !(v.profile in H264_PASSABLE)) {
    return {
      reason: 'profile',
      message: `the camera sends H.264 ${v.profile ?? '(unknown profile)'}; only baseline, main and high pass through`,
    };
  }
  if (v.pixFmt && !PASSABLE_PIX_FMTS.has(v.pixFmt)) {
    return { reason: 'profile', message: `the camera sends H.264 with pixel format ${v.pixFmt}; only 8-bit 4:2:0 passes through` };
  }
  if (v.hasBFrames) {
    return { reason: 'b_frames', message: 'the camera sends H.264 with B-frames, which WebRTC receivers do not expect' };
  }
  return undefined;
}

function audioPlan(audio: RtspAudioInfo | undefined, wanted: 'off' | 'passthrough' | 'opus'): AudioPlan {
  if (wanted === 'off') return { mode: 'off', reason: 'disabled', message: 'audio is off in the camera config' };
  if (!audio) return { mode: 'off', reason: 'no_audio', message: 'the camera sends no audio' };
  const g711 = audio.codec === 'pcm_mulaw' ? 'PCMU' : audio.codec === 'pcm_alaw' ? 'PCMA' : undefined;
  // RFC 3551 §4.5.14: PCMU/PCMA are 8000 Hz; browsers take them mono.
  if (g711 && audio.sampleRate === 8000 && audio.channels === 1) {
    return { mode: 'copy', codec: g711, clockRate: 8000, channels: 1 };
  }
  // RFC 7587 §4.1: Opus RTP always runs a 48 kHz clock.
  if (audio.codec === 'opus') return { mode: 'copy', codec: 'opus', clockRate: 48000, channels: 2 };
  if (wanted === 'opus') return { mode: 'opus', from: audio.codec };
  return {
    mode: 'off',
    reason: 'not_passable',
    message: `the camera sends ${audio.codec} audio (${audio.sampleRate} Hz, ${audio.channels} ch), which browsers do not take over WebRTC; set audio: "opus" to transcode it`,
  };
}

/**
 * Decides the relay for a probed camera (pure).
 *
 * - H.264 baseline/main/high, 8-bit 4:2:0, no B-frames, and VP8: copy (`-c:v copy`).
 * - H.265, H.264 with B-frames or another profile, other codecs: refused,
 *   or transcoded to H.264 constrained baseline when `source.transcode === 'h264'`.
 * - Audio (`source.audio`, default off): G.711 8 kHz mono and Opus are copied;
 *   other audio (AAC) becomes Opus only with `audio: 'opus'`, else it is
 *   dropped with the reason in `audio.message`.
 *
 * @param probe what {@link probeRtsp} found
 * @param source transcode, transcodeBitrate (bps), audio
 */
export function decideRelay(probe: RtspProbe, source: Pick<RtspSourceInput, 'transcode' | 'transcodeBitrate' | 'audio'>): RelayDecision {
  const audio = audioPlan(probe.audio, source.audio ?? 'off');
  const problem = videoIncompatibility(probe);
  if (!problem) {
    return probe.video.codec === 'vp8'
      ? { mode: 'copy', codec: 'VP8', h264Profile: 'baseline', audio }
      : { mode: 'copy', codec: 'H264', h264Profile: H264_PASSABLE[probe.video.profile!]!, audio };
  }
  if (source.transcode !== 'h264') {
    return { mode: 'refuse', reason: problem.reason, message: `${problem.message}; set transcode: "h264" to transcode it` };
  }
  const fps = Math.min(60, Math.max(1, Math.round(probe.video.fps ?? 25)));
  return {
    mode: 'transcode',
    reason: problem.reason,
    message: `${problem.message}; transcoding to H.264 constrained baseline`,
    codec: 'H264',
    h264Profile: 'baseline',
    fps,
    gopFrames: fps,
    bitrate: source.transcodeBitrate ?? defaultTranscodeBitrate(probe.video.width, probe.video.height, fps),
    audio,
  };
}
