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
  /**
   * Local UDP port ffmpeg sends RTP from (its `localrtpport`), and RTCP from
   * (`localrtcpport`, default localRtpPort + 1). A comedia PlainTransport
   * latches the first packet's source IP:port and then ignores every other
   * source (mediasoup PlainTransportOptions.comedia), so a restarted relay must
   * send from the same local ports. Omitted: ephemeral ports.
   */
  localRtpPort?: number;
  localRtcpPort?: number;
}

/**
 * The ffmpeg `rtp://` output URL for a target (ffmpeg rtp protocol options
 * `rtcpport`, `localrtpport`, `localrtcpport`, `pkt_size`).
 *
 * @param pktSize largest RTP packet, bytes (default 1200: room for SRTP and
 *   tunnel overhead below a 1500-byte MTU; 172 makes 20 ms G.711 packets)
 */
export function rtpOutputUrl(target: RtpTarget, pktSize = 1200): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  let url = `rtp://${host}:${target.rtpPort}?rtcpport=${target.rtcpPort}`;
  if (target.localRtpPort !== undefined) {
    url += `&localrtpport=${target.localRtpPort}&localrtcpport=${target.localRtcpPort ?? target.localRtpPort + 1}`;
  }
  return `${url}&pkt_size=${pktSize}`;
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
    '-f', 'rtp', rtpOutputUrl(target),
  ];
}
