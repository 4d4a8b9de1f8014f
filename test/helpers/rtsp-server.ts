/**
 * A real RTSP server for tests: loadtest/rtsp/rtsp-server.py (GStreamer's
 * gst-rtsp-server, started by loadtest/src/rtsp-server.ts, which the ingest
 * load test uses too) serving Matroska files that ffmpeg makes here, with a
 * burnt-in frame counter and clock.
 *
 *   const server = await startRtspServer({ auth: 'digest', user: 'u', password: 'p',
 *     mounts: { '/h264': { video: 'h264' }, '/h265': { video: 'h265', audio: 'aac' } } });
 *   server.url('/h264')  // rtsp://127.0.0.1:<port>/h264 (no credentials)
 *   await server.restart(); await server.stop();
 *
 * Media files are cached in <tmpdir>/vigil-rtsp-media by content hash, so
 * only the first run pays for encoding (H.265 is the slow one: ~3 s for the
 * default 320x240, 25 fps, 70 s).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchRtspServer, type RtspMount, type RtspServer, type RtspServerProcessOptions } from '../../loadtest/src/rtsp-server.ts';

const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf';
const MEDIA_DIR = join(tmpdir(), 'vigil-rtsp-media');

/** What a mount serves. */
export interface RtspMediaSpec {
  video: 'h264' | 'h265';
  /** H.264 profile (default baseline; main/high use CABAC and, for high, 8x8 transforms so ffprobe reports them). */
  profile?: 'baseline' | 'main' | 'high';
  /** Encode with 2 B-frames (H.264 main/high, H.265). Default false. */
  bframes?: boolean;
  /** Audio track: AAC-LC 16 kHz mono, or PCM the server encodes to G.711 8 kHz mono. Default none. */
  audio?: 'none' | 'aac' | 'pcmu' | 'pcma';
  /** px, default 320x240 */
  width?: number;
  height?: number;
  /** frames/s, default 25 */
  fps?: number;
  /** keyframe interval in frames, default = fps (1 s) */
  gopFrames?: number;
  /** s, default 70 (each client plays the file from its start) */
  durationSec?: number;
  /** Temporal noise strength 0-100 (ffmpeg `noise` filter), like a camera sensor's: harder to code. Default 0. */
  noise?: number;
  /** Serve only the audio track (a source without video; needs `audio`). */
  audioOnly?: boolean;
  /** H.264 SPS/PPS: in-band before every IDR (default, as most cameras) or only in the SDP. */
  parameterSets?: 'in-band' | 'sdp-only';
}

const inFlight = new Map<string, Promise<string>>();

/**
 * Encodes (or finds in the cache) the file for `spec`.
 * @returns absolute path of the .mkv
 * @throws Error with ffmpeg's stderr tail when encoding fails
 */
export function makeRtspMedia(spec: RtspMediaSpec): Promise<string> {
  const full = {  // audioOnly and parameterSets are how the file is served, not what it holds
    video: spec.video,
    profile: spec.video === 'h264' ? (spec.profile ?? 'baseline') : 'main',
    bframes: spec.bframes ?? false,
    audio: spec.audio ?? 'none',
    width: spec.width ?? 320,
    height: spec.height ?? 240,
    fps: spec.fps ?? 25,
    gopFrames: spec.gopFrames ?? spec.fps ?? 25,
    durationSec: spec.durationSec ?? 70,
    noise: spec.noise ?? 0,
  };
  const key = createHash('sha256').update(JSON.stringify(full)).digest('hex').slice(0, 16);
  const file = join(MEDIA_DIR, `${full.video}-${full.profile}-${full.width}x${full.height}-${key}.mkv`);
  let p = inFlight.get(file);
  if (!p) {
    p = encode(full, file);
    inFlight.set(file, p);
    p.catch(() => inFlight.delete(file));
  }
  return p;
}

async function encode(s: Required<Omit<RtspMediaSpec, 'audioOnly' | 'parameterSets'>>, file: string): Promise<string> {
  if (existsSync(file)) return file;
  await mkdir(MEDIA_DIR, { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp.mkv`;
  const size = `${s.width}x${s.height}`;
  const fontSize = Math.max(12, Math.round(s.height / 12));
  const text = `${s.video} ${s.profile}${s.bframes ? ' B' : ''} %{n} %{pts\\:hms}`;
  const gop = String(s.gopFrames);
  const bf = s.bframes ? '2' : '0';
  const video =
    s.video === 'h264'
      ? ['-c:v', 'libx264', '-preset', s.profile === 'baseline' ? 'ultrafast' : 'veryfast', '-profile:v', s.profile,
         '-bf', s.profile === 'baseline' ? '0' : bf, '-g', gop, '-keyint_min', gop, '-sc_threshold', '0']
      : ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', `log-level=error:bframes=${bf}:keyint=${gop}:min-keyint=${gop}:scenecut=0`];
  const audioIn = s.audio === 'none' ? [] : ['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=${s.audio === 'aac' ? 16000 : 8000}`];
  const audioOut =
    s.audio === 'none' ? ['-an'] : s.audio === 'aac' ? ['-c:a', 'aac', '-ac', '1', '-b:a', '32k'] : ['-c:a', 'pcm_s16le', '-ac', '1'];
  const args = [
    '-hide_banner', '-nostats', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${s.fps}`,
    ...audioIn,
    '-t', String(s.durationSec),
    '-vf', `${s.noise ? `noise=alls=${s.noise}:allf=t,` : ''}drawtext=fontfile=${FONT}:fontsize=${fontSize}:fontcolor=white:box=1:boxcolor=black@0.6:x=8:y=8:text='${text}'`,
    '-pix_fmt', 'yuv420p', '-b:v', `${Math.round((s.width * s.height * s.fps * 0.1) / 1000)}k`,
    ...video, ...audioOut, '-f', 'matroska', tmp,
  ];
  await new Promise<void>((resolve, reject) => {
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-2000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg (media for RTSP server) exited ${code}: ${err}`))));
  }).catch(async (e: unknown) => {
    await rm(tmp, { force: true });
    throw e;
  });
  await rename(tmp, file); // atomic: parallel test runs may race to the same file
  return file;
}

export interface RtspServerOptions extends Omit<RtspServerProcessOptions, 'mounts' | 'core'> {
  /** Mount path ('/cam1') -> what it serves (startTimeoutMs counts after the media files exist). */
  mounts: Record<string, RtspMediaSpec>;
}

/** A running test RTSP server (the load tests' {@link RtspServer}). */
export type TestRtspServer = RtspServer;

/**
 * Starts the RTSP server on 127.0.0.1 once its media files exist.
 * @throws Error when encoding fails, or the server does not report listening within `startTimeoutMs` (with its stderr)
 */
export async function startRtspServer(opts: RtspServerOptions): Promise<TestRtspServer> {
  const mounts: Record<string, RtspMount> = {};
  for (const [mount, spec] of Object.entries(opts.mounts)) {
    const file = await makeRtspMedia(spec);
    const video = spec.audioOnly ? 'none' : spec.video === 'h264' && spec.parameterSets === 'sdp-only' ? 'h264-sdp' : spec.video;
    mounts[mount] = { file, video, audio: spec.audio ?? 'none' };
  }
  return launchRtspServer({ ...opts, mounts });
}
