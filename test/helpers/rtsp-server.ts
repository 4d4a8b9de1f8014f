/**
 * A real RTSP server for tests: test/fixtures/rtsp-server.py (GStreamer's
 * gst-rtsp-server) serving Matroska files that ffmpeg makes here, with a
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
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SERVER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'rtsp-server.py');
/** Debian's python3 (the GObject bindings live there, not in pyenv/venv pythons). */
const PYTHON = process.env['VIGIL_SYSTEM_PYTHON'] ?? '/usr/bin/python3';
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

export interface RtspServerOptions {
  /** Mount path ('/cam1') -> what it serves. */
  mounts: Record<string, RtspMediaSpec>;
  /** Default 0: any free port (kept across restart()). */
  port?: number;
  auth?: 'none' | 'basic' | 'digest';
  user?: string;
  /** Passed in the environment, not in argv. */
  password?: string;
  /** Lower transports offered (default both). */
  protocols?: Array<'tcp' | 'udp'>;
  /** Startup bound, ms (default 15 000, plus media encoding). */
  startTimeoutMs?: number;
}

export interface TestRtspServer {
  readonly port: number;
  /** pid of the current server process. */
  readonly pid: number;
  /** rtsp://127.0.0.1:<port><mount>, without credentials. */
  url(mount: string): string;
  /** SIGTERM (SIGKILL after 2 s); resolves once it exited. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL, like a camera losing power. */
  kill(): Promise<void>;
  /** Starts again on the same port (after stop/kill, or stops first). */
  restart(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts the RTSP server on 127.0.0.1 once its media files exist.
 * @throws Error when it does not report listening within `startTimeoutMs` (with its stderr)
 */
export async function startRtspServer(opts: RtspServerOptions): Promise<TestRtspServer> {
  const mountArgs: string[] = [];
  for (const [mount, spec] of Object.entries(opts.mounts)) {
    const file = await makeRtspMedia(spec);
    const video = spec.audioOnly ? 'none' : spec.video === 'h264' && spec.parameterSets === 'sdp-only' ? 'h264-sdp' : spec.video;
    mountArgs.push('--mount', `${mount}=${file}:${video}:${spec.audio ?? 'none'}`);
  }
  const auth = opts.auth ?? 'none';
  let port = opts.port ?? 0;
  let child: ChildProcess;

  const launch = async (): Promise<void> => {
    const args = [SERVER_SCRIPT, '--host', '127.0.0.1', '--port', String(port), '--auth', auth,
      '--protocols', (opts.protocols ?? ['tcp', 'udp']).join(','), ...mountArgs];
    if (opts.user) args.push('--user', opts.user);
    const env = { ...process.env, RTSP_PASSWORD: opts.password ?? '' };
    child = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    running.add(child);
    child.on('exit', () => running.delete(child));
    port = await new Promise<number>((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`RTSP server did not start within ${opts.startTimeoutMs ?? 15_000} ms: ${err}`));
      }, opts.startTimeoutMs ?? 15_000);
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4000)));
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const line = out.split('\n').find((l) => l.includes('"ready"'));
        if (line) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { port: number }).port);
        }
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`RTSP server exited (${code}) before listening: ${err}`));
      });
    });
  };

  const end = async (signal: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const hard = setTimeout(() => c.kill('SIGKILL'), 2000);
      c.once('exit', () => {
        clearTimeout(hard);
        resolve();
      });
      c.kill(signal);
    });
  };

  await launch();
  return {
    get port() {
      return port;
    },
    get pid() {
      return child.pid ?? -1;
    },
    url: (mount: string) => `rtsp://127.0.0.1:${port}${mount}`,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    async restart() {
      await end('SIGTERM');
      // The listening port is free at once (SO_REUSEADDR); retry briefly anyway.
      for (let attempt = 1; ; attempt++) {
        try {
          await launch();
          return;
        } catch (e) {
          if (attempt >= 5) throw e;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    },
  };
}
