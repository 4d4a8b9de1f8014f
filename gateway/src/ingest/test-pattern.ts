/**
 * ffmpeg arguments for the built-in test-pattern source: lavfi `testsrc2` with
 * a burnt-in wall clock (UTC, ms) and the camera id, encoded as H.264 (libx264,
 * no B-frames, SPS/PPS repeated in-band before each IDR) or VP8 (libvpx
 * realtime), sent as RTP (RFC 3550) with a fixed SSRC and payload type.
 *
 * The clock is the frame's presentation time plus the wall-clock offset at
 * start (ffmpeg drawtext `%{pts:hms:offset}`), so under `-re` it tracks the
 * wall clock and a screenshot of a viewer shows glass-to-glass latency.
 */
import type { CameraConfig, TestPatternSource } from '../config/schema.ts';

/** Where and how the RTP leaves ffmpeg. */
export interface RtpTarget {
  host: string;
  /** RTP port (the PlainTransport's tuple.localPort). */
  rtpPort: number;
  /** RTCP port (the PlainTransport's rtcpTuple.localPort). */
  rtcpPort: number;
  ssrc: number;
  payloadType: number;
  /** Local port the sender binds for RTP (RTCP: + 1); fixed so restarts keep the comedia tuple. */
  localRtpPort?: number;
}

/** `rtp://host:port?...` for ffmpeg's RTP muxer (IPv6 hosts bracketed). */
export function rtpUrl(target: RtpTarget): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  const local = target.localRtpPort ? `&localrtpport=${target.localRtpPort}&localrtcpport=${target.localRtpPort + 1}` : '';
  return `rtp://${host}:${target.rtpPort}?rtcpport=${target.rtcpPort}${local}&pkt_size=1200`;
}

const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf';

/**
 * Builds the ffmpeg command line for a test pattern.
 *
 * @param camera the camera (id, codec, h264Profile)
 * @param pattern frame size (px), fps, GOP (frames), bitrate (bps)
 * @param target RTP destination, SSRC and payload type
 * @param nowMs wall clock at start, ms since epoch (injected for tests)
 * @returns argv for `ffmpeg` (contains no secrets)
 */
export function testPatternArgs(
  camera: Pick<CameraConfig, 'id' | 'codec' | 'h264Profile'>,
  pattern: TestPatternSource,
  target: RtpTarget,
  nowMs = Date.now(),
): string[] {
  const secondsOfDay = ((nowMs % 86_400_000) / 1000).toFixed(3);
  const label = camera.id.replace(/[^A-Za-z0-9._-]/g, '_');
  const fontSize = Math.max(12, Math.round(pattern.height / 14));
  const drawtext =
    `drawtext=fontfile=${FONT}:fontsize=${fontSize}:fontcolor=white:box=1:boxcolor=black@0.6:x=20:y=20:` +
    `text='${label}  %{pts\\:hms\\:${secondsOfDay}} UTC'`;
  const gop = String(pattern.gopFrames);
  const kbps = `${Math.round(pattern.bitrate / 1000)}k`;
  const encoder =
    camera.codec === 'VP8'
      ? ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-lag-in-frames', '0', '-auto-alt-ref', '0',
         '-error-resilient', '1', '-b:v', kbps, '-g', gop, '-keyint_min', gop]
      : ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', camera.h264Profile,
         '-pix_fmt', 'yuv420p', '-bf', '0', '-g', gop, '-keyint_min', gop, '-sc_threshold', '0',
         '-b:v', kbps, '-maxrate', kbps, '-bufsize', kbps];
  return [
    '-hide_banner', '-nostats', '-loglevel', 'error',
    '-re', '-f', 'lavfi', '-i', `testsrc2=size=${pattern.width}x${pattern.height}:rate=${pattern.fps}`,
    '-vf', drawtext,
    ...encoder,
    '-an', '-payload_type', String(target.payloadType), '-ssrc', String(target.ssrc),
    '-f', 'rtp', rtpUrl(target),
  ];
}
