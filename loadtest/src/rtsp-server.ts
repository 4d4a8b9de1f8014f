/**
 * A real RTSP server process on 127.0.0.1: ../rtsp/rtsp-server.py (GStreamer's
 * gst-rtsp-server, RFC 2326, through Debian's python3-gi) serving Matroska
 * files at mount paths, each client from the start of its file, in real time.
 * The tests (test/helpers/rtsp-server.ts, which makes the files) and the ingest
 * load test (./ingest.ts `--source rtsp`, the load-test clip at N mounts) both
 * start it through {@link launchRtspServer}.
 *
 *   const server = await launchRtspServer({ mounts: { '/cam1': { file: '/x.mkv', video: 'h264' } } });
 *   server.url('/cam1')  // rtsp://127.0.0.1:<port>/cam1 (no credentials)
 *   await server.restart(); await server.stop();
 *
 * The Debian packages it needs are in scripts/apt-packages.txt (installed by
 * the set-up). Every server still running when this process exits is killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SERVER_SCRIPT = fileURLToPath(new URL('../rtsp/rtsp-server.py', import.meta.url));
/** Debian's python3 (the GObject bindings live there, not in pyenv/venv pythons). */
const PYTHON = process.env['VIGIL_SYSTEM_PYTHON'] ?? '/usr/bin/python3';

/** What one mount serves: a Matroska file and how its tracks are payloaded (see rtsp-server.py). */
export interface RtspMount {
  /** Absolute path of a Matroska (.mkv) file with the video (and audio) track. */
  file: string;
  /**
   * `h264` / `h265`: RFC 6184 / RFC 7798 payloader, parameter sets in-band before
   * every IDR; `h264-sdp`: parameter sets only in the SDP; `none`: audio only.
   */
  video: 'h264' | 'h264-sdp' | 'h265' | 'none';
  /** AAC (RFC 3640), or PCM the server encodes to G.711 (RFC 3551). Default none. */
  audio?: 'none' | 'aac' | 'pcmu' | 'pcma';
}

/** How to start the server. */
export interface RtspServerProcessOptions {
  /** Mount path ('/cam1') -> what it serves. */
  mounts: Record<string, RtspMount>;
  /** Default 0: any free port (kept across restart()). */
  port?: number;
  auth?: 'none' | 'basic' | 'digest';
  user?: string;
  /** Passed in the environment (RTSP_PASSWORD), not in argv. */
  password?: string;
  /** Lower transports offered (default both). */
  protocols?: Array<'tcp' | 'udp'>;
  /** Startup bound, ms (default 15 000). */
  startTimeoutMs?: number;
  /** Pin the server (all its threads) to this core (util-linux `taskset -c`). */
  core?: number;
}

/** A running RTSP server. */
export interface RtspServer {
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
 * Starts the RTSP server on 127.0.0.1 and waits for its `{"ready": true, "port": N}` line.
 * @throws Error when it exits or does not report listening within `startTimeoutMs` (with its stderr)
 */
export async function launchRtspServer(opts: RtspServerProcessOptions): Promise<RtspServer> {
  const mountArgs: string[] = [];
  for (const [mount, m] of Object.entries(opts.mounts)) mountArgs.push('--mount', `${mount}=${m.file}:${m.video}:${m.audio ?? 'none'}`);
  const auth = opts.auth ?? 'none';
  const timeoutMs = opts.startTimeoutMs ?? 15_000;
  let port = opts.port ?? 0;
  let child: ChildProcess;

  const launch = async (): Promise<void> => {
    const args = [SERVER_SCRIPT, '--host', '127.0.0.1', '--port', String(port), '--auth', auth,
      '--protocols', (opts.protocols ?? ['tcp', 'udp']).join(','), ...mountArgs];
    if (opts.user) args.push('--user', opts.user);
    const env = { ...process.env, RTSP_PASSWORD: opts.password ?? '' };
    const stdio: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];
    child = opts.core === undefined
      ? spawn(PYTHON, args, { stdio, env })
      : spawn('taskset', ['-c', String(opts.core), PYTHON, ...args], { stdio, env });
    running.add(child);
    child.on('exit', () => running.delete(child));
    port = await new Promise<number>((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`RTSP server did not start within ${timeoutMs} ms: ${err}`));
      }, timeoutMs);
      // Drained for the server's whole life (it logs every client to stderr).
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
