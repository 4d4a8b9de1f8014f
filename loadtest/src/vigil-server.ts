/**
 * A Vigil for load tests: `node server/src/main.ts --config <generated>`
 * as its own process (what `npm start` runs), one mediasoup worker, rtp-push
 * cameras fed by ./feed.ts or ./rtp-replay.ts, rate limits lifted so the load generator's
 * single address is not throttled, a fresh secret and admin key per run.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FEED_PAYLOAD_TYPE, FEED_SSRC } from './feed.ts';
import { freeTcpPort, freeUdpPair, pinToCore, waitForOutput, type ProcessSet } from './processes.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface VigilServer {
  /** Base URL (http://127.0.0.1:port). */
  url: string;
  /** HS256 viewer-token secret of this run (`auth.secret`). */
  secret: string;
  /** The first camera's id and RTP port (RTCP: port + 1). */
  camera: string;
  rtpPort: number;
  /** Every camera: id and RTP port. */
  cameras: { id: string; rtpPort: number }[];
  /** Admin API credential (`admin.apiKey`) of this run. */
  adminKey: string;
  /** The Node.js process (signaling). */
  pid: number;
  /** The mediasoup worker process. */
  workerPid: number;
}

export interface VigilServerOptions {
  /** Pin the mediasoup worker to this core. */
  workerCore?: number;
  /** Pin the Node.js process (and the worker until re-pinned) to this core. */
  nodeCore?: number;
  /** rtp-push cameras (default 1), ids `loadtest-cam`, `loadtest-cam-2`, ... */
  cameras?: number;
  /** The mediasoup-worker binary to run (default: `$MEDIASOUP_WORKER_BIN`, the one the set-up built). */
  workerBin?: string;
  /** Address viewers reach Vigil on: HTTP/WebSocket and WebRTC (default 127.0.0.1; cameras always push to 127.0.0.1). */
  viewerAddress?: string;
}

/**
 * Starts Vigil and waits for `vigil started` and its worker's pid.
 * @throws Error when it exits or does not start within 30 s
 */
export async function startVigilServer(procs: ProcessSet, opts: VigilServerOptions = {}): Promise<VigilServer> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-loadtest-'));
  const secret = randomBytes(24).toString('hex');
  const adminKey = randomBytes(24).toString('hex');
  const cameras: { id: string; rtpPort: number }[] = [];
  for (let i = 0; i < (opts.cameras ?? 1); i++) cameras.push({ id: i === 0 ? 'loadtest-cam' : `loadtest-cam-${i + 1}`, rtpPort: await freeUdpPair() });
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
    cameras: cameras.map((c) => ({
      id: c.id,
      codec: 'H264',
      h264Profile: 'baseline',
      source: { kind: 'rtp-push', port: c.rtpPort, ssrc: FEED_SSRC, payloadType: FEED_PAYLOAD_TYPE },
    })),
  };
  const configPath = join(dir, 'vigil.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const child = procs.spawn(process.execPath, [join(ROOT, 'server/src/main.ts'), '--config', configPath], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: opts.workerBin ? { ...process.env, MEDIASOUP_WORKER_BIN: opts.workerBin } : process.env,
    ...(opts.nodeCore === undefined ? {} : { core: opts.nodeCore }),
  });
  const worker = waitForOutput(child, /"workerPid":(\d+)/, 30_000);
  const started = await waitForOutput(child, /"msg":"vigil started".*?"url":"([^"]+)"|"url":"([^"]+)".*?"msg":"vigil started"/, 30_000);
  const workerPid = Number((await worker)[1]);
  child.stdout?.resume();
  child.stderr?.resume();
  if (opts.workerCore !== undefined) pinToCore(workerPid, opts.workerCore);
  return { url: started[1] ?? started[2]!, secret, camera: cameras[0]!.id, rtpPort: cameras[0]!.rtpPort, cameras, adminKey, pid: child.pid!, workerPid };
}
