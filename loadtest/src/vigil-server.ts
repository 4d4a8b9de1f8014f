/**
 * A Vigil for load tests: `node server/src/main.ts --config <generated>`
 * as its own process (what `npm start` runs), one mediasoup worker, rate
 * limits lifted so the load generator's single address is not throttled, a
 * fresh secret and admin key per run. Its cameras are rtp-push cameras fed by
 * ./feed.ts or ./rtp-replay.ts ({@link startVigilServer}), or RTSP cameras
 * Vigil pulls itself with its relays ({@link startVigilRtspServer}).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FEED_PAYLOAD_TYPE, FEED_SSRC } from './feed.ts';
import { childPids, freeTcpPort, freeUdpPair, pinToCore, waitForOutput, type ProcessSet } from './processes.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The running Vigil process, whatever its cameras. */
export interface VigilProcess {
  /** Base URL (http://127.0.0.1:port). */
  url: string;
  /** HS256 viewer-token secret of this run (`auth.secret`). */
  secret: string;
  /** Admin API credential (`admin.apiKey`) of this run. */
  adminKey: string;
  /** The Node.js process (signaling; the parent of every relay process). */
  pid: number;
  /** The mediasoup worker process. */
  workerPid: number;
  /** Every camera's id. */
  cameras: { id: string }[];
}

/** A Vigil with rtp-push cameras. */
export interface VigilServer extends VigilProcess {
  /** The first camera's id and RTP port (RTCP: port + 1). */
  camera: string;
  rtpPort: number;
  /** Every camera: id and RTP port. */
  cameras: { id: string; rtpPort: number }[];
}

/** A Vigil with RTSP cameras (source kind `rtsp`, RTP interleaved over TCP). */
export interface VigilRtspServer extends VigilProcess {
  /** Every camera: id and the URL its relay pulls. */
  cameras: { id: string; url: string }[];
}

/** Where Vigil's processes run. */
export interface VigilCores {
  /** Pin the mediasoup worker to this core. */
  workerCore?: number;
  /** Pin the Node.js process (and the worker until re-pinned) to this core. */
  nodeCore?: number;
  /**
   * Pin what Node.js spawns for ingest (RTSP probes: `ffprobe`; relays:
   * `ffmpeg`) to this core, from Vigil's spawn on: they inherit Node's core
   * otherwise. Each is re-pinned (taskset) within 500 ms of appearing.
   */
  relayCore?: number;
}

/** How the Vigil process runs, whatever its cameras. */
export interface VigilProcessOptions extends VigilCores {
  /** The mediasoup-worker binary to run (default: `$MEDIASOUP_WORKER_BIN`, the one the set-up built). */
  workerBin?: string;
  /** Address viewers reach Vigil on: HTTP/WebSocket and WebRTC (default 127.0.0.1; cameras always push to 127.0.0.1). */
  viewerAddress?: string;
  /** Instant start (`fanout.instantStart.enabled`, Vigil's default true): false measures cameras without the GOP cache. */
  instantStart?: boolean;
}

export interface VigilServerOptions extends VigilProcessOptions {
  /** rtp-push cameras (default 1), ids `loadtest-cam`, `loadtest-cam-2`, ... */
  cameras?: number;
}

/**
 * Starts Vigil with rtp-push cameras (SSRC and payload type of ./feed.ts) and
 * waits for `vigil started` and its worker's pid.
 * @throws Error when it exits or does not start within 30 s
 */
export async function startVigilServer(procs: ProcessSet, opts: VigilServerOptions = {}): Promise<VigilServer> {
  const cameras: { id: string; rtpPort: number }[] = [];
  for (let i = 0; i < (opts.cameras ?? 1); i++) cameras.push({ id: i === 0 ? 'loadtest-cam' : `loadtest-cam-${i + 1}`, rtpPort: await freeUdpPair(true) });
  const vigil = await startVigil(procs, opts, cameras.map((c) => ({
    id: c.id,
    codec: 'H264',
    h264Profile: 'baseline',
    source: { kind: 'rtp-push', port: c.rtpPort, ssrc: FEED_SSRC, payloadType: FEED_PAYLOAD_TYPE },
  })));
  return { ...vigil, camera: cameras[0]!.id, rtpPort: cameras[0]!.rtpPort, cameras };
}

/**
 * Starts Vigil with one RTSP camera per URL (ids `loadtest-rtsp-1`, ...; H.264
 * constrained baseline, as ./feed.ts's clip; RTP interleaved in the RTSP TCP
 * connection, RFC 2326 §10.12) and waits for `vigil started` and its worker's
 * pid. Vigil probes each camera and starts its relay (ffmpeg `-c copy`, a child
 * of the Node.js process) after that.
 * @throws Error when it exits or does not start within 30 s + 2 s per camera
 *   (the cameras open one after the other while the first ones' probes and
 *   relays run: 100 cameras took over 130 s on the busy 2-core VM)
 */
export async function startVigilRtspServer(procs: ProcessSet, urls: string[], opts: VigilProcessOptions = {}): Promise<VigilRtspServer> {
  const cameras = urls.map((url, i) => ({ id: `loadtest-rtsp-${i + 1}`, url }));
  const vigil = await startVigil(procs, opts, cameras.map((c) => ({
    id: c.id,
    codec: 'H264',
    h264Profile: 'baseline',
    source: { kind: 'rtsp', url: c.url, transport: 'tcp' },
  })), 30_000 + 2000 * cameras.length);
  return { ...vigil, cameras };
}

/**
 * Writes the config with these camera entries, starts Vigil, waits for it (at
 * most `startTimeoutMs`) and pins its worker.
 */
async function startVigil(procs: ProcessSet, opts: VigilProcessOptions, cameras: object[], startTimeoutMs = 30_000): Promise<Omit<VigilProcess, 'cameras'>> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-loadtest-'));
  // Its config holds the run's secret and admin key: gone with the run.
  procs.onStop(() => rmSync(dir, { recursive: true, force: true }));
  const secret = randomBytes(24).toString('hex');
  const adminKey = randomBytes(24).toString('hex');
  const unlimited = { burst: 100_000, perSec: 100_000 };
  const config = {
    http: { host: opts.viewerAddress ?? '127.0.0.1', port: await freeTcpPort() },
    webrtc: { listenIp: opts.viewerAddress ?? '127.0.0.1', port: await freeTcpPort() },
    workers: { count: 1, logLevel: 'error' },
    auth: { secret },
    demo: { enabled: false },
    log: { level: 'info' },
    limits: { maxTransportsPerConnection: 2, maxConsumersPerConnection: 4, maxConnectionsPerIp: 100_000 },
    rateLimits: { joinPerIp: unlimited, joinPerSubject: unlimited, consumePerIp: unlimited, consumePerSubject: unlimited },
    audit: { path: join(dir, 'audit.sqlite') },
    revocations: { file: join(dir, 'revocations.json') },
    admin: { apiKey: adminKey },
    ...(opts.instantStart === false ? { fanout: { instantStart: { enabled: false } } } : {}),
    cameras,
  };
  const configPath = join(dir, 'vigil.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const child = procs.spawn(process.execPath, [join(ROOT, 'server/src/main.ts'), '--config', configPath], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: opts.workerBin ? { ...process.env, MEDIASOUP_WORKER_BIN: opts.workerBin } : process.env,
    ...(opts.nodeCore === undefined ? {} : { core: opts.nodeCore }),
  });
  if (opts.relayCore !== undefined) pinChildren(procs, child.pid!, opts.relayCore);
  // The worker is pinned as soon as its pid is logged: cameras open (one worker round trip after another) before `vigil started`.
  const worker = waitForOutput(child, /"workerPid":(\d+)/, startTimeoutMs).then((m) => {
    const pid = Number(m[1]);
    if (opts.workerCore !== undefined) pinToCore(pid, opts.workerCore);
    return pid;
  });
  const started = await waitForOutput(child, /"msg":"vigil started".*?"url":"([^"]+)"|"url":"([^"]+)".*?"msg":"vigil started"/, startTimeoutMs);
  const workerPid = await worker;
  child.stdout?.resume();
  child.stderr?.resume();
  return { url: started[1] ?? started[2]!, secret, adminKey, pid: child.pid!, workerPid };
}

/** Every 500 ms until the run stops, pins `parentPid`'s new ffmpeg and ffprobe children to `core`. */
function pinChildren(procs: ProcessSet, parentPid: number, core: number): void {
  const seen = new Set<number>();
  const timer = setInterval(() => {
    for (const pid of [...childPids(parentPid, 'ffmpeg'), ...childPids(parentPid, 'ffprobe')]) {
      if (seen.has(pid)) continue;
      seen.add(pid);
      try {
        pinToCore(pid, core);
      } catch {
        // exited before taskset reached it
      }
    }
  }, 500);
  procs.onStop(() => clearInterval(timer));
}
