/**
 * The camera stream of the media load tests: a clip encoded once (H.264
 * constrained baseline, no B-frames, SPS/PPS in-band before every IDR,
 * sensor-like noise so the encoder reaches its bitrate), then replayed in a
 * loop without re-encoding (`-c copy`) as RTP (RFC 3550, RFC 6184 packetization
 * mode 1) to one or more destinations at once (ffmpeg `tee` muxer): the same
 * packets for every server compared.
 *
 * For RTSP cameras the same clip is served by a real RTSP server instead
 * ({@link loopedClipMkv}, ./rtsp-server.ts).
 *
 * Clips are cached under ${VIGIL_CACHE}/loadtest-clips/, keyed by their parameters.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Netns } from './netns.ts';
import type { ProcessSet } from './processes.ts';

/** What the clip is: frame size (px), frame rate (fps), bitrate (bps), GOP (frames). */
export interface ClipSpec {
  width: number;
  height: number;
  fps: number;
  bitrate: number;
  gopFrames: number;
}

/** An RTP destination: UDP port on 127.0.0.1 (RTCP to port + 1). */
export interface FeedTarget {
  port: number;
}

/** SSRC and payload type every feed uses (the Vigil camera is configured with them). */
export const FEED_SSRC = 0x1cedcafe;
export const FEED_PAYLOAD_TYPE = 96;
/** The profile-level-id of the clip (constrained baseline, level 3.1; RFC 6184 §8.1). */
export const FEED_PROFILE_LEVEL_ID = '42e01f';

/**
 * Encodes the clip (20 s, libx264) unless cached; returns its path.
 * @throws Error when ffmpeg fails
 */
export function clip(spec: ClipSpec): string {
  const cache = process.env['VIGIL_CACHE'] ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'vigil');
  const dir = join(cache, 'loadtest-clips');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${spec.width}x${spec.height}-${spec.fps}fps-${spec.bitrate}bps-g${spec.gopFrames}.ts`);
  if (existsSync(path)) return path;
  const kbps = `${Math.round(spec.bitrate / 1000)}k`;
  const gop = String(spec.gopFrames);
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${spec.width}x${spec.height}:rate=${spec.fps}`, '-t', '20',
    '-vf', 'noise=alls=12:allf=t',
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-level', '3.1', '-pix_fmt', 'yuv420p',
    '-bf', '0', '-g', gop, '-keyint_min', gop, '-sc_threshold', '0',
    '-b:v', kbps, '-minrate', kbps, '-maxrate', kbps, '-bufsize', kbps, '-x264-params', 'repeat-headers=1',
    '-f', 'mpegts', `${path}.tmp`,
  ]);
  renameSync(`${path}.tmp`, path);
  return path;
}

/**
 * The clip as an RTSP server serves it (./rtsp-server.ts): the same packets,
 * without re-encoding (`-c copy`), looped to `seconds` and put in Matroska
 * (what rtsp-server.py demuxes). Each RTSP client plays the file from its start
 * once, so `seconds` must outlast a client's session. Cached next to the clip.
 * @param seconds length of the file, s (at least the clip's 20 s)
 * @returns path of the .mkv
 * @throws Error when ffmpeg fails
 */
export function loopedClipMkv(clipPath: string, seconds: number): string {
  const path = clipPath.replace(/\.ts$/, `-${Math.round(seconds)}s.mkv`);
  if (existsSync(path)) return path;
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y', '-stream_loop', '-1', '-i', clipPath,
    '-map', '0:v', '-c', 'copy', '-t', String(Math.round(seconds)), '-f', 'matroska', `${path}.tmp`,
  ]);
  renameSync(`${path}.tmp`, path);
  return path;
}

/**
 * Starts replaying `clipPath` in a loop, in real time, as one RTP stream
 * (SSRC {@link FEED_SSRC}, payload type {@link FEED_PAYLOAD_TYPE}) to every target.
 * @param core pin ffmpeg to this core (taskset), if given
 * @param netns run ffmpeg in this network namespace (to feed a server there)
 */
export function startFeed(procs: ProcessSet, clipPath: string, targets: FeedTarget[], core?: number, netns?: Netns): ChildProcess {
  const out = targets
    .map((t) => `[f=rtp:ssrc=${FEED_SSRC}:payload_type=${FEED_PAYLOAD_TYPE}]rtp://127.0.0.1:${t.port}?rtcpport=${t.port + 1}&pkt_size=1200`)
    .join('|');
  return procs.spawn(
    'ffmpeg',
    ['-hide_banner', '-nostats', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', clipPath, '-map', '0:v', '-c', 'copy', '-f', 'tee', out],
    { stdio: ['ignore', 'ignore', 'pipe'], ...(core === undefined ? {} : { core }), ...(netns ? { netns } : {}) },
  );
}
