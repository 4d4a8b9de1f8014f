/**
 * ffmpeg command line of an RTSP relay: pull the camera (RTSP over TCP or
 * UDP), copy or transcode its video as {@link decideRelay} said, and send it
 * as RTP (RFC 3550) to the camera's PlainTransport with a fixed SSRC and
 * payload type, from fixed local ports; audio, if any, goes out as a second
 * RTP session to its own PlainTransport.
 */
import { rtpOutputUrl, type RtpTarget } from '../test-pattern.ts';
import type { RtspInput } from './input.ts';
import type { RelayDecision } from './decide.ts';

/** Where the relay sends: video always, audio when the decision keeps audio. */
export interface RtspRelayTarget {
  video: RtpTarget;
  audio?: RtpTarget;
}

/**
 * libx264 preset for transcoding: `superfast` keeps the deblocking filter and
 * partitions that `ultrafast` drops, for about 1.1-1.3x its CPU (see the
 * README section "RTSP cameras" for measured numbers).
 */
export const TRANSCODE_PRESET = 'superfast';

/**
 * Builds the relay's argv for `ffmpeg`.
 *
 * Video copy: `-c:v copy`; for H.264 the `dump_extra` bitstream filter
 * repeats the SPS/PPS from the SDP (sprop-parameter-sets, RFC 6184 §8.1)
 * in-band before every keyframe, since browsers need them in-band and some
 * cameras send them only in the SDP.
 * Transcode: libx264 constrained baseline, `-tune zerolatency`, no B-frames,
 * GOP = `decision.gopFrames` (1 s), yuv420p, CBR-ish (`-maxrate` = `-b:v`,
 * 1 s buffer), frame timing passed through.
 * Audio: G.711 copied in 20 ms packets (pkt_size 172 = 12 + 160 bytes);
 * Opus copied, or AAC etc. transcoded with libopus (48 kHz, RFC 7587).
 *
 * @param input from prepareRtspInput (keeps credentials out of argv)
 * @param decision a copy or transcode decision from decideRelay
 * @param target RTP destinations, SSRCs, payload types and fixed local ports
 * @returns argv (no credentials: they are in `input`'s private file)
 * @throws Error for a refusal, or for audio without `target.audio`
 */
export function rtspRelayArgs(input: RtspInput, decision: RelayDecision, target: RtspRelayTarget): string[] {
  if (decision.mode === 'refuse') throw new Error(`refused camera has no relay: ${decision.message}`);
  const video =
    decision.mode === 'copy'
      ? ['-c:v', 'copy', ...(decision.codec === 'H264' ? ['-bsf:v', 'dump_extra=freq=keyframe'] : [])]
      : [
          '-c:v', 'libx264', '-preset', TRANSCODE_PRESET, '-tune', 'zerolatency',
          '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-bf', '0',
          '-g', String(decision.gopFrames), '-keyint_min', String(decision.gopFrames), '-sc_threshold', '0',
          '-b:v', String(decision.bitrate), '-maxrate', String(decision.bitrate), '-bufsize', String(decision.bitrate),
          '-fps_mode', 'passthrough',
        ];
  const args = [
    '-hide_banner', '-nostats', '-loglevel', 'error',
    ...input.args,
    '-map', '0:v:0', ...video, '-an',
    '-payload_type', String(target.video.payloadType), '-ssrc', String(target.video.ssrc),
    '-f', 'rtp', rtpOutputUrl(target.video),
  ];
  const audio = decision.audio;
  if (audio.mode === 'off') return args;
  if (!target.audio) throw new Error('the decision keeps audio but no audio RTP target was given');
  const g711 = audio.mode === 'copy' && (audio.codec === 'PCMU' || audio.codec === 'PCMA');
  const codec =
    audio.mode === 'copy'
      ? ['-c:a', 'copy']
      : ['-c:a', 'libopus', '-ar', '48000', '-ac', '2', '-b:a', '32000', '-application', 'lowdelay', '-frame_duration', '20'];
  return [
    ...args,
    '-map', '0:a:0', ...codec, '-vn',
    '-payload_type', String(target.audio.payloadType), '-ssrc', String(target.audio.ssrc),
    '-f', 'rtp', rtpOutputUrl(target.audio, g711 ? 172 : 1200),
  ];
}
