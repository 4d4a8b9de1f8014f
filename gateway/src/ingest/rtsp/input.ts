/**
 * The ffmpeg/ffprobe input for an RTSP source, with the credentials kept out
 * of the process list.
 *
 * ffmpeg's RTSP demuxer takes credentials only as URL userinfo (it has no
 * user/password option), and argv is world-readable (/proc/<pid>/cmdline,
 * `ps`). So when the source has credentials, the URL goes into an ffconcat
 * list in a private temporary file (directory 0700, file 0600) and ffmpeg
 * reads it with the concat demuxer:
 *
 *   ffconcat version 1.0
 *   file 'rtsp://user:pass@host/path'
 *   option rtsp_transport tcp
 *   option timeout 5000000
 *
 * `option` (FFmpeg >= 5.0 concat demuxer) hands the RTSP demuxer its options
 * (plus `probesize`/`analyzeduration` for a quick start, see RtspAnalysis);
 * `-safe 0` allows a URL entry and `-protocol_whitelist` names the protocols
 * the RTSP client needs (file for the list, rtsp+tcp, rtp+udp for UDP
 * transport). Verified with FFmpeg 5.1 against gst-rtsp-server with Basic and
 * Digest auth, TCP and UDP, for probing and for a live relay
 * (test/e2e/rtsp-ingest.test.ts checks /proc/<pid>/cmdline).
 *
 * Without credentials the URL is given directly (`-rtsp_transport ... -i url`).
 *
 * Limits: the file lives while the relay runs (a supervised relay re-reads it
 * on every restart), readable by the gateway's user and root; ffmpeg's own
 * error messages quote the URL, so its output must go through
 * `scrubCredentials` before it is logged.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RtspError, hasCredentials, redactUrl, scrubCredentials, urlWithCredentials, type RtspSourceInput } from './source.ts';

/** Protocols the RTSP client may open: the list file, RTSP over TCP, RTP/RTCP over UDP. */
export const RTSP_PROTOCOL_WHITELIST = 'file,rtsp,tcp,rtp,udp';

/** Ready-made input arguments for ffmpeg or ffprobe (`... <args> <output options>`). */
export interface RtspInput {
  /** Input options and `-i`, e.g. `['-rtsp_transport','tcp','-timeout','5000000','-i','rtsp://cam/1']`. */
  readonly args: readonly string[];
  /** The ffconcat list holding the URL with credentials, if one was written. */
  readonly listFile: string | undefined;
  /** Removes the temporary file (idempotent; also done at process exit). */
  dispose(): Promise<void>;
}

/** Directories still holding credential files, removed synchronously if the process exits first. */
const liveDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  });
}

/** ffconcat quoting (av_get_token): inside '...' everything is literal; a ' is written '\''. */
function quote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Stream analysis before the first packet goes out: `quick` stops after
 * 100 ms of media or 32 KiB, whichever comes first (the relay copies or
 * decodes what the SDP and the first packets describe); `full` keeps
 * FFmpeg's defaults (5 MB / 5 s), which the probe needs for frame rate and
 * B-frame detection. (`analyzeduration 0` would mean "default", not "none".)
 * Measured against the test server (H.264 copy, TCP, first RTP packet out
 * after spawn): 1080p 5 Mbps ~0.13 s and 360p 0.6 Mbps ~0.33 s with `quick`;
 * ~1.2 s with `full`.
 */
export type RtspAnalysis = 'quick' | 'full';
const QUICK_ANALYSIS: Array<[string, string]> = [
  ['probesize', '32768'],
  ['analyzeduration', '100000'],
];

const DIR_PREFIX = 'vigil-rtsp-';

/**
 * Deletes credential directories left by Vigil processes that no longer run
 * (a `kill -9` skips the exit hook). Directories of live processes, this one
 * included, are kept.
 * @param dir where they were created (default os.tmpdir())
 * @returns how many were removed
 */
export async function removeStaleRtspInputs(dir = tmpdir()): Promise<number> {
  let removed = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (err) {
      alive = (err as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (alive) continue;
    await rm(join(dir, name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}

/**
 * Prepares the input part of an ffmpeg/ffprobe command line for `source`.
 *
 * @param source url, username/password, transport (default tcp), ioTimeoutMs (default 5000)
 * @param opts.dir parent for the private temporary directory (default os.tmpdir())
 * @param opts.analysis 'quick' (default, for relays) or 'full' (for probing), see {@link RtspAnalysis}
 * @returns the arguments and a `dispose()` that deletes the credential file;
 *   call it when the relay is stopped for good (not between restarts)
 * @throws RtspError('protocol') for a URL with userinfo or a password without username
 */
export async function prepareRtspInput(
  source: RtspSourceInput,
  opts: { dir?: string; analysis?: RtspAnalysis } = {},
): Promise<RtspInput> {
  const transport = source.transport ?? 'tcp';
  const timeoutUs = String((source.ioTimeoutMs ?? 5000) * 1000);
  const url = urlWithCredentials(source);
  const analysis = opts.analysis === 'full' ? [] : QUICK_ANALYSIS;
  const analysisArgs = analysis.flatMap(([k, v]) => [`-${k}`, v]);
  if (!hasCredentials(source)) {
    return {
      args: [...analysisArgs, '-rtsp_transport', transport, '-timeout', timeoutUs, '-i', url],
      listFile: undefined,
      dispose: async () => {},
    };
  }
  if (/[\r\n]/.test(url)) throw new RtspError('protocol', `${redactUrl(source.url)}: line break in URL or credentials`);
  // The owner's pid is in the name so a later process can remove what a killed one left (removeStaleRtspInputs).
  const dir = await mkdtemp(join(opts.dir ?? tmpdir(), `${DIR_PREFIX}${process.pid}-`));
  liveDirs.add(dir);
  installExitHook();
  const listFile = join(dir, 'input.ffconcat');
  // The options apply to the RTSP demuxer inside; the analysis options also
  // to the concat demuxer outside (each runs its own stream analysis).
  const list = [
    'ffconcat version 1.0',
    `file ${quote(url)}`,
    `option rtsp_transport ${transport}`,
    `option timeout ${timeoutUs}`,
    ...analysis.map(([k, v]) => `option ${k} ${v}`),
    '',
  ];
  try {
    await writeFile(listFile, list.join('\n'), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    liveDirs.delete(dir);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    args: [...analysisArgs, '-f', 'concat', '-safe', '0', '-protocol_whitelist', RTSP_PROTOCOL_WHITELIST, '-i', listFile],
    listFile,
    dispose: async () => {
      if (!liveDirs.delete(dir)) return;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A redactor for the relay's or probe's stderr (RelayProcess `redact`):
 * scrubs credentials ({@link scrubCredentials}) and names the source's
 * redacted URL where ffmpeg names the credential list file.
 */
export function rtspStderrRedactor(source: RtspSourceInput, input: Pick<RtspInput, 'listFile'>): (text: string) => string {
  const where = redactUrl(source.url);
  const file = input.listFile;
  return (text) => scrubCredentials(file ? text.split(file).join(where) : text, source);
}
