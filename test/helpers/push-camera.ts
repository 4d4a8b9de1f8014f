/**
 * Cameras as they really are, for RTP-push tests: H.264 clips made with
 * ffmpeg (x264) at test time, pushed as RTP (RFC 3550, RFC 6184) by an
 * outside ffmpeg process in a loop, from a chosen source address, optionally
 * inside a network namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ClipSpec {
  width: number;
  height: number;
  /** frames/s */
  fps: number;
  /** keyframe interval, frames */
  gopFrames: number;
  /** length, frames */
  frames: number;
  profile: 'baseline' | 'main' | 'high';
  /** B-frames between references (main/high only). */
  bframes?: number;
  /**
   * `still-detail`: a still scene full of fine detail (fixed uniform noise,
   * like a sensor's fixed pattern): huge keyframes, tiny P-frames.
   * `pattern` (default): ffmpeg testsrc2 (moving).
   */
  scene?: 'still-detail' | 'pattern';
  /** Strength of the still scene's fixed noise (ffmpeg noise `alls`, 0-100; default 12): more detail, larger keyframes. */
  noise?: number;
  /** x264 CRF; default: bitrate-limited like a camera (0.1 bit/px/frame). */
  crf?: number;
  /** Largest slice NAL unit, bytes (x264 slice-max-size): small enough for single-NAL-unit RTP packets. */
  sliceMaxSize?: number;
}

const dir = mkdtempSync(join(tmpdir(), 'vigil-push-clips-'));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/**
 * Encodes a clip (Matroska; SPS/PPS repeated in band before every keyframe,
 * as cameras send them).
 * @returns the file path
 * @throws Error with ffmpeg's stderr when encoding fails
 */
export async function makeClip(spec: ClipSpec): Promise<string> {
  const file = join(dir, `clip-${n++}.mkv`);
  const size = `${spec.width}x${spec.height}`;
  const input =
    spec.scene === 'still-detail'
      ? `color=c=gray:s=${size}:r=${spec.fps},noise=alls=${spec.noise ?? 12}:allf=u,format=yuv420p`
      : `testsrc2=size=${size}:rate=${spec.fps}`;
  const gop = String(spec.gopFrames);
  const rate = spec.crf !== undefined ? ['-crf', String(spec.crf)] : ['-b:v', `${Math.round((spec.width * spec.height * spec.fps * 0.1) / 1000)}k`];
  const args = [
    '-hide_banner', '-nostats', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', input, '-frames:v', String(spec.frames),
    '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', spec.profile, '-pix_fmt', 'yuv420p',
    '-bf', String(spec.profile === 'baseline' ? 0 : (spec.bframes ?? 0)),
    '-g', gop, '-keyint_min', gop, '-sc_threshold', '0', ...rate,
    '-x264-params', `repeat-headers=1${spec.sliceMaxSize ? `:slice-max-size=${spec.sliceMaxSize}` : ''}`, '-an', '-f', 'matroska', file,
  ];
  await new Promise<void>((resolve, reject) => {
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-2000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg (clip) exited ${code}: ${err}`))));
  });
  return file;
}

export interface PushOptions {
  clip: string;
  /** Where the camera sends: the camera's ingest address and RTP port (RTCP = port + 1). */
  host: string;
  rtpPort: number;
  ssrc: number;
  payloadType: number;
  /** Source address to send from (ffmpeg rtp `localaddr`); default: the kernel's choice. */
  fromIp?: string;
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  /** First RTP sequence number (ffmpeg `-seq`); default random. */
  seq?: number;
  /** packetization-mode 0: single NAL unit packets only (RFC 6184 §6.2; ffmpeg `-rtpflags h264_mode0`). */
  mode0?: boolean;
  /** Send SRTP and SRTCP (RFC 3711) with this suite and base64 master key || salt (ffmpeg `-srtp_out_suite` / `-srtp_out_params`). */
  srtp?: { suite: string; keyBase64: string };
}

/**
 * Pushes `clip` in a loop at its own pace (`-re`), copying the H.264 (no
 * re-encode), from a new ephemeral source port each time (a restarted camera).
 * @returns the ffmpeg process (kill it with SIGKILL: a camera losing power)
 */
export function pushClip(o: PushOptions): ChildProcess {
  let url = `${o.srtp ? 'srtp' : 'rtp'}://${o.host}:${o.rtpPort}?rtcpport=${o.rtpPort + 1}&pkt_size=1200`;
  if (o.fromIp) url += `&localaddr=${o.fromIp}`;
  const ffmpeg = [
    'ffmpeg', '-hide_banner', '-nostats', '-loglevel', 'error',
    '-re', '-stream_loop', '-1', '-i', o.clip,
    '-map', '0:v', '-c:v', 'copy', '-an', '-payload_type', String(o.payloadType), '-ssrc', String(o.ssrc),
    ...(o.seq !== undefined ? ['-seq', String(o.seq)] : []), ...(o.mode0 ? ['-rtpflags', 'h264_mode0'] : []),
    ...(o.srtp ? ['-srtp_out_suite', o.srtp.suite, '-srtp_out_params', o.srtp.keyBase64] : []),
    '-f', 'rtp', url,
  ];
  const [cmd, ...args] = o.netns ? ['ip', 'netns', 'exec', o.netns, ...ffmpeg] : ffmpeg;
  return spawn(cmd!, args, { stdio: 'ignore' });
}

/** Kernel UDP receive-buffer overflows on this host so far (/proc/net/snmp `Udp: RcvbufErrors`). */
export async function rcvbufErrors(): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const lines = (await readFile('/proc/net/snmp', 'utf8')).split('\n').filter((l) => l.startsWith('Udp:'));
  const [names, values] = lines.map((l) => l.trim().split(/\s+/));
  const i = names!.indexOf('RcvbufErrors');
  return Number(values![i]);
}

/**
 * A camera whose RTP timestamps wrap: a UDP hop on 127.0.0.1 that forwards
 * RTP to `to` from one fixed socket, shifting timestamps so the first packet
 * carries `firstTs` (mod 2^32, RFC 3550 §5.1); RTCP is dropped.
 * @returns where to send (RTP port; RTCP = port + 1 is not bound) and close()
 */
export async function timestampShifter(to: { host: string; rtpPort: number }, firstTs: number): Promise<{ rtpPort: number; close(): void }> {
  const { createSocket } = await import('node:dgram');
  const s = createSocket('udp4');
  let base: number | undefined;
  s.on('message', (m) => {
    if (m.length < 12) return;
    const ts = m.readUInt32BE(4);
    base ??= ts;
    m.writeUInt32BE((ts - base + firstTs) >>> 0, 4);
    s.send(m, to.rtpPort, to.host);
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return { rtpPort: s.address().port, close: () => s.close() };
}
