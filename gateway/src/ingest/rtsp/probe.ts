/**
 * Probes an RTSP camera with ffprobe: what it sends (codec, profile, size,
 * frame rate, B-frames, audio), or a typed {@link RtspError} saying why not.
 *
 * ffprobe does what a relay would: OPTIONS, DESCRIBE (auth challenge and
 * answer), SETUP, PLAY (RFC 2326 §10), then decodes the first frames.
 * B-frames are detected two ways: the decoder's reorder depth
 * (`has_b_frames`, from the SPS VUI or observed reordering) and the picture
 * types of the first ~50 packets' frames.
 */
import { spawn } from 'node:child_process';
import { prepareRtspInput, rtspStderrRedactor } from './input.ts';
import { RtspError, redactUrl, type RtspErrorReason, type RtspSourceInput } from './source.ts';

export interface RtspVideoInfo {
  /** ffmpeg codec name: 'h264', 'hevc', 'vp8', 'mjpeg', ... */
  codec: string;
  /** ffmpeg profile name ('Constrained Baseline', 'Main', 'High', 'High 10', ...), if known. */
  profile: string | undefined;
  /** Frame size, px. */
  width: number;
  height: number;
  /** Frame rate, frames/s (r_frame_rate, else avg_frame_rate), if known. */
  fps: number | undefined;
  /** The stream has B-frames (frame reordering): WebRTC receivers do not expect it. */
  hasBFrames: boolean;
  /** Pixel format, e.g. 'yuv420p', 'yuvj420p', 'yuv420p10le', if known. */
  pixFmt: string | undefined;
}

export interface RtspAudioInfo {
  /** ffmpeg codec name: 'pcm_mulaw', 'pcm_alaw', 'aac', 'opus', ... */
  codec: string;
  /** Hz */
  sampleRate: number;
  channels: number;
}

export interface RtspProbe {
  video: RtspVideoInfo;
  audio?: RtspAudioInfo;
}

export interface ProbeOptions {
  /** ffprobe executable (default `ffprobe`). */
  ffprobe?: string;
  /** Overrides the source's probeTimeoutMs (ms). */
  timeoutMs?: number;
  /** Aborts the probe (rejects with RtspError('timeout')). */
  signal?: AbortSignal;
  /** Parent directory for the credential file (see prepareRtspInput). */
  tmpDir?: string;
}

/** ffprobe JSON (`-of json`), the fields read here. */
interface FfprobeJson {
  streams?: Array<{
    codec_type?: string;
    codec_name?: string;
    profile?: string;
    width?: number;
    height?: number;
    pix_fmt?: string;
    has_b_frames?: number;
    r_frame_rate?: string;
    avg_frame_rate?: string;
    sample_rate?: string;
    channels?: number;
  }>;
  frames?: Array<{ media_type?: string; pict_type?: string }>;
}

/** "30000/1001" -> 29.97; "0/0" or junk -> undefined. */
function rate(text: string | undefined): number | undefined {
  const m = /^(\d+)\/(\d+)$/.exec(text ?? '');
  if (!m || Number(m[2]) === 0 || Number(m[1]) === 0) return undefined;
  const fps = Number(m[1]) / Number(m[2]);
  return fps > 0 && fps <= 1000 ? Math.round(fps * 1000) / 1000 : undefined;
}

/** Maps ffmpeg/ffprobe stderr (already scrubbed) to a reason; RTSP status codes per RFC 2326 §7.1.1. */
export function classifyFfmpegError(stderr: string): { reason: RtspErrorReason; text: string } {
  const rules: Array<[RegExp, RtspErrorReason, string]> = [
    [/\b401 Unauthorized|authorization failed/i, 'unauthorized', 'the camera rejected the credentials (401 Unauthorized)'],
    [/\b403 Forbidden/i, 'unauthorized', 'the camera refused access (403 Forbidden)'],
    [/\b404 Not Found|\b454 Session Not Found/i, 'not_found', 'no such stream on the camera (404 Not Found)'],
    [/Connection refused/i, 'unreachable', 'connection refused (nothing listening)'],
    [/No route to host|Network is unreachable|Host is unreachable/i, 'unreachable', 'host unreachable'],
    [/Name or service not known|Temporary failure in name resolution|Failed to resolve/i, 'unreachable', 'host name does not resolve'],
    [/timed out|Operation timed out/i, 'timeout', 'the camera did not answer in time'],
  ];
  for (const [re, reason, text] of rules) if (re.test(stderr)) return { reason, text };
  const status = /method \w+ failed: (\d{3}[^\n]*)/.exec(stderr);
  return { reason: 'protocol', text: status ? `RTSP error ${status[1]!.trim()}` : 'not a working RTSP stream' };
}

/** The last non-empty stderr line, trimmed to 300 chars (for `RtspError.detail`). */
function lastLine(text: string): string | undefined {
  const line = text.trim().split('\n').filter((l) => l.trim()).at(-1)?.trim();
  return line ? line.slice(0, 300) : undefined;
}

/**
 * Probes an RTSP source.
 *
 * @param source url, credentials, transport (default tcp), ioTimeoutMs, probeTimeoutMs (default 10 000 ms)
 * @param opts ffprobe path, timeout override (ms), abort signal, temp dir
 * @returns the first video stream and, if any, the first audio stream
 * @throws RtspError with reason
 *   'unauthorized' (401/403), 'not_found' (404), 'unreachable' (refused,
 *   no route, unknown host), 'timeout' (socket I/O timeout, the probe's time
 *   bound, or abort), 'no_video' (no video stream), 'protocol' (anything
 *   else: not RTSP, bad SDP, undecodable). The message names the redacted URL
 *   and never contains credentials; ffprobe's output is scrubbed.
 */
export async function probeRtsp(source: RtspSourceInput, opts: ProbeOptions = {}): Promise<RtspProbe> {
  const where = redactUrl(source.url);
  const timeoutMs = opts.timeoutMs ?? source.probeTimeoutMs ?? 10_000;
  const input = await prepareRtspInput(source, { analysis: 'full', ...(opts.tmpDir === undefined ? {} : { dir: opts.tmpDir }) });
  try {
    const args = [
      '-hide_banner', '-loglevel', 'error',
      ...input.args,
      '-of', 'json',
      '-show_entries',
      'stream=codec_type,codec_name,profile,width,height,pix_fmt,has_b_frames,r_frame_rate,avg_frame_rate,sample_rate,channels:frame=media_type,pict_type',
      '-read_intervals', '%+#50',
    ];
    const started = Date.now();
    const { code, stdout, stderr, timedOut } = await run(opts.ffprobe ?? 'ffprobe', args, timeoutMs, opts.signal);
    const elapsedMs = Date.now() - started;
    const scrubbed = rtspStderrRedactor(source, input)(stderr);
    if (timedOut) throw new RtspError('timeout', `${where}: no answer within ${timeoutMs} ms`, lastLine(scrubbed));
    let json: FfprobeJson = {};
    try {
      json = JSON.parse(stdout || '{}') as FfprobeJson;
    } catch {
      // ffprobe died mid-output; classify by stderr below.
    }
    const streams = json.streams ?? [];
    if (code !== 0 && streams.length === 0) {
      const { reason, text } = classifyFfmpegError(scrubbed);
      // FFmpeg 5.1 reports an RTSP reply that never came (socket I/O timeout)
      // as "Invalid data found"; the time it took tells the two apart.
      const ioTimeoutMs = source.ioTimeoutMs ?? 5000;
      if (reason === 'protocol' && /Invalid data found/i.test(scrubbed) && elapsedMs >= ioTimeoutMs * 0.9) {
        throw new RtspError('timeout', `${where}: the camera accepted the connection but did not answer within ${ioTimeoutMs} ms`, lastLine(scrubbed));
      }
      throw new RtspError(reason, `${where}: ${text}`, lastLine(scrubbed));
    }
    const v = streams.find((s) => s.codec_type === 'video');
    if (!v || !v.codec_name) {
      throw new RtspError('no_video', `${where}: the stream has no video${streams.length ? ` (only ${streams.map((s) => s.codec_name).join(', ')})` : ''}`);
    }
    if (!v.width || !v.height) {
      throw new RtspError('protocol', `${where}: the video's frame size could not be read (no decodable frame)`, lastLine(scrubbed));
    }
    const frames = json.frames ?? [];
    const video: RtspVideoInfo = {
      codec: v.codec_name,
      profile: v.profile && v.profile !== 'unknown' ? v.profile : undefined,
      width: v.width,
      height: v.height,
      fps: rate(v.r_frame_rate) ?? rate(v.avg_frame_rate),
      hasBFrames: (v.has_b_frames ?? 0) > 0 || frames.some((f) => f.media_type === 'video' && f.pict_type === 'B'),
      pixFmt: v.pix_fmt,
    };
    const a = streams.find((s) => s.codec_type === 'audio');
    const audio: RtspAudioInfo | undefined =
      a?.codec_name ? { codec: a.codec_name, sampleRate: Number(a.sample_rate ?? 0), channels: a.channels ?? 0 } : undefined;
    return audio ? { video, audio } : { video };
  } finally {
    await input.dispose();
  }
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a command with a hard time bound (SIGKILL at `timeoutMs`), collecting at most 4 MB of stdout and 64 KB of stderr. */
function run(command: string, args: string[], timeoutMs: number, signal: AbortSignal | undefined): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < 4_000_000) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-65_536);
    });
    const kill = () => {
      timedOut = true;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(kill, timeoutMs);
    signal?.addEventListener('abort', kill, { once: true });
    if (signal?.aborted) kill();
    child.on('error', (err) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', kill);
      reject(new RtspError('protocol', `cannot run ${command}: ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', kill);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}
