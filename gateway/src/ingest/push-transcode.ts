/**
 * The transcode path for RTP-push cameras whose H.264 WebRTC receivers cannot
 * play as is (B-frames): the push gate forwards the camera's RTP to an ffmpeg
 * relay on this host, which decodes it and sends H.264 constrained baseline
 * without B-frames to the camera's PlainTransport, like an RTSP transcode.
 *
 *   camera ─▶ push gate ─▶ ffmpeg (sdp input on loopback: libx264) ─▶ PlainTransport
 *
 * ffmpeg reads RTP through an SDP session description (RFC 4566; H.264
 * payload format RFC 6184 §8.2.1) given as a `data:` URI, so no file is
 * written; it holds only loopback ports and the payload type.
 */
import type { Logger } from 'pino';
import type { CameraConfig, IngestConfig, RtpPushSource } from '../config/schema.ts';
import { TRANSCODE_PRESET } from './rtsp/relay-args.ts';
import { RelayDriver } from './source-driver.ts';
import { rtpOutputUrl, type RtpTarget } from './test-pattern.ts';

/** Keyframe interval of the transcoded stream, frames (1 s at 25 fps: push cameras do not say their rate). */
export const PUSH_TRANSCODE_GOP_FRAMES = 25;
/** Default transcode bitrate, bps (1080p-capable; set `transcodeBitrate` per camera). */
export const PUSH_TRANSCODE_DEFAULT_BITRATE = 3_000_000;

/**
 * The SDP ffmpeg receives the camera's RTP with (from the gate).
 * @param host loopback address ffmpeg listens on
 * @param port RTP port (RTCP = port + 1)
 * @param payloadType the camera's payload type
 */
export function pushTranscodeSdp(host: string, port: number, payloadType: number): string {
  const ipv = host.includes(':') ? 'IP6' : 'IP4';
  return [
    'v=0',
    `o=- 0 0 IN ${ipv} ${host}`,
    's=vigil push transcode',
    `c=IN ${ipv} ${host}`,
    't=0 0',
    `m=video ${port} RTP/AVP ${payloadType}`,
    `a=rtpmap:${payloadType} H264/90000`,
    `a=fmtp:${payloadType} packetization-mode=1`,
    '',
  ].join('\r\n');
}

/**
 * ffmpeg argv of a push transcode relay.
 * @param input where ffmpeg listens for the gate's RTP (loopback host, even port) and the camera's payload type
 * @param bitrate output bitrate, bps
 * @param target the PlainTransport, relay SSRC/payload type and fixed local ports
 */
export function pushTranscodeArgs(input: { host: string; port: number; payloadType: number }, bitrate: number, target: RtpTarget): string[] {
  const sdp = Buffer.from(pushTranscodeSdp(input.host, input.port, input.payloadType)).toString('base64');
  const gop = String(PUSH_TRANSCODE_GOP_FRAMES);
  return [
    '-hide_banner', '-nostats', '-loglevel', 'error',
    '-protocol_whitelist', 'data,udp,rtp', '-fflags', 'nobuffer', '-f', 'sdp', '-i', `data:application/sdp;base64,${sdp}`,
    '-map', '0:v:0', '-an',
    '-c:v', 'libx264', '-preset', TRANSCODE_PRESET, '-tune', 'zerolatency',
    '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-bf', '0',
    '-g', gop, '-keyint_min', gop, '-sc_threshold', '0',
    '-b:v', String(bitrate), '-maxrate', String(bitrate), '-bufsize', String(bitrate),
    '-fps_mode', 'passthrough',
    '-payload_type', String(target.payloadType), '-ssrc', String(target.ssrc),
    '-f', 'rtp', rtpOutputUrl(target),
  ];
}

/**
 * The relay of a push camera with `transcode: 'h264'` (restarted with backoff when it exits).
 * @param inputPort loopback port ffmpeg listens on (the gate forwards there)
 */
export function pushTranscodeDriver(
  camera: CameraConfig,
  source: RtpPushSource,
  inputHost: string,
  inputPort: number,
  target: RtpTarget,
  ingest: IngestConfig,
  logger: Logger,
): RelayDriver {
  const bitrate = source.transcodeBitrate ?? PUSH_TRANSCODE_DEFAULT_BITRATE;
  logger.info({ cameraId: camera.id, bitrate }, 'RTP push camera transcoded to H.264 constrained baseline (transcode: "h264")');
  return new RelayDriver((t) => pushTranscodeArgs({ host: inputHost, port: inputPort, payloadType: source.payloadType }, bitrate, t), target, ingest, logger);
}
